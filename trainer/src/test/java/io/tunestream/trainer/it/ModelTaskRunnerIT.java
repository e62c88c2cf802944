package io.tunestream.trainer.it;

import static io.tunestream.trainer.testing.Fixtures.yes;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tunestream.model.onnx.RuntimeConfig;
import io.tunestream.schemas.AdapterVersion;
import io.tunestream.schemas.DeepPromptShape;
import io.tunestream.schemas.VirtualPromptStyle;
import io.tunestream.schemas.adapters.AdapterCheck;
import io.tunestream.schemas.DatasetSplit;
import io.tunestream.schemas.LabelledExample;
import io.tunestream.schemas.RunStatus;
import io.tunestream.schemas.TaskTemplate;
import io.tunestream.schemas.TrainingRun;
import io.tunestream.schemas.tensor.TensorCodec;
import io.tunestream.trainer.run.ModelTaskRunner;
import io.tunestream.trainer.run.RunOutcome;
import io.tunestream.trainer.state.TaskSnapshot;
import io.tunestream.trainer.testing.Fixtures;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Runs on tiny-gpt2 without Kafka: what a run publishes, and how it fails. An IT (own JVM) because ONNX Runtime's
 * native library can be loaded by one class loader per JVM, and the surefire JVM gives it to the Quarkus test.
 */
class ModelTaskRunnerIT {

    private static ModelTaskRunner runner;
    private static final List<LabelledExample> TRAIN = IntStream.range(0, 6)
            .mapToObj(i -> yes("yes", i, DatasetSplit.TRAIN)).toList();
    private static final List<LabelledExample> VALIDATION = IntStream.range(0, 2)
            .mapToObj(i -> yes("yes", i, DatasetSplit.VALIDATION)).toList();

    @BeforeAll
    static void load() {
        runner = ModelTaskRunner.load(Fixtures.tinyGpt2(), RuntimeConfig.cpu(1), 100, Clock.systemUTC());
    }

    @AfterAll
    static void close() {
        runner.close();
    }

    private static TaskSnapshot snapshot(TaskTemplate template, Optional<AdapterVersion> serving) {
        return new TaskSnapshot("yes", template, TRAIN, VALIDATION, false, serving, Optional.empty(), 8);
    }

    @Test
    void shouldFailKeepingTheLastGoodCheckpointWhenTheLossStopsBeingFinite() {
        TaskTemplate exploding = Fixtures.template("yes").setTuning(Fixtures.smallTuning().setLearningRate(1e30)
                .setWeightDecay(0.0).build()).build();
        RunOutcome outcome = runner.run(snapshot(exploding, Optional.empty()), "run-nan", running -> { });
        assertThat(outcome).isInstanceOf(RunOutcome.Failed.class);
        assertThat(outcome.run().getStatus()).isEqualTo(RunStatus.FAILED);
        assertThat(outcome.run().getMessage()).startsWith("task 'yes': non-finite")
                .endsWith("; nothing published, the last good checkpoint stays");
    }

    @Test
    void shouldPublishWhenTheServingTableWasTunedForAnotherModel() {
        TaskTemplate template = Fixtures.template("yes").build();
        List<TrainingRun> progress = new ArrayList<>();
        RunOutcome first = runner.run(snapshot(template, Optional.empty()), "run-1", progress::add);
        assertThat(first).isInstanceOf(RunOutcome.Published.class);
        assertThat(progress).extracting(TrainingRun::getStatus).containsOnly(RunStatus.RUNNING);
        assertThat(progress).extracting(TrainingRun::getEpoch).containsExactly(1, 2, 3);
        AdapterVersion foreign = AdapterVersion.newBuilder(((RunOutcome.Published) first).adapter())
                .setModelFingerprint("another-model").build();

        RunOutcome second = runner.run(snapshot(template, Optional.of(foreign)), "run-2", running -> { });
        assertThat(second).isInstanceOf(RunOutcome.Published.class);
        assertThat(((RunOutcome.Published) second).adapter().getVersion()).isEqualTo(2);
        assertThat(second.run().getServingValidationLoss()).isNull();
        assertThat(second.run().getMessage()).startsWith("published v2: validation loss ")
                .endsWith(", no comparable serving version");
    }

    @Test
    void shouldFailNamingTheTaskWhenTheTemplateIsInvalid() {
        TaskTemplate broken = Fixtures.template("yes").setVirtualTokenSplits(List.of(3)).build();
        RunOutcome outcome = runner.run(snapshot(broken, Optional.empty()), "run-bad", running -> { });
        assertThat(outcome.run().getStatus()).isEqualTo(RunStatus.FAILED);
        assertThat(outcome.run().getMessage())
                .isEqualTo("task 'yes': virtual_token_splits [3] sum to 3, not total_virtual_tokens 4");
    }

    @Test
    void shouldTrainAnAddBosTemplateOnSequencesStartingWithTheBos() {
        // the same seed and examples give the same run; add_bos (tiny-gpt2's bos_token_id 0 first) changes the loss
        var plain = (RunOutcome.Published) runner.run(snapshot(Fixtures.template("yes").build(), Optional.empty()),
                "run-plain-a", running -> { });
        var plainAgain = (RunOutcome.Published) runner.run(snapshot(Fixtures.template("yes").build(), Optional.empty()),
                "run-plain-b", running -> { });
        var bos = (RunOutcome.Published) runner.run(snapshot(Fixtures.template("yes").setAddBos(true).build(),
                Optional.empty()), "run-bos", running -> { });

        assertThat(plainAgain.adapter().getValidationLoss()).isEqualTo(plain.adapter().getValidationLoss());
        assertThat(bos.adapter().getValidationLoss()).isNotEqualTo(plain.adapter().getValidationLoss());
        assertThat(bos.run().getTrainingExamples()).isEqualTo(plain.run().getTrainingExamples());
    }

    @Test
    void shouldFailNamingTheTaskWhenAnAddBosTemplateMeetsAModelWithoutBos(@org.junit.jupiter.api.io.TempDir
                                                                           java.nio.file.Path dir)
            throws java.io.IOException {
        // tiny-gpt2 with bos_token_id taken out of its config.json: no fixture lacks one
        java.nio.file.Path source = Fixtures.tinyGpt2();
        var config = (com.fasterxml.jackson.databind.node.ObjectNode) new com.fasterxml.jackson.databind.ObjectMapper()
                .readTree(source.resolve("config.json").toFile());
        assertThat(config.remove("bos_token_id")).isNotNull();
        java.nio.file.Files.writeString(dir.resolve("config.json"), config.toString());
        for (String file : List.of("model.onnx", "tokenizer.json")) {
            java.nio.file.Files.createSymbolicLink(dir.resolve(file), source.resolve(file).toAbsolutePath());
        }
        try (ModelTaskRunner noBos = ModelTaskRunner.load(dir, RuntimeConfig.cpu(1), 100, Clock.systemUTC())) {
            RunOutcome outcome = noBos.run(snapshot(Fixtures.template("yes").setAddBos(true).build(), Optional.empty()),
                    "run-no-bos", running -> { });

            assertThat(outcome).isInstanceOf(RunOutcome.Failed.class);
            assertThat(outcome.run().getMessage()).isEqualTo("task 'yes': add_bos is set but the model has no BOS "
                    + "token (no bos_token_id in its config.json or generation_config.json)");
        }
    }

    /** tiny-gpt2's decoder: 2 layers x 4 kv heads x head size 16, a deep-prompt row of 256 floats. */
    private static final AdapterCheck.Decoder TINY_GPT2 = new AdapterCheck.Decoder(2, 4, 16);

    private static TaskTemplate deepTemplate() {
        return Fixtures.template("yes").setTuning(Fixtures.smallTuning()
                .setVirtualPromptStyle(VirtualPromptStyle.PREFIX_TUNING).build()).build();
    }

    @Test
    void shouldPublishADeepPromptAdapterThatTheServingCheckAccepts() {
        RunOutcome outcome = runner.run(snapshot(deepTemplate(), Optional.empty()), "run-deep", running -> { });

        assertThat(outcome).as(outcome.run().getMessage()).isInstanceOf(RunOutcome.Published.class);
        AdapterVersion adapter = ((RunOutcome.Published) outcome).adapter();
        assertThat(adapter.getVirtualPromptStyle()).isEqualTo(VirtualPromptStyle.PREFIX_TUNING);
        assertThat(adapter.getDeepPrompt()).isEqualTo(new DeepPromptShape(2, 4, 16));
        assertThat(adapter.getHiddenSize()).isEqualTo(64);
        assertThat(adapter.getTable().getShape()).containsExactly(4, 256);
        // serving's check (the shared rule) with tiny-gpt2's decoder accepts it; without one it is refused
        assertThat(new AdapterCheck(adapter.getModelFingerprint(), 64, TINY_GPT2).refusal(adapter)).isEmpty();
        assertThat(new AdapterCheck(adapter.getModelFingerprint(), 64).refusal(adapter))
                .map(AdapterCheck.Refusal::reason).hasValue("deep_prompt_shape");
        assertThat(new AdapterCheck(adapter.getModelFingerprint(), 64, new AdapterCheck.Decoder(3, 4, 16))
                .refusal(adapter)).map(AdapterCheck.Refusal::reason).hasValue("deep_prompt_shape");
        assertThat(((RunOutcome.Published) outcome).checkpoint().getVirtualPromptStyle())
                .isEqualTo(VirtualPromptStyle.PREFIX_TUNING);
    }

    @Test
    void shouldResumeADeepPromptFromItsCheckpointAndCompareWithTheServingDeepPrompt() {
        var first = (RunOutcome.Published) runner.run(snapshot(deepTemplate(), Optional.empty()), "run-deep-1",
                running -> { });

        RunOutcome second = runner.run(new TaskSnapshot("yes", deepTemplate(), TRAIN, VALIDATION, false,
                Optional.of(first.adapter()), Optional.of(first.checkpoint()), 8), "run-deep-2", running -> { });

        assertThat(second.run().getWarmStartVersion()).isEqualTo(1);
        // the serving deep prompt's loss under the same objective: it is the first run's published loss
        assertThat(second.run().getServingValidationLoss()).isNotNull()
                .isCloseTo(first.adapter().getValidationLoss(), org.assertj.core.data.Offset.offset(1e-6));
    }

    @Test
    void shouldNotCompareADeepPromptWithAServingVirtualTokenTable() {
        var table = (RunOutcome.Published) runner.run(snapshot(Fixtures.template("yes").build(), Optional.empty()),
                "run-table", running -> { });

        RunOutcome deep = runner.run(new TaskSnapshot("yes", deepTemplate(), TRAIN, VALIDATION, false,
                Optional.of(table.adapter()), Optional.of(table.checkpoint()), 8), "run-deep-after-table",
                running -> { });

        assertThat(deep).isInstanceOf(RunOutcome.Published.class);
        assertThat(deep.run().getServingValidationLoss()).isNull();
        assertThat(deep.run().getWarmStartVersion()).isNull();
        assertThat(((RunOutcome.Published) deep).adapter().getDeepPrompt()).isNotNull();
    }

    /**
     * init TEXT: the prefix starts as the keys and values tiny-gpt2 caches for the init text run alone. Expected
     * values from PyTorch ({@code models/tiny-gpt2/deep-prompt-reference.json}, {@code tools/references}): its
     * 'prefix' is the keys/values of 'prefix_source_ids' at positions 0.., which are the ids of
     * "set an alarm for se"; the first 4 positions (the template's virtual tokens) depend on those 4 tokens only.
     * A learning rate of 1e-12 leaves the start as it is.
     */
    @Test
    void shouldStartADeepPromptAsTheKeysAndValuesOfTheInitText() throws java.io.IOException {
        JsonNode reference = new ObjectMapper().readTree(Fixtures.tinyGpt2().resolve("deep-prompt-reference.json").toFile());
        try (var tokenizer = io.tunestream.model.tokenize.HuggingFaceTextTokenizer.load(Fixtures.tinyGpt2())) {
            assertThat(tokenizer.encode("set an alarm for se")).containsExactly(
                    new ObjectMapper().convertValue(reference.get("prefix_source_ids"), int[].class));
        }
        TaskTemplate textInit = Fixtures.template("yes").setTuning(Fixtures.smallTuning()
                .setVirtualPromptStyle(VirtualPromptStyle.PREFIX_TUNING).setInit(io.tunestream.schemas.PromptInit.TEXT)
                .setInitText("set an alarm for se").setLearningRate(1e-12).setWeightDecay(0.0).setMaxEpochs(1).build())
                .build();

        RunOutcome outcome = runner.run(snapshot(textInit, Optional.empty()), "run-deep-text", running -> { });

        assertThat(outcome).as(outcome.run().getMessage()).isInstanceOf(RunOutcome.Published.class);
        float[] table = TensorCodec.decode(((RunOutcome.Published) outcome).adapter().getTable());
        assertThat(table).hasSize(4 * 256);
        for (int i = 0; i < table.length; i++) {
            double expected = reference.get("prefix").get(i).asDouble();
            assertThat((double) table[i]).as("prefix element %d", i)
                    .isCloseTo(expected, org.assertj.core.data.Offset.offset(1e-4 * Math.max(1, Math.abs(expected))));
        }
    }

    /**
     * prefix_projection: the prefix is trained through an MLP and published folded, as the plain table the MLP
     * outputs; the checkpoint keeps the MLP (recorded as such) and the next run warm-starts from it. The expected
     * table is the checkpointed MLP's forward written out here: relu(x W0 + b0) W1 + b1 ([in, out] weights).
     */
    @Test
    void shouldPublishThePrefixProjectionsOutputAsAPlainTableAndWarmStartTheMlp() {
        TaskTemplate projected = Fixtures.template("yes").setTuning(Fixtures.smallTuning()
                .setVirtualPromptStyle(VirtualPromptStyle.PREFIX_TUNING).setPrefixProjection(true).setEncoderHidden(16)
                .setEncoderLayers(2).build()).build();

        var first = (RunOutcome.Published) runner.run(snapshot(projected, Optional.empty()), "run-deep-mlp",
                running -> { });

        assertThat(first.checkpoint().getEncoderType()).isEqualTo(io.tunestream.schemas.PromptEncoderType.MLP);
        java.util.Map<String, float[]> p = new java.util.HashMap<>();
        first.checkpoint().getParameters().forEach(t -> p.put(t.getName(), TensorCodec.decode(t)));
        assertThat(p.keySet()).containsExactlyInAnyOrder("input_embedding", "layers.0.weight", "layers.0.bias",
                "layers.1.weight", "layers.1.bias");
        double[] expected = new double[4 * 256];
        for (int r = 0; r < 4; r++) {
            double[] h = new double[16];
            for (int j = 0; j < 16; j++) {
                double a = p.get("layers.0.bias")[j];
                for (int k = 0; k < 256; k++) {
                    a += p.get("input_embedding")[r * 256 + k] * p.get("layers.0.weight")[k * 16 + j];
                }
                h[j] = Math.max(0, a);
            }
            for (int c = 0; c < 256; c++) {
                double y = p.get("layers.1.bias")[c];
                for (int j = 0; j < 16; j++) {
                    y += h[j] * p.get("layers.1.weight")[j * 256 + c];
                }
                expected[r * 256 + c] = y;
            }
        }
        AdapterVersion adapter = first.adapter();
        assertThat(adapter.getTable().getShape()).containsExactly(4, 256);
        assertThat(adapter.getDeepPrompt()).isEqualTo(new DeepPromptShape(2, 4, 16));
        assertThat(new AdapterCheck(adapter.getModelFingerprint(), 64, TINY_GPT2).refusal(adapter)).isEmpty();
        float[] table = TensorCodec.decode(adapter.getTable());
        for (int i = 0; i < table.length; i++) {
            assertThat((double) table[i]).as("prefix element %d", i)
                    .isCloseTo(expected[i], org.assertj.core.data.Offset.offset(1e-5 * Math.max(1, Math.abs(expected[i]))));
        }

        RunOutcome again = runner.run(new TaskSnapshot("yes", projected, TRAIN, VALIDATION, false,
                Optional.of(adapter), Optional.of(first.checkpoint()), 8), "run-deep-mlp-2", running -> { });
        RunOutcome plain = runner.run(new TaskSnapshot("yes", deepTemplate(), TRAIN, VALIDATION, false,
                Optional.of(adapter), Optional.of(first.checkpoint()), 8), "run-deep-plain", running -> { });

        assertThat(again.run().getWarmStartVersion()).isEqualTo(1);
        // the published deep prompt is comparable with a plain prefix: same objective, same shape
        assertThat(plain.run().getWarmStartVersion()).isNull();
        assertThat(plain.run().getServingValidationLoss()).isNotNull();
    }
}

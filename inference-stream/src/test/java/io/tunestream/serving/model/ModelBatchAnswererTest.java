package io.tunestream.serving.model;

import static org.assertj.core.api.Assertions.assertThat;

import io.tunestream.model.generate.GenerationRequest;
import io.tunestream.model.generate.Generator;
import io.tunestream.model.prompt.DeepPromptTable;
import io.tunestream.model.prompt.TaskTemplate;
import io.tunestream.schemas.adapters.AdapterCheck;
import io.tunestream.model.prompt.VirtualTokenTable;
import io.tunestream.model.onnx.RuntimeConfig;
import io.tunestream.schemas.AdapterVersion;
import io.tunestream.schemas.ErrorKind;
import io.tunestream.schemas.GenerationOptions;
import io.tunestream.schemas.InferenceRequest;
import io.tunestream.serving.batch.BatchItem;
import io.tunestream.serving.batch.BatchOutcome;
import io.tunestream.serving.testing.Fixtures;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class ModelBatchAnswererTest {

    private static ModelBatchAnswerer answerer;

    @BeforeAll
    static void load() {
        answerer = ModelBatchAnswerer.load(tinyGpt2(), RuntimeConfig.cpu(1));
    }

    @AfterAll
    static void close() {
        answerer.close();
    }

    static Path tinyGpt2() {
        return Path.of(System.getProperty("tunestream.home", "../")).resolve("models/tiny-gpt2");
    }

    private static AdapterVersion adapter(int version) {
        return Fixtures.adapter("squad", version, answerer.model().fingerprint(), answerer.model().hiddenSize(), 4);
    }

    private static BatchItem squad(String id, Optional<AdapterVersion> adapter) {
        return new BatchItem(Fixtures.squadRequest(id, "squad"), Fixtures.squad("squad", 4), adapter);
    }

    @Test
    void shouldDescribeTheServedModel() {
        assertThat(answerer.model().hiddenSize()).isEqualTo(64);
        assertThat(answerer.model().maxPositions()).isEqualTo(256);
        assertThat(answerer.model().fingerprint()).hasSize(64);
    }

    @Test
    void shouldAnswerEachRowOfAMixedBatchAsTheGeneratorAnswersItAlone() {
        var withV1 = squad("a", Optional.of(adapter(1)));
        var withV2 = squad("b", Optional.of(adapter(2)));
        var base = new BatchItem(Fixtures.assistantRequest("c", "assistant"), Fixtures.assistant("assistant", 4),
                Optional.empty());

        List<BatchOutcome> outcomes = answerer.answer(List.of(withV1, withV2, base));

        assertThat(outcomes).hasSize(3).allSatisfy(o -> assertThat(o).isInstanceOf(BatchOutcome.Generated.class));
        for (int i = 0; i < 3; i++) {
            var item = List.of(withV1, withV2, base).get(i);
            var alone = (BatchOutcome.Generated) answerer.answer(List.of(item)).get(0);
            var batched = (BatchOutcome.Generated) outcomes.get(i);
            assertThat(batched.text()).as("row %d", i).isEqualTo(alone.text());
            assertThat(batched.completionTokens()).isEqualTo(alone.completionTokens());
            assertThat(batched.completionTokens()).isBetween(1, 8);
        }
        var v1 = (BatchOutcome.Generated) outcomes.get(0);
        var baseOutcome = (BatchOutcome.Generated) outcomes.get(2);
        // squad prompt with 4 virtual tokens is longer than the plain assistant prompt
        assertThat(v1.promptTokens()).isGreaterThan(baseOutcome.promptTokens());
    }

    @Test
    void shouldMatchTheModelRuntimeCalledDirectly() {
        var item = squad("a", Optional.of(adapter(1)));
        // the same request written for the model runtime by hand, so that a mistake in mapping the
        // template, the adapter's table or the options shows as a difference
        float[][] rows = new float[4][64];
        for (float[] row : rows) {
            java.util.Arrays.fill(row, 0.1f);
        }
        var request = new GenerationRequest("a", new TaskTemplate("squad", Fixtures.SQUAD_TEMPLATE,
                List.of("context", "question", "answer"), false, "answer", "context", List.of(4), 4),
                Map.of("context", "Ada lives in Paris.", "question", "Where does Ada live?"),
                Optional.of(VirtualTokenTable.of("squad", rows, answerer.model().fingerprint())),
                io.tunestream.model.generate.GenerationOptions.greedy(8), false);
        var direct = Generator.withDefaults(answerer.modelForBenchmarks(), answerer.tokenizerForBenchmarks())
                .generate(List.of(request)).get(0);

        var served = (BatchOutcome.Generated) answerer.answer(List.of(item)).get(0);

        assertThat(served.text()).isEqualTo(direct.text());
    }

    @Test
    void shouldFailOnlyTheRowWhosePromptCannotBeTruncated() {
        var template = io.tunestream.schemas.TaskTemplate.newBuilder(Fixtures.assistant("assistant", 4))
                .setMaxSeqLength(24).build();
        InferenceRequest tooLong = InferenceRequest.newBuilder(Fixtures.request("long", "assistant",
                        Map.of("utterance", "set an alarm for noon ".repeat(20))))
                .setOptions(GenerationOptions.newBuilder().setMaxNewTokens(4).build()).build();
        var ok = squad("ok", Optional.of(adapter(1)));

        List<BatchOutcome> outcomes = answerer.answer(List.of(new BatchItem(tooLong, template, Optional.empty()), ok));

        assertThat(outcomes.get(0)).isInstanceOf(BatchOutcome.Failed.class);
        var failed = (BatchOutcome.Failed) outcomes.get(0);
        assertThat(failed.kind()).isEqualTo(ErrorKind.PROMPT_TOO_LONG);
        assertThat(failed.message()).startsWith("request long, task assistant: task 'assistant': prompt is ");
        assertThat(outcomes.get(1)).isInstanceOf(BatchOutcome.Generated.class);
    }

    /** tiny-gpt2: 2 layers x 4 heads (all key/value heads) x head size 16, so a deep-prompt row is 256 wide. */
    private static final int DEEP_WIDTH = 2 * 2 * 4 * 16;

    private static float[] deepValues() {
        float[] values = new float[4 * DEEP_WIDTH];
        for (int i = 0; i < values.length; i++) {
            values[i] = ((i * 37) % 101) / 50f - 1f;
        }
        return values;
    }

    private static AdapterVersion deepAdapter(int version) {
        return AdapterVersion.newBuilder(adapter(version))
                .setTable(io.tunestream.schemas.tensor.TensorCodec.encodeMatrix("deep_prompt", deepValues(), 4,
                        DEEP_WIDTH, io.tunestream.schemas.DType.FLOAT32))
                .setVirtualPromptStyle(io.tunestream.schemas.VirtualPromptStyle.PREFIX_TUNING)
                .setDeepPrompt(new io.tunestream.schemas.DeepPromptShape(2, 4, 16)).build();
    }

    @Test
    void shouldDescribeTheDecoderADeepPromptMustMatch() {
        assertThat(answerer.model().decoder()).hasValue(new AdapterCheck.Decoder(2, 4, 16));
        var check = new AdapterCheck(answerer.model().fingerprint(), answerer.model().hiddenSize(),
                answerer.model().decoder());
        assertThat(check.refusal(deepAdapter(1))).isEmpty();
    }

    @Test
    void shouldAnswerWithADeepPromptAsTheModelRuntimeDoesWithItsPrefix() {
        var item = squad("deep", Optional.of(deepAdapter(1)));
        // the deep prompt written for the model runtime by hand, in PEFT's layout, with no virtual-token table
        var request = new GenerationRequest("deep", new TaskTemplate("squad", Fixtures.SQUAD_TEMPLATE,
                List.of("context", "question", "answer"), false, "answer", "context", List.of(4), 4),
                Map.of("context", "Ada lives in Paris.", "question", "Where does Ada live?"), Optional.empty(),
                io.tunestream.model.generate.GenerationOptions.greedy(8), false,
                Optional.of(DeepPromptTable.ofPeft("squad", 4, answerer.modelForBenchmarks().config(), deepValues(),
                        answerer.model().fingerprint())));
        var direct = Generator.withDefaults(answerer.modelForBenchmarks(), answerer.tokenizerForBenchmarks())
                .generate(List.of(request)).get(0);
        var plain = (BatchOutcome.Generated) answerer.answer(List.of(squad("p", Optional.of(adapter(1))))).get(0);

        var served = (BatchOutcome.Generated) answerer.answer(List.of(item)).get(0);

        assertThat(direct.isError()).as(direct.error()).isFalse();
        assertThat(served.text()).isEqualTo(direct.text());
        assertThat(served.completionTokens()).isEqualTo(direct.completionTokens());
        // the prefix takes the place of the template's 4 virtual-token slots
        assertThat(served.promptTokens()).isEqualTo(plain.promptTokens() - 4);
    }

    @Test
    void shouldAnswerEachRowOfABatchMixingDeepPromptsVirtualTokensAndTheBaseModelAsAlone() {
        var deep = squad("a", Optional.of(deepAdapter(1)));
        var table = squad("b", Optional.of(adapter(2)));
        var base = new BatchItem(Fixtures.assistantRequest("c", "assistant"), Fixtures.assistant("assistant", 4),
                Optional.empty());
        List<BatchItem> items = List.of(deep, table, base);

        List<BatchOutcome> outcomes = answerer.answer(items);

        for (int i = 0; i < items.size(); i++) {
            var alone = (BatchOutcome.Generated) answerer.answer(List.of(items.get(i))).get(0);
            assertThat(outcomes.get(i)).as("row %d", i).isInstanceOf(BatchOutcome.Generated.class);
            var batched = (BatchOutcome.Generated) outcomes.get(i);
            assertThat(batched.text()).as("row %d", i).isEqualTo(alone.text());
            assertThat(batched.completionTokens()).as("row %d", i).isEqualTo(alone.completionTokens());
        }
    }
}

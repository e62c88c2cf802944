package io.tunestream.trainer.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tunestream.model.onnx.RuntimeConfig;
import io.tunestream.schemas.DatasetSplit;
import io.tunestream.schemas.LabelledExample;
import io.tunestream.schemas.PromptEncoderType;
import io.tunestream.schemas.RetrainingSettings;
import io.tunestream.schemas.TaskTemplate;
import io.tunestream.schemas.TuningSettings;
import io.tunestream.trainer.run.ModelTaskRunner;
import io.tunestream.trainer.run.RunOutcome;
import io.tunestream.trainer.state.TaskSnapshot;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * What a warm start buys: on the assistant task, a first run on {@code --examples} examples is
 * published; then {@code --new} examples arrive and the same data is tuned twice with the same
 * settings and step count, once warm-started from the first run's checkpoint (what the trainer
 * does) and once from scratch. Prints each run's wall time and validation loss (on the same
 * validation examples) and the warm/cold ratios, measured in the same process.
 *
 * <pre>
 * ./mvnw -B -q -pl trainer compile exec:java -Dexec.mainClass=io.tunestream.trainer.bench.RetrainingBenchmark \
 *     -Dexec.args="--model models/demo-gpt2 --examples 64 --new 32 --validation 32 --epochs 2"
 * </pre>
 * Paths are relative to the working directory (run from the checkout root).
 */
public final class RetrainingBenchmark {

    private RetrainingBenchmark() {
    }

    public static void main(String[] args) {
        Map<String, String> options = new LinkedHashMap<>();
        for (int i = 0; i + 1 < args.length; i += 2) {
            if (!args[i].startsWith("--")) {
                throw new IllegalArgumentException("expected --name value pairs, got '" + args[i] + "'");
            }
            options.put(args[i].substring(2), args[i + 1]);
        }
        Path model = Path.of(options.getOrDefault("model", "models/demo-gpt2"));
        Path data = Path.of(options.getOrDefault("data", "data/assistant"));
        int examples = Integer.parseInt(options.getOrDefault("examples", "64"));
        int fresh = Integer.parseInt(options.getOrDefault("new", "32"));
        int validation = Integer.parseInt(options.getOrDefault("validation", "32"));
        int epochs = Integer.parseInt(options.getOrDefault("epochs", "2"));
        int threads = Integer.parseInt(options.getOrDefault("threads", "2"));

        TaskTemplate template = TaskTemplate.newBuilder()
                .setTask("assistant")
                .setPromptTemplate("<|VIRTUAL_PROMPT_0|> Request: {utterance}\n\nAnswer:{label}")
                .setPromptTemplateFields(List.of("utterance", "label"))
                .setAnswerField("label")
                .setAnswerOnlyLoss(true)
                .setTruncateField("utterance")
                .setVirtualTokenSplits(List.of(10))
                .setTotalVirtualTokens(10)
                .setMaxSeqLength(128)
                .setTuning(TuningSettings.newBuilder().setEncoderType(PromptEncoderType.TPMLP).setEncoderHidden(256)
                        .setLearningRate(1e-2).setMinLearningRate(1e-4).setWarmupSteps(5).setMaxEpochs(epochs)
                        .setMicroBatchSize(8).setGlobalBatchSize(8).setPatience(10).build())
                .setRetraining(RetrainingSettings.newBuilder().setMinImprovement(0.0).build())
                .build();
        List<LabelledExample> train = read(data.resolve("train.jsonl"), examples + fresh, DatasetSplit.TRAIN);
        List<LabelledExample> held = read(data.resolve("validation.jsonl"), validation, DatasetSplit.VALIDATION);

        try (ModelTaskRunner runner = ModelTaskRunner.load(model, RuntimeConfig.cpu(threads), Long.MAX_VALUE,
                Clock.systemUTC())) {
            System.out.printf(Locale.ROOT, "model %s, assistant task, tpmlp encoder, %d epochs per run, %d validation "
                    + "examples, %d threads%n", model, epochs, held.size(), threads);
            Timed first = run(runner, new TaskSnapshot("assistant", template, train.subList(0, examples), held, false,
                    Optional.empty(), Optional.empty(), examples), "first");
            if (!(first.outcome() instanceof RunOutcome.Published published)) {
                throw new IllegalStateException("the first run was not published: " + first.outcome().run().getMessage());
            }
            print("first run, " + examples + " examples, from scratch", first);
            Timed warm = run(runner, new TaskSnapshot("assistant", template, train, held, false,
                    Optional.of(published.adapter()), Optional.of(published.checkpoint()), fresh), "warm");
            Timed cold = run(runner, new TaskSnapshot("assistant", template, train, held, false,
                    Optional.of(published.adapter()), Optional.empty(), fresh), "cold");
            print("retraining, " + train.size() + " examples, warm start", warm);
            print("retraining, " + train.size() + " examples, from scratch", cold);
            System.out.printf(Locale.ROOT, "RESULT warm/cold validation loss %.3f, warm/cold wall time %.2f; warm %s, "
                            + "cold %s against serving %.4f%n",
                    warm.outcome().run().getValidationLoss() / cold.outcome().run().getValidationLoss(),
                    warm.seconds() / cold.seconds(), warm.outcome().run().getStatus(), cold.outcome().run().getStatus(),
                    warm.outcome().run().getServingValidationLoss());
        }
    }

    private record Timed(RunOutcome outcome, double seconds) {
    }

    private static Timed run(ModelTaskRunner runner, TaskSnapshot snapshot, String runId) {
        long start = System.nanoTime();
        RunOutcome outcome = runner.run(snapshot, runId, running -> { });
        double seconds = (System.nanoTime() - start) / 1e9;
        if (outcome instanceof RunOutcome.Failed) {
            throw new IllegalStateException("run " + runId + " failed: " + outcome.run().getMessage());
        }
        return new Timed(outcome, seconds);
    }

    private static void print(String what, Timed t) {
        System.out.printf(Locale.ROOT, "%-45s %6.1f s, %4d steps, validation loss %.4f, %s%n", what, t.seconds(),
                t.outcome().run().getStep(), t.outcome().run().getValidationLoss(), t.outcome().run().getStatus());
    }

    private static List<LabelledExample> read(Path file, int limit, DatasetSplit split) {
        ObjectMapper json = new ObjectMapper();
        List<LabelledExample> examples = new ArrayList<>();
        try {
            for (String line : Files.readAllLines(file)) {
                if (examples.size() == limit) {
                    break;
                }
                if (line.isBlank()) {
                    continue;
                }
                JsonNode node = json.readTree(line);
                Map<String, String> fields = new LinkedHashMap<>();
                for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
                    Map.Entry<String, JsonNode> field = it.next();
                    if (!field.getKey().equals("taskname")) {
                        fields.put(field.getKey(), field.getValue().asText());
                    }
                }
                examples.add(LabelledExample.newBuilder().setExampleId(file + ":" + (examples.size() + 1))
                        .setTask("assistant").setFields(fields).setSplit(split)
                        .setSource(file + ":" + (examples.size() + 1)).build());
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file, e);
        }
        return examples;
    }
}

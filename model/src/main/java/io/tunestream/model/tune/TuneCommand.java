package io.tunestream.model.tune;

import io.tunestream.model.generate.Generator;
import io.tunestream.model.onnx.DecoderModel;
import io.tunestream.model.onnx.DeepPromptTrainingSession;
import io.tunestream.model.onnx.FrozenWeights;
import io.tunestream.model.onnx.ModelConfig;
import io.tunestream.model.onnx.RuntimeConfig;
import io.tunestream.model.onnx.TrainingSession;
import io.tunestream.model.prompt.DeepPromptTable;
import io.tunestream.model.prompt.PromptBuilder;
import io.tunestream.model.prompt.TaskTemplate;
import io.tunestream.model.prompt.VirtualTokenTable;
import io.tunestream.model.tokenize.HuggingFaceTextTokenizer;

import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * The results command: p-tunes tasks of {@code data/} on a model and prints, per task, the greedy exact
 * match on the validation set with the learned table beside the zero-shot exact match (template without
 * virtual tokens) of the same model.
 *
 * <pre>
 * ./mvnw -B -q -pl model exec:java -Dexec.mainClass=io.tunestream.model.tune.TuneCommand \
 *     -Dexec.args="--model models/demo-gpt2 --tasks squad,assistant"
 * </pre>
 * Options ({@code --name value}): model, data, tasks, encoder (embedding|mlp|tpmlp|lstm), virtual-tokens,
 * encoder-hidden, num-layers, dropout, init (normal|vocab|random|text; default normal for p-tuning encoders, vocab for prompt tuning), init-text, epochs, lr, min-lr, warmup,
 * micro-batch, global-batch, patience, min-delta, max-train, max-validation, budget-minutes, threads, seed,
 * out, eval-batch, style (p-tuning|deep), template (a prompt_template replacing the task's, {@code \\n} for a newline, e.g. to
 * measure another format zero-shot), add-bos (true: the template's {@code add_bos}, the model's BOS token first), zero-shot-only (true: measure the zero-shot exact match only). Paths are relative to the working directory. Training stops at the
 * end of the epoch after which the next one would exceed {@code budget-minutes}.
 *
 * <p>{@code --style deep} tunes a deep prompt (prefix tuning, {@link DeepPromptObjective}) of
 * {@code virtual-tokens} positions instead of a soft prompt: the template runs without its virtual-token
 * slots, the prefix starts as the keys and values of {@code init-text} (default {@value #DEEP_INIT_TEXT};
 * {@code --init random}: N(0, init_std)), {@code encoder} defaults to embedding (PEFT's default); {@code mlp}
 * trains it through an MLP from an N(0, 1) input, as the trainer's {@code prefix_projection}.
 */
public final class TuneCommand {

    static final String DEEP_INIT_TEXT = "Read the context, then answer the question with words from the context.";

    private final Map<String, String> options;
    private final Clock clock;

    TuneCommand(Map<String, String> options, Clock clock) {
        this.options = options;
        this.clock = clock;
    }

    public static void main(String[] args) {
        Map<String, String> options = new LinkedHashMap<>();
        for (int i = 0; i < args.length; i++) {
            if (!args[i].startsWith("--") || i + 1 >= args.length) {
                throw new IllegalArgumentException("expected --name value pairs, got '" + args[i] + "'");
            }
            options.put(args[i].substring(2), args[++i]);
        }
        new TuneCommand(options, Clock.systemUTC()).run();
    }

    private String text(String name, String fallback) {
        return options.getOrDefault(name, fallback);
    }

    private int integer(String name, int fallback) {
        return Integer.parseInt(text(name, Integer.toString(fallback)));
    }

    private double real(String name, double fallback) {
        return Double.parseDouble(text(name, Double.toString(fallback)));
    }

    /**
     * The templates of the tasks in {@code data/} as {@code data/templates.yaml} registers them: NeMo's SQuAD
     * template and the assistant's parse template (asserted equal to the file's by {@code TuneCommandTest}).
     */
    static TaskTemplate template(String task, int virtualTokens) {
        return switch (task) {
            case "squad" -> TaskTemplate.squad("squad", virtualTokens);
            case "assistant" -> template(task, "<|VIRTUAL_PROMPT_0|> Utterance: {utterance}\nParse:{label}", virtualTokens);
            default -> throw new IllegalArgumentException("no template for task '" + task + "' (known: squad, assistant)");
        };
    }

    /** {@code prompt} (one {@code <|VIRTUAL_PROMPT_0|>} marker, the answer field last) for a task of {@code data/}. */
    static TaskTemplate template(String task, String prompt, int virtualTokens) {
        List<String> fields = TaskTemplate.FIELD_PLACEHOLDER.matcher(prompt).results().map(m -> m.group(1)).toList();
        String answer = switch (task) {
            case "squad" -> "answer";
            case "assistant" -> "label";
            default -> throw new IllegalArgumentException("no template for task '" + task + "' (known: squad, assistant)");
        };
        String truncate = task.equals("squad") ? "context" : null;
        return new TaskTemplate(task, prompt, fields, true, answer, truncate, List.of(virtualTokens), virtualTokens);
    }

    /** Expected answer, zero-shot and tuned completion of each validation example, tab-separated: what missed and how. */
    private static void writeCompletions(Path file, String answerField, List<Map<String, String>> examples,
                                         ExactMatch zeroShot, ExactMatch tuned) {
        StringBuilder tsv = new StringBuilder("expected\tzero-shot\ttuned\n");
        for (int i = 0; i < examples.size(); i++) {
            tsv.append(escape(examples.get(i).get(answerField))).append('\t')
                    .append(escape(zeroShot.completions().get(i))).append('\t')
                    .append(escape(tuned.completions().get(i))).append('\n');
        }
        try {
            java.nio.file.Files.createDirectories(file.getParent());
            java.nio.file.Files.writeString(file, tsv);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException("cannot write the completions to " + file, e);
        }
    }

    private static String escape(String text) {
        return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n");
    }

    void run() {
        Path modelDir = Path.of(text("model", "models/demo-gpt2"));
        Path dataDir = Path.of(text("data", "data"));
        List<String> tasks = List.of(text("tasks", "squad,assistant").split(","));
        int virtualTokens = integer("virtual-tokens", 10);
        String style = text("style", "p-tuning");
        if (!style.equals("p-tuning") && !style.equals("deep")) {
            throw new IllegalArgumentException("--style must be p-tuning or deep, got '" + style + "'");
        }
        boolean deep = style.equals("deep");
        PromptEncoderConfig encoder = PromptEncoderConfig.defaults(EncoderType.parse(text("encoder",
                        deep ? "embedding" : "tpmlp")), virtualTokens)
                .withEncoderHidden(integer("encoder-hidden", PromptEncoderConfig.DEFAULT_ENCODER_HIDDEN))
                .withNumLayers(integer("num-layers", PromptEncoderConfig.DEFAULT_NUM_LAYERS))
                .withDropout(real("dropout", 0.0));
        if (deep && encoder.type() != EncoderType.EMBEDDING) {
            // as the trainer's prefix_projection (TuningPlan): the MLP starts from an N(0, 1) input
            encoder = encoder.withInit(EmbeddingInit.NORMAL, Optional.empty());
        } else if (deep && !text("init", "text").equalsIgnoreCase("text")) {
            encoder = encoder.withInit(EmbeddingInit.valueOf(options.get("init").toUpperCase(Locale.ROOT)), Optional.empty());
        } else if (deep) {
            // a plain deep prompt starts as the keys and values of a text (the trainer's init text)
            encoder = encoder.withInit(EmbeddingInit.TEXT, Optional.of(text("init-text", DEEP_INIT_TEXT)));
        } else if (options.containsKey("init")) {
            encoder = encoder.withInit(EmbeddingInit.valueOf(options.get("init").toUpperCase(Locale.ROOT)),
                    Optional.ofNullable(options.get("init-text")));
        }
        int epochs = integer("epochs", 3);
        TuningConfig config = new TuningConfig(real("lr", 3e-3), real("min-lr", 1e-4), integer("warmup", 50), epochs,
                integer("micro-batch", 8), integer("global-batch", 8), AdamW.NEMO_DEFAULTS, GradientClipping.NEMO_DEFAULT,
                integer("patience", 10), real("min-delta", 0.001), Long.parseLong(text("seed", "1234")));
        int maxTrain = integer("max-train", Integer.MAX_VALUE);
        int maxValidation = integer("max-validation", Integer.MAX_VALUE);
        Duration budget = Duration.ofSeconds((long) (real("budget-minutes", 20) * 60));
        int threads = integer("threads", 2);
        int evalBatch = integer("eval-batch", 16);
        Path out = Path.of(text("out", "model/target/tune"));

        RuntimeConfig runtime = RuntimeConfig.cpu(threads);
        try (HuggingFaceTextTokenizer tokenizer = HuggingFaceTextTokenizer.load(modelDir);
             DecoderModel model = DecoderModel.load(modelDir, runtime);
             TrainingSession session = deep ? null : TrainingSession.open(modelDir, runtime);
             DeepPromptTrainingSession deepSession = deep ? DeepPromptTrainingSession.open(modelDir, runtime) : null) {
            FrozenWeights weights = deep ? deepSession.weights() : session.weights();
            ModelConfig modelConfig = weights.config();
            int hidden = modelConfig.hiddenSize();
            float[] embeddings = weights.tokenEmbeddings();
            PromptBuilder builder = new PromptBuilder(tokenizer, modelConfig.bosTokenId());
            Generator generator = Generator.withDefaults(model, tokenizer);
            PromptTuner tuner = new PromptTuner();
            System.out.printf(Locale.ROOT, "model %s, %s, encoder %s (encoder_hidden %d), %d virtual tokens, lr %g, "
                            + "batch %d/%d, %d epochs max, budget %s, %d threads%n", modelDir, style, encoder.type().nemoName(),
                    encoder.encoderHidden(), virtualTokens, config.lr(), config.microBatch(), config.globalBatch(), epochs,
                    budget, threads);
            for (String task : tasks) {
                TaskTemplate template = options.containsKey("template")
                        ? template(task, options.get("template").replace("\\n", "\n"), virtualTokens) : template(task, virtualTokens);
                template = template.withAddBos(Boolean.parseBoolean(text("add-bos", "false")));
                builder.check(template);
                // a deep prompt sits in the KV cache: its examples have no virtual slots, and it takes positions
                TaskTemplate examplesTemplate = deep ? template.withoutVirtualTokens() : template;
                int maxTokens = modelConfig.maxPositions() - (deep ? virtualTokens : 0);
                OptionalInt eos = OptionalInt.of(modelConfig.eosTokenId());
                TuningExamples train = TuningExamples.read(dataDir.resolve(task).resolve("train.jsonl"), examplesTemplate,
                        builder, maxTokens, eos).limit(maxTrain);
                TuningExamples validation = TuningExamples.read(dataDir.resolve(task).resolve("validation.jsonl"),
                        examplesTemplate, builder, maxTokens, eos).limit(maxValidation);
                Map<String, Long> skipped = new LinkedHashMap<>();
                train.skipped().forEach((k, v) -> skipped.put("train: " + k, v));
                validation.skipped().forEach((k, v) -> skipped.put("validation: " + k, v));
                int maxNew = validation.prompts().stream().mapToInt(p -> p.answerLength()).max().orElse(8) + 4;

                Instant t0 = clock.instant();
                ExactMatch zeroShot = ExactMatch.evaluate(generator, template, validation.fields(), Optional.empty(), maxNew,
                        evalBatch);
                Duration zeroShotTime = Duration.between(t0, clock.instant());
                System.out.printf(Locale.ROOT, "%s: %d train / %d validation examples, skipped %s; zero-shot exact match "
                                + "%.3f (%d/%d, %.0f s)%n", task, train.prompts().size(), validation.prompts().size(),
                        skipped, zeroShot.score(), zeroShot.correct(), zeroShot.total(), zeroShotTime.toMillis() / 1000.0);
                if (Boolean.parseBoolean(text("zero-shot-only", "false"))) {
                    writeCompletions(out.resolve(task + "-zero-shot.tsv"), template.answerField(), validation.fields(),
                            zeroShot, zeroShot);
                    continue;
                }

                TaskTuning<io.tunestream.model.prompt.Prompt> spec;
                if (deep && encoder.init() != EmbeddingInit.TEXT) {
                    spec = new TaskTuning<>(task, encoder, new float[0], deepSession.rowWidth(), new int[0],
                            train.prompts(), validation.prompts(), skipped,
                            new DeepPromptObjective(deepSession, virtualTokens, template.answerOnlyLoss()));
                } else if (deep) {
                    // the prefix starts as the keys and values of the init text: rows 0.. of this table
                    float[] textKeysAndValues = model.keysAndValues(tokenizer.encode(encoder.initText().orElseThrow()));
                    int rows = textKeysAndValues.length / deepSession.rowWidth();
                    spec = new TaskTuning<>(task, encoder, textKeysAndValues, deepSession.rowWidth(),
                            java.util.stream.IntStream.range(0, rows).toArray(), train.prompts(), validation.prompts(),
                            skipped, new DeepPromptObjective(deepSession, virtualTokens, template.answerOnlyLoss()));
                } else {
                    spec = new TaskTuning<>(task, encoder, embeddings, hidden,
                            encoder.initText().map(tokenizer::encode).orElse(new int[0]), train.prompts(),
                            validation.prompts(), skipped,
                            new DecoderTableObjective(session, virtualTokens, template.answerOnlyLoss()));
                }
                long stepsPerEpoch = config.stepsPerEpoch(train.prompts().size());
                Instant start = clock.instant();
                Instant epochStart = start;
                TaskResult result = tuner.tune(spec, config, stepsPerEpoch);
                Duration longestEpoch = Duration.ZERO;
                while (true) {
                    Instant now = clock.instant();
                    Duration epochTime = Duration.between(epochStart, now);
                    longestEpoch = epochTime.compareTo(longestEpoch) > 0 ? epochTime : longestEpoch;
                    List<EpochResult> done = result.report().epochs();
                    if (!done.isEmpty()) {
                        EpochResult last = done.get(done.size() - 1);
                        System.out.printf(Locale.ROOT, "  %s epoch %d: train loss %.4f, validation loss %.4f, lr %.2e, %.0f s%n",
                                task, last.epoch(), last.trainLoss(), last.validationLoss(), last.learningRate(),
                                epochTime.toMillis() / 1000.0);
                    }
                    if (result.report().stopReason() != StopReason.STEP_BUDGET) {
                        break;
                    }
                    if (Duration.between(start, now).plus(longestEpoch).compareTo(budget) > 0) {
                        System.out.printf(Locale.ROOT, "  %s: stopping, another epoch would exceed the %s budget%n", task, budget);
                        break;
                    }
                    epochStart = now;
                    result = tuner.resume(spec, result.checkpoint(), stepsPerEpoch);
                }
                Duration trainingTime = Duration.between(start, clock.instant());
                CheckpointCodec.write(result.checkpoint(), out.resolve(task + ".ckpt"));

                ExactMatch tuned = deep
                        ? ExactMatch.evaluate(generator, template, validation.fields(), DeepPromptTable.ofPeft(task,
                        virtualTokens, modelConfig, result.table(), model.fingerprint()), maxNew, evalBatch)
                        : ExactMatch.evaluate(generator, template, validation.fields(), Optional.of(new VirtualTokenTable(
                        task, virtualTokens, hidden, result.table(), model.fingerprint())), maxNew, evalBatch);
                writeCompletions(out.resolve(task + "-" + style + "-" + encoder.type().nemoName() + ".tsv"),
                        template.answerField(), validation.fields(), zeroShot, tuned);
                TuningReport report = result.report();
                System.out.printf(Locale.ROOT, "RESULT %s: exact match %.3f (%d/%d) " + (deep ? "deep-prompt" : "p")
                                + "-tuned vs %.3f zero-shot; "
                                + "best epoch %d (validation loss %.4f), %d steps, %.1f min training, stop: %s%s%n", task,
                        tuned.score(), tuned.correct(), tuned.total(), zeroShot.score(), report.bestEpoch(),
                        report.bestValidationLoss(), report.steps(), trainingTime.toMillis() / 60000.0,
                        report.stopReason() == StopReason.STEP_BUDGET
                                ? "time budget after " + report.epochs().size() + " of " + epochs + " epochs"
                                : report.stopReason().toString(),
                        tuned.failures().isEmpty() ? "" : "; generation errors: " + tuned.failures().get(0));
            }
        }
    }
}

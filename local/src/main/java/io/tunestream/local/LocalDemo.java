package io.tunestream.local;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.tunestream.ingest.CliContext;
import io.tunestream.ingest.ExitCodes;
import io.tunestream.ingest.IngestCli;
import io.tunestream.schemas.RunStatus;
import io.tunestream.schemas.Topics;
import io.tunestream.schemas.TrainingRun;
import io.tunestream.schemas.kafka.KafkaClientConfig;
import io.tunestream.schemas.registry.AvroSerdes;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Deque;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.stream.Stream;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code ./tunestream demo}: the tuning loop end to end on the local platform, with the ingest
 * commands a user would type. Held-out SQuAD validation requests are answered zero-shot (the base
 * model), the training examples are streamed, the trainer publishes v1, and the same requests are
 * answered with v1 (pinned); exact match before and after is printed. The platform then keeps
 * running, like {@code ./tunestream local}, for further ingest commands.
 *
 * <p>It starts from an empty data directory every time: an adapter left from an earlier run would
 * make the "before" figure a tuned one.
 */
@Command(name = "tunestream demo",
        description = "Plays the tuning loop on the local platform (zero-shot answers, examples, v1, answers "
                + "with v1) and prints exact match before and after tuning; then keeps running until Ctrl-C.")
public final class LocalDemo implements Callable<Integer> {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String TASK = "squad";

    @Mixin
    LocalTunestream platform = new LocalTunestream();

    @Option(names = "--validation", defaultValue = "100", paramLabel = "N",
            description = "Held-out requests: the first N lines of --validation-file (default: ${DEFAULT-VALUE}).")
    int validation;

    @Option(names = "--validation-file", defaultValue = "data/squad/validation.jsonl", paramLabel = "FILE",
            description = "Held-out requests with their expected answers (default: ${DEFAULT-VALUE}).")
    Path validationFile;

    @Option(names = "--train-file", defaultValue = "data/squad/train.jsonl", paramLabel = "FILE",
            description = "Training examples (default: ${DEFAULT-VALUE}).")
    Path trainFile;

    @Option(names = "--tuning-timeout", defaultValue = "PT30M", paramLabel = "DURATION",
            description = "How long to wait for the trainer to publish v1 (ISO-8601, default: ${DEFAULT-VALUE}).")
    Duration tuningTimeout;

    public static void main(String[] args) {
        // the registry client logs every schema lookup of the ingest commands through java.util.logging
        // at INFO, the whole schema each time, on a logger named by the class's simple name; the demo's
        // output is the scenario. Held here: JUL keeps loggers weakly.
        java.util.logging.Logger schemaLookups = java.util.logging.Logger.getLogger("DefaultSchemaResolver");
        schemaLookups.setLevel(java.util.logging.Level.WARNING);
        int exit = new CommandLine(new LocalDemo()).execute(args);
        java.lang.ref.Reference.reachabilityFence(schemaLookups);
        System.exit(exit);
    }

    /** Mean scores of one answers file written by {@code ingest requests}. */
    record Scores(int lines, double exactMatch, double f1, int errors, int withVersion) {

        static Scores of(Path answers, Integer version) {
            List<JsonNode> lines = new ArrayList<>();
            try (Stream<String> text = Files.lines(answers, StandardCharsets.UTF_8)) {
                for (String line : (Iterable<String>) text::iterator) {
                    lines.add(JSON.readTree(line));
                }
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read " + answers, e);
            }
            double em = lines.stream().mapToDouble(l -> l.path("exact_match").asDouble()).sum();
            double f1 = lines.stream().mapToDouble(l -> l.path("f1").asDouble()).sum();
            int errors = (int) lines.stream().filter(l -> l.has("error")).count();
            int withVersion = (int) lines.stream().filter(l -> version == null ? !l.has("adapter_version")
                    : l.path("adapter_version").asInt(-1) == version).count();
            int n = Math.max(1, lines.size());
            return new Scores(lines.size(), em / n, f1 / n, errors, withVersion);
        }
    }

    @Override
    public Integer call() throws IOException, InterruptedException {
        if (validation < 1) {
            throw new CommandLine.ParameterException(new CommandLine(this), "--validation must be at least 1, was " + validation);
        }
        if (platform.noTrainer) {
            throw new CommandLine.ParameterException(new CommandLine(this), "the demo needs the trainer (--no-trainer given)");
        }
        if (platform.secure) {
            // the ingest commands below are given plain connection options
            throw new CommandLine.ParameterException(new CommandLine(this), "the demo runs on the plain local platform (--secure given)");
        }
        if (platform.dataDir == null) {
            platform.dataDir = Path.of(".tunestream-demo");
            deleteTree(platform.dataDir);
        } else if (Files.isDirectory(platform.dataDir)) {
            try (Stream<Path> entries = Files.list(platform.dataDir)) {
                if (entries.findAny().isPresent()) {
                    throw new CommandLine.ParameterException(new CommandLine(this), "--data-dir " + platform.dataDir
                            + " is not empty: the demo starts from an empty platform (leave --data-dir out to use "
                            + ".tunestream-demo, emptied at each start)");
                }
            }
        }
        Path work = platform.dataDirectory().resolve("demo");
        Files.createDirectories(work);
        Path heldOut = work.resolve("held-out.jsonl");
        Path heldOutV1 = work.resolve("held-out-v1.jsonl");
        int held = writeHeldOut(heldOut, heldOutV1);

        long startedAt = System.nanoTime();
        Deque<AutoCloseable> started = new ArrayDeque<>();
        CountDownLatch stop = platform.stopOnExit(started);
        step(1, "starting the local platform (broker, registry, serving, trainer) and registering the templates");
        LocalTunestream.Running running = platform.start(started);
        String[] connection = {"--bootstrap-servers", running.endpoints().bootstrapServers(),
                "--registry-url", running.endpoints().registryUrl()};
        KafkaClientConfig kafka = running.principals().role(io.tunestream.schemas.AccessTable.Role.INGEST);
        System.out.println("  templates: " + running.templates().stream().map(t -> t.getTask()).toList());

        step(2, "zero-shot: " + held + " held-out " + TASK + " validation requests answered by the base model");
        Path before = work.resolve("answers-zero-shot.jsonl");
        ingest("requests", heldOut, "--output", before, connection);
        Scores zeroShot = Scores.of(before, null);

        step(3, "streaming the training examples of " + trainFile);
        // the run started by these examples is the one that publishes v1
        try (RunFollower runs = new RunFollower(kafka)) {
            ingest("examples", trainFile, null, null, connection);

            step(4, "the trainer tunes " + TASK + " (the prompt style data/templates.yaml sets; publishes v1 if it beats the base model)");
            TrainingRun run = runs.awaitEnd(TASK, tuningTimeout);
            if (run == null || run.getStatus() != RunStatus.PUBLISHED) {
                System.out.println(run == null
                        ? "  no run of " + TASK + " ended within " + tuningTimeout + " (--tuning-timeout)"
                        : "  run " + run.getRunId() + " ended " + run.getStatus() + ": " + run.getMessage());
                System.out.printf(Locale.ROOT, "%nexact match zero-shot %.3f over %d held-out requests; "
                        + "no tuned version to compare.%n", zeroShot.exactMatch(), zeroShot.lines());
                platform.printBanner(running);
                stop.await();
                return ExitCodes.FAILED;
            }
            // the run starts as soon as the first transaction of examples is in: v1 may be tuned on part of them
            System.out.printf(Locale.ROOT, "  v%d published by run %s: %d training / %d validation examples, "
                            + "validation loss %.4f%n", run.getPublishedVersion(), run.getRunId(),
                    run.getTrainingExamples(), run.getValidationExamples(), run.getValidationLoss());
        }

        step(5, "the same " + held + " requests answered with v1 (pinned: adapter_version 1)");
        awaitServingHasV1(heldOutV1, work, connection);
        Path after = work.resolve("answers-v1.jsonl");
        ingest("requests", heldOutV1, "--output", after, connection);
        Scores tuned = Scores.of(after, 1);

        System.out.printf(Locale.ROOT, """

                %s exact match on %d held-out requests (%s)
                  before tuning (zero-shot, base model)  %.3f   F1 %.3f   errors %d
                  after tuning  (adapter v1)             %.3f   F1 %.3f   errors %d   answered by v1: %d
                answers: %s, %s
                the demo took %d s
                """, TASK, held, validationFile, zeroShot.exactMatch(), zeroShot.f1(), zeroShot.errors(),
                tuned.exactMatch(), tuned.f1(), tuned.errors(), tuned.withVersion(), before, after,
                Duration.ofNanos(System.nanoTime() - startedAt).toSeconds());
        platform.printBanner(running);
        stop.await();
        return 0;
    }

    private static void step(int n, String what) {
        System.out.printf("%n[%d/5] %s%n", n, what);
        System.out.flush();
    }

    /** Runs one ingest command as a user would type it; a failed command stops the demo. */
    private static void ingest(String command, Path input, String option, Path value, String[] connection) {
        List<String> args = new ArrayList<>(List.of(command, input.toString()));
        if (option != null) {
            args.addAll(List.of(option, value.toString()));
        }
        args.addAll(List.of(connection));
        int exit = IngestCli.commandLine(CliContext.system()).execute(args.toArray(String[]::new));
        System.out.flush();
        if (exit != ExitCodes.OK) {
            throw new IllegalStateException("ingest " + String.join(" ", args) + " exited with " + exit);
        }
    }

    /**
     * Serving reads adapters from their topic on its own: a request pinned to v1 that runs before v1
     * reached serving is answered NO_ADAPTER. One pinned request, repeated (a bounded number of
     * times), shows when v1 is there.
     */
    private static void awaitServingHasV1(Path heldOutV1, Path work, String[] connection) throws IOException {
        Path probe = work.resolve("probe.jsonl");
        Path probeAnswer = work.resolve("probe-answer.jsonl");
        try (Stream<String> lines = Files.lines(heldOutV1, StandardCharsets.UTF_8)) {
            Files.writeString(probe, lines.findFirst().orElseThrow() + "\n", StandardCharsets.UTF_8);
        }
        PrintWriter quiet = new PrintWriter(Writer.nullWriter());
        CliContext silent = new CliContext(quiet, quiet, Clock.systemUTC());
        List<String> args = new ArrayList<>(List.of("requests", probe.toString(), "--output", probeAnswer.toString(),
                "--timeout", "PT1M"));
        args.addAll(List.of(connection));
        for (int attempt = 1; attempt <= 30; attempt++) {
            IngestCli.commandLine(silent).execute(args.toArray(String[]::new));
            if (Files.exists(probeAnswer) && Scores.of(probeAnswer, 1).withVersion() == 1
                    && Scores.of(probeAnswer, 1).errors() == 0) {
                return;
            }
        }
        throw new IllegalStateException("serving did not answer with v1 after 30 probes (" + probeAnswer + ")");
    }

    /** The first N held-out lines, and the same lines pinned to adapter version 1. */
    private int writeHeldOut(Path heldOut, Path heldOutV1) throws IOException {
        if (!Files.isRegularFile(validationFile)) {
            throw new CommandLine.ParameterException(new CommandLine(this), "--validation-file " + validationFile + " is not a file");
        }
        if (!Files.isRegularFile(trainFile)) {
            throw new CommandLine.ParameterException(new CommandLine(this), "--train-file " + trainFile + " is not a file");
        }
        List<String> lines;
        try (Stream<String> text = Files.lines(validationFile, StandardCharsets.UTF_8)) {
            lines = text.filter(l -> !l.isBlank()).limit(validation).toList();
        }
        List<String> pinned = new ArrayList<>();
        for (String line : lines) {
            ObjectNode json = (ObjectNode) JSON.readTree(line);
            json.put("adapter_version", 1);
            pinned.add(json.toString());
        }
        Files.write(heldOut, lines, StandardCharsets.UTF_8);
        Files.write(heldOutV1, pinned, StandardCharsets.UTF_8);
        return lines.size();
    }

    private static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> paths = Files.walk(dir)) {
            for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }

    /**
     * Follows {@code training-runs} from its end (committed records only) and shows the current run on
     * a progress bar: its step, epoch and losses as the trainer reports them.
     */
    private static final class RunFollower implements AutoCloseable {

        private final KafkaConsumer<String, TrainingRun> consumer;

        RunFollower(KafkaClientConfig kafka) {
            consumer = new KafkaConsumer<>(kafka.consumerProperties("tunestream-demo-runs", null),
                    new StringDeserializer(), AvroSerdes.deserializer(TrainingRun.class, kafka.registry()));
            String topic = Topics.TRAINING_RUNS.name();
            List<TopicPartition> partitions = consumer.partitionsFor(topic, Duration.ofSeconds(30)).stream()
                    .map(p -> new TopicPartition(topic, p.partition())).toList();
            consumer.assign(partitions);
            consumer.seekToEnd(partitions);
            partitions.forEach(p -> consumer.position(p, Duration.ofSeconds(30)));
        }

        /** The first run of {@code task} to end (published, not published or failed), or null at the timeout. */
        TrainingRun awaitEnd(String task, Duration timeout) {
            long deadline = System.nanoTime() + timeout.toNanos();
            try (ProgressBar bar = new ProgressBarBuilder().setTaskName("tuning " + task).setInitialMax(-1)
                    .setStyle(ProgressBarStyle.ASCII).setUpdateIntervalMillis(500).continuousUpdate()
                    .build()) {
                bar.setExtraMessage(" waiting for the run");
                while (System.nanoTime() < deadline) {
                    for (ConsumerRecord<String, TrainingRun> record : consumer.poll(Duration.ofMillis(500))) {
                        TrainingRun run = record.value();
                        if (run == null || !task.equals(run.getTask())) {
                            continue;
                        }
                        bar.stepTo(run.getStep());
                        // short enough for an 80-column terminal next to the bar
                        bar.setExtraMessage(String.format(Locale.ROOT, " epoch %d, loss %s/%s (train/val)",
                                run.getEpoch(), loss(run.getTrainLoss()), loss(run.getValidationLoss())));
                        if (run.getStatus() == RunStatus.PUBLISHED || run.getStatus() == RunStatus.NOT_PUBLISHED
                                || run.getStatus() == RunStatus.FAILED) {
                            return run;
                        }
                    }
                }
                return null;
            }
        }

        private static String loss(Double loss) {
            return loss == null ? "-" : String.format(Locale.ROOT, "%.4f", loss);
        }

        @Override
        public void close() {
            consumer.close();
        }
    }
}

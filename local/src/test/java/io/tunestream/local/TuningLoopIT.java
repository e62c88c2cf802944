package io.tunestream.local;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.tunestream.devkit.PlatformEndpoints;
import io.tunestream.devkit.junit.LocalPlatformExtension;
import io.tunestream.ingest.CliContext;
import io.tunestream.ingest.ExitCodes;
import io.tunestream.ingest.IngestCli;
import io.tunestream.ingest.feedback.FeedbackIngestion;
import io.tunestream.ingest.requests.AnswerCollector;
import io.tunestream.ingest.template.TemplateCatalog;
import io.tunestream.model.onnx.RuntimeConfig;
import io.tunestream.schemas.AdapterVersion;
import io.tunestream.schemas.Answer;
import io.tunestream.schemas.Feedback;
import io.tunestream.schemas.GenerationOptions;
import io.tunestream.schemas.InferenceRequest;
import io.tunestream.schemas.RunStatus;
import io.tunestream.schemas.Topics;
import io.tunestream.schemas.TrainingRun;
import io.tunestream.schemas.Verdict;
import io.tunestream.schemas.kafka.KafkaClientConfig;
import io.tunestream.schemas.registry.AvroSerdes;
import io.tunestream.schemas.registry.RegistryConfig;
import io.tunestream.serving.ServingApp;
import io.tunestream.serving.ServingConfig;
import io.tunestream.serving.model.ModelBatchAnswerer;
import io.tunestream.trainer.api.TrainerApi;
import io.tunestream.trainer.control.VersionView;
import io.tunestream.trainer.loop.LoopSettings;
import io.tunestream.trainer.loop.RunPhase;
import io.tunestream.trainer.loop.TrainerLoop;
import io.tunestream.trainer.loop.TrainerMetrics;
import io.tunestream.trainer.loop.TrainerTopics;
import io.tunestream.trainer.run.ModelTaskRunner;
import io.tunestream.trainer.run.SigningTaskRunner;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.KafkaStreams;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The tuning loop end to end (issue 13, point 6), on the real broker and registry with serving and the
 * trainer on {@code models/demo-gpt2}, driven with the ingest commands a user types:
 * templates registered → zero-shot answers to held-out requests recorded → training examples streamed →
 * v1 published and served → the same held-out requests answered with v1, with an exact match above
 * zero-shot → the wrong answers corrected as feedback → v2 published or refused by the quality gate, as the
 * numbers of its run say → serving answers with what the gate decided → a rollback to v1 through the
 * trainer's API (v1's table republished as v3, a ROLLBACK run record) served within a second.
 *
 * <p>The task is SQuAD (the examples and held-out requests of {@code data/squad}) with the question before the
 * context and no cue words: zero-shot the base model takes the prompt for a story and writes on (exact match
 * 0), and v1's virtual tokens must teach it to answer (0.11 with these settings), so a table that does not reach
 * serving intact, or lands in the wrong slots, fails at once. With the shipped squad template the base model
 * already answers: zero-shot 0.470 against 0.495 for v1 on 200 held-out requests with 400 examples, a
 * margin of 5 answers, too thin to check a pipeline with.
 *
 * <p>Deterministic: the training examples arrive in one transaction (the template's {@code minNewExamples} is
 * their count, so v1 is tuned on all of them), the trainer runs on one ONNX Runtime thread with the
 * template's seed, the held-out split depends on example ids only, and serving answers greedily. The
 * exact-match margin is printed, with the losses the gate compared.
 *
 * <p>Uses the catalogue's topic names (the ingest commands know no prefix): the only test of this JVM's
 * shared platform on them ({@link SecuredPlatformIT} starts a platform of its own).
 */
@ExtendWith(LocalPlatformExtension.class)
class TuningLoopIT {

    private static final ObjectMapper JSON = new ObjectMapper();
    /**
     * The registry client logs every schema lookup of the ingest commands, the whole schema, at INFO through
     * java.util.logging (as {@code ./tunestream demo} quiets it); held here, since JUL keeps loggers weakly.
     */
    private static final java.util.logging.Logger SCHEMA_LOOKUPS = java.util.logging.Logger.getLogger(
            "DefaultSchemaResolver");

    static {
        SCHEMA_LOOKUPS.setLevel(java.util.logging.Level.WARNING);
    }

    private static final Duration TIMEOUT = Duration.ofSeconds(30);
    private static final String TASK = "squad-question-first";
    /** The first lines of data/squad/train.jsonl, streamed in one transaction. */
    private static final int TRAINING_EXAMPLES = 200;
    /** The first lines of data/squad/validation.jsonl, answered zero-shot and with v1. */
    private static final int HELD_OUT = 100;
    /** Corrections trigger v2's run this long after the first of them reaches the trainer. */
    private static final long RETRAINING_DELAY_MILLIS = 3_000;
    private static final double MIN_IMPROVEMENT = 0.0;
    private static final long SEED = 1234;
    /** A run of a few hundred examples takes well under a minute on 2 busy cores; the bound is for a stuck loop. */
    private static final Duration RUN_TIMEOUT = Duration.ofMinutes(3);
    /** How soon serving answers with a version once it is committed ({@code adapters} is read within a second). */
    private static final Duration SERVED_WITHIN = Duration.ofSeconds(1);

    private KafkaClientConfig kafka;
    private String[] connection;
    private Path work;

    private static Path home() {
        return Path.of(System.getProperty("tunestream.home", "..")).toAbsolutePath();
    }

    @Test
    void shouldTuneV1AboveZeroShotFromExamplesThenGateV2OnTheCorrectionsAsItsNumbersSay(PlatformEndpoints platform)
            throws IOException {
        long started = System.nanoTime();
        // kept after the run: the answers files show what each version answered
        work = Files.createTempDirectory(Files.createDirectories(Path.of("target")), "tuning-loop-");
        kafka = new KafkaClientConfig(platform.bootstrapServers(), RegistryConfig.forRegistry(platform.registryUrl()));
        connection = new String[] {"--bootstrap-servers", platform.bootstrapServers(),
                "--registry-url", platform.registryUrl()};
        Path model = home().resolve("models/demo-gpt2");
        LocalSigningKey signingKey = LocalSigningKey.in(work.resolve("keys"));
        Clock clock = Clock.systemUTC();

        ingest("setup");
        registerTemplate();
        List<ObjectNode> heldOut = heldOut();

        try (ModelBatchAnswerer answerer = ModelBatchAnswerer.load(model, RuntimeConfig.cpu(1));
             ServingApp serving = new ServingApp(ServingConfig.fromMap(servingSettings(platform, model, signingKey)),
                     answerer, new PrometheusMeterRegistry(PrometheusConfig.DEFAULT));
             TrainerLoop trainer = new TrainerLoop(kafka, LoopSettings.of("loop-it-trainer", Duration.ofMillis(200)),
                     TrainerTopics.standard(),
                     // one thread: the same table at every run, so the same exact match
                     () -> new SigningTaskRunner(ModelTaskRunner.load(model, RuntimeConfig.cpu(1), 2_000, clock),
                             signingKey.signer()),
                     new TrainerMetrics(new SimpleMeterRegistry()), clock, RunPhase.Listener.NONE).start();
             CommittedRecords<TrainingRun> runs = new CommittedRecords<>(kafka, Topics.TRAINING_RUNS.name(),
                     TrainingRun.class);
             Probe probe = new Probe(kafka, heldOut.get(0))) {
            await("serving running").atMost(Duration.ofSeconds(60))
                    .until(() -> serving.state() == KafkaStreams.State.RUNNING);
            await("trainer ready").atMost(Duration.ofSeconds(60)).until(trainer::isReady);
            step(started, "platform, templates, serving and trainer ready");

            LocalDemo.Scores zeroShot = answer(heldOut, "zero-shot", null);
            assertThat(zeroShot.withVersion()).as("zero-shot answers name no adapter").isEqualTo(HELD_OUT);
            step(started, "zero-shot answers recorded");

            ingest("examples", trainingSlice().toString(), "--batch", Integer.toString(TRAINING_EXAMPLES));
            TrainingRun v1 = awaitRunEnd(runs, 0);
            assertThat(v1.getStatus()).as("v1's run: %s", v1.getMessage()).isEqualTo(RunStatus.PUBLISHED);
            assertThat(v1.getPublishedVersion()).isEqualTo(1);
            assertThat(v1.getTrainingExamples() + v1.getValidationExamples())
                    .as("v1 tuned on every example streamed").isEqualTo(TRAINING_EXAMPLES);
            step(started, "v1 published (" + v1.getMessage() + ")");
            Served v1Served = awaitServed(probe, 1, SERVED_WITHIN);

            LocalDemo.Scores tuned = answer(pinned(heldOut, 1), "v1", 1);
            assertThat(tuned.withVersion()).as("held-out answers with v1").isEqualTo(HELD_OUT);
            System.out.printf(Locale.ROOT, "exact match on %d held-out requests: zero-shot %.3f, v1 %.3f (margin %+d "
                            + "answers); F1 %.3f -> %.3f; v1 served %d ms after its run was read%n", HELD_OUT,
                    zeroShot.exactMatch(), tuned.exactMatch(),
                    Math.round((tuned.exactMatch() - zeroShot.exactMatch()) * HELD_OUT), zeroShot.f1(), tuned.f1(),
                    v1Served.after().toMillis());
            assertThat(tuned.exactMatch()).as("exact match with v1 above zero-shot").isGreaterThan(zeroShot.exactMatch());
            step(started, "held-out requests answered with v1");

            int corrections = correctWrongAnswers(heldOut, work.resolve("answers-v1.jsonl"));
            TrainingRun second = awaitRunEnd(runs, 1);
            gateDecidedAsTheNumbersSay(second, corrections);
            step(started, "v2 " + (second.getStatus() == RunStatus.PUBLISHED ? "published" : "refused by the gate")
                    + " (" + second.getMessage() + ")");
            int afterGate = second.getStatus() == RunStatus.PUBLISHED ? 2 : 1;
            Served gated = awaitServed(probe, afterGate, SERVED_WITHIN);
            System.out.printf(Locale.ROOT, "after the gate serving answers with v%d (%d ms)%n", afterGate,
                    gated.after().toMillis());

            // the API's rollback, as POST /api/tasks/{task}/rollback calls it: v1's table as the next version
            TrainerApi api = new TrainerApi(() -> trainer, (group, topic) -> {
                throw new AssertionError("this replica owns every task: no owner lookup expected");
            }, TIMEOUT);
            if (afterGate == 1) {
                assertThatThrownBy(() -> api.rollback(TASK, 1, "loop test"))
                        .as("v1 still serves after the gate refused v2: nothing to roll back")
                        .hasMessageContaining("serving version already");
            } else {
                VersionView rolledBack = api.rollback(TASK, 1, "loop test");
                assertThat(rolledBack.version()).as("the rollback's version").isEqualTo(3);
                Served back = awaitServed(probe, rolledBack.version(), SERVED_WITHIN);
                assertThat(back.answer().getText()).as("v3 answers as v1 did (v1's table, greedy)")
                        .isEqualTo(v1Served.answer().getText());
                TrainingRun rollback = awaitRunEnd(runs, 2);
                assertThat(rollback.getStatus()).isEqualTo(RunStatus.ROLLBACK);
                assertThat(rollback.getSourceVersion()).isEqualTo(1);
                assertThat(rollback.getPublishedVersion()).isEqualTo(3);
                step(started, "rolled back to v1 as v3, served in " + back.after().toMillis() + " ms");
            }

            assertThat(trainer.failure()).isEmpty();
            assertThat(serving.state()).isEqualTo(KafkaStreams.State.RUNNING);
        }
    }

    private static void step(long started, String what) {
        System.out.printf(Locale.ROOT, "[loop %5.1f s] %s%n", (System.nanoTime() - started) / 1e9, what);
    }

    /** Runs an ingest command as a user would type it; it must succeed. */
    private void ingest(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        List<String> all = new ArrayList<>(List.of(args));
        all.addAll(List.of(connection));
        int exit = IngestCli.commandLine(new CliContext(new PrintWriter(out, true), new PrintWriter(err, true),
                Clock.systemUTC())).execute(all.toArray(String[]::new));
        assertThat(exit).as("ingest %s%nout: %s%nerr: %s", String.join(" ", args), out, err).isEqualTo(ExitCodes.OK);
    }

    /**
     * The task's template, registered with {@code ingest templates} (checked by the template rule first). Tuning as
     * {@code data/templates.yaml}'s squad, with a short warm-up for a run of a few dozen steps; a run once every
     * training example is in, or a few seconds after corrections arrive.
     */
    private void registerTemplate() throws IOException {
        Path file = work.resolve("templates.yaml");
        Files.writeString(file, String.format(Locale.ROOT, """
                task_templates:
                  - taskname: %s
                    prompt_template: "<|VIRTUAL_PROMPT_0|> {question}\\n{context}{answer}"
                    total_virtual_tokens: 10
                    virtual_token_splits: [10]
                    truncate_field: context
                    answer_only_loss: true
                    answer_field: answer
                    max_seq_length: 256
                    allow_base_model: true
                    tuning:
                      virtual_prompt_style: p-tuning
                      encoder_type: tpmlp
                      encoder_hidden: 256
                      learning_rate: 3.0e-3
                      warmup_steps: 10
                      max_epochs: 3
                      seed: %d
                    retraining:
                      min_new_examples: %d
                      max_delay_millis: %d
                      min_improvement: %s
                """, TASK, SEED, TRAINING_EXAMPLES, RETRAINING_DELAY_MILLIS, MIN_IMPROVEMENT), StandardCharsets.UTF_8);
        ingest("templates", file.toString());
    }

    private Map<String, String> servingSettings(PlatformEndpoints platform, Path model, LocalSigningKey key) {
        Map<String, String> settings = new HashMap<>();
        settings.put("bootstrap.servers", platform.bootstrapServers());
        settings.put("registry.url", platform.registryUrl());
        settings.put("model.dir", model.toString());
        settings.put("state.dir", work.resolve("serving").toString());
        settings.put("http.port", "0");
        settings.put("http.bind.address", "127.0.0.1");
        // adapters verified as in production: the trainer signs with the key serving trusts
        settings.put("adapters.trusted.keys", key.trustedKeysSetting());
        return settings;
    }

    /** The first {@link #HELD_OUT} lines of the squad validation set, each with a request id of its own. */
    private static List<ObjectNode> heldOut() throws IOException {
        List<ObjectNode> lines = new ArrayList<>();
        try (Stream<String> text = Files.lines(home().resolve("data/squad/validation.jsonl"), StandardCharsets.UTF_8)) {
            for (String line : (Iterable<String>) text.filter(l -> !l.isBlank()).limit(HELD_OUT)::iterator) {
                lines.add(((ObjectNode) JSON.readTree(line)).put("taskname", TASK));
            }
        }
        assertThat(lines).hasSize(HELD_OUT);
        return lines;
    }

    private static List<ObjectNode> pinned(List<ObjectNode> lines, int version) {
        return lines.stream().map(l -> {
            ObjectNode copy = l.deepCopy();
            copy.put("adapter_version", version);
            return copy;
        }).toList();
    }

    private Path trainingSlice() throws IOException {
        List<String> slice;
        try (Stream<String> all = Files.lines(home().resolve("data/squad/train.jsonl"), StandardCharsets.UTF_8)) {
            slice = all.filter(l -> !l.isBlank()).limit(TRAINING_EXAMPLES).map(l -> {
                try {
                    return ((ObjectNode) JSON.readTree(l)).put("taskname", TASK).toString();
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            }).toList();
        }
        assertThat(slice).hasSize(TRAINING_EXAMPLES);
        return Files.write(work.resolve("train-slice.jsonl"), slice, StandardCharsets.UTF_8);
    }

    /**
     * {@code ingest requests} over {@code lines} (request ids {@code <name>-<n>}), answers in
     * {@code answers-<name>.jsonl}; every line answered without an error.
     */
    private LocalDemo.Scores answer(List<ObjectNode> lines, String name, Integer version) throws IOException {
        List<String> requests = new ArrayList<>();
        for (int i = 0; i < lines.size(); i++) {
            requests.add(lines.get(i).deepCopy().put("request_id", name + "-" + i).toString());
        }
        Path input = Files.write(work.resolve("requests-" + name + ".jsonl"), requests, StandardCharsets.UTF_8);
        Path output = work.resolve("answers-" + name + ".jsonl");
        ingest("requests", input.toString(), "--output", output.toString(), "--timeout", "PT2M");
        LocalDemo.Scores scores = LocalDemo.Scores.of(output, version);
        assertThat(scores.lines()).isEqualTo(lines.size());
        assertThat(scores.errors()).as("answers with an error in %s", output).isZero();
        return scores;
    }

    /** The {@code index}-th run of the task to end (published, not published or failed), in commit order. */
    private static TrainingRun awaitRunEnd(CommittedRecords<TrainingRun> runs, int index) {
        List<TrainingRun> ended = await("run " + (index + 1) + " of " + TASK + " ends").atMost(RUN_TIMEOUT)
                .pollInterval(Duration.ofMillis(200))
                .until(() -> runs.read().stream().filter(r -> r.getTask().equals(TASK) && ended(r)).toList(),
                        list -> list.size() > index);
        return ended.get(index);
    }

    private static boolean ended(TrainingRun run) {
        return run.getStatus() == RunStatus.PUBLISHED || run.getStatus() == RunStatus.NOT_PUBLISHED
                || run.getStatus() == RunStatus.FAILED || run.getStatus() == RunStatus.ROLLBACK;
    }

    /**
     * Each wrong v1 answer corrected with its expected answer and the request's fields, in one transaction
     * (the trainer converts them together, so v2's run covers all of them).
     *
     * @return how many corrections were sent
     */
    private int correctWrongAnswers(List<ObjectNode> heldOut, Path answers) throws IOException {
        List<Feedback> corrections = new ArrayList<>();
        TemplateCatalog templates = TemplateCatalog.fromTopic(kafka, TIMEOUT);
        for (String line : Files.readAllLines(answers, StandardCharsets.UTF_8)) {
            JsonNode answer = JSON.readTree(line);
            if (answer.path("exact_match").asDouble() == 1.0) {
                continue;
            }
            ObjectNode request = heldOut.get(answer.path("line").asInt() - 1);
            Map<String, String> fields = new LinkedHashMap<>();
            fields.put("context", request.path("context").asText());
            fields.put("question", request.path("question").asText());
            FeedbackIngestion.Checked checked = FeedbackIngestion.check(templates, new FeedbackIngestion.Judgement(
                    answer.path("request_id").asText(), TASK, Verdict.CORRECTED, answer.path("expected").asText(),
                    fields, answer.path("answer").asText(), 1, "loop IT"), System.currentTimeMillis());
            assertThat(checked.problem()).as("correction of %s", answer).isNull();
            corrections.add(checked.feedback());
        }
        assertThat(corrections).as("wrong v1 answers to correct").isNotEmpty();
        try (KafkaProducer<String, Feedback> producer = new KafkaProducer<>(kafka.transactionalProducerProperties(
                "loop-it-feedback", "loop-it-feedback"), new StringSerializer(), AvroSerdes.serializer(kafka.registry()))) {
            producer.initTransactions();
            producer.beginTransaction();
            corrections.forEach(feedback -> FeedbackIngestion.send(producer, feedback));
            producer.commitTransaction();
        }
        return corrections.size();
    }

    /**
     * The run after v1 (v1's examples and the corrections, warm-started from v1) ended as its gate rule says:
     * published as v2 exactly when its validation loss beats v1's on the same examples by more than
     * {@code minImprovement}, and {@code adapters} holds v2 exactly then.
     */
    private void gateDecidedAsTheNumbersSay(TrainingRun run, int corrections) {
        assertThat(run.getStatus()).as("second run: %s", run.getMessage()).isIn(RunStatus.PUBLISHED,
                RunStatus.NOT_PUBLISHED);
        assertThat(run.getWarmStartVersion()).as("warm-started from v1").isEqualTo(1);
        assertThat(run.getTrainingExamples() + run.getValidationExamples())
                .as("every example and every correction used").isEqualTo(TRAINING_EXAMPLES + corrections);
        assertThat(run.getValidationLoss()).as("the run's validation loss").isNotNull();
        assertThat(run.getServingValidationLoss()).as("v1's validation loss on the same examples").isNotNull();
        boolean better = run.getValidationLoss() < run.getServingValidationLoss() - MIN_IMPROVEMENT;
        System.out.printf(Locale.ROOT, "gate: %d corrections; validation loss %.6f against v1's %.6f: %s%n", corrections,
                run.getValidationLoss(), run.getServingValidationLoss(), run.getStatus());
        assertThat(run.getStatus() == RunStatus.PUBLISHED).as("published iff the loss beat v1's: %s", run.getMessage())
                .isEqualTo(better);
        List<Integer> versions;
        try (CommittedRecords<AdapterVersion> adapters = new CommittedRecords<>(kafka, Topics.ADAPTERS.name(),
                AdapterVersion.class)) {
            versions = await("adapters read to the gate's outcome").atMost(TIMEOUT)
                    .until(() -> adapters.read().stream().filter(a -> a.getTask().equals(TASK))
                            .map(AdapterVersion::getVersion).toList(), v -> v.size() == (better ? 2 : 1));
        }
        assertThat(versions).isEqualTo(better ? List.of(1, 2) : List.of(1));
        if (better) {
            assertThat(run.getPublishedVersion()).isEqualTo(2);
        }
    }

    /** The first answer that named a version, and how long after the wait began it came. */
    private record Served(Answer answer, Duration after) {
    }

    /**
     * Asks the probe question (no version pinned) until an answer names {@code version}, which must come within
     * {@code within} of this call.
     */
    private static Served awaitServed(Probe probe, int version, Duration within) {
        long from = System.nanoTime();
        Answer answer = await("serving answers with v" + version).atMost(TIMEOUT).pollInterval(Duration.ofMillis(10))
                .pollDelay(Duration.ZERO).until(probe::ask, a -> a != null && Integer.valueOf(version)
                        .equals(a.getAdapterVersion()));
        Duration took = Duration.ofNanos(System.nanoTime() - from);
        assertThat(answer.getError()).as("probe answered with v%d", version).isNull();
        assertThat(took).as("v%d served", version).isLessThanOrEqualTo(within);
        return new Served(answer, took);
    }

    /** One held-out question asked again and again, without a pinned version: the answer names what serving applies. */
    private static final class Probe implements AutoCloseable {

        private final KafkaProducer<String, InferenceRequest> producer;
        private final AnswerCollector answers;
        private final Map<String, String> fields;
        private int sent;

        Probe(KafkaClientConfig kafka, ObjectNode line) {
            producer = new KafkaProducer<>(kafka.producerProperties("loop-it-probe"), new StringSerializer(),
                    AvroSerdes.serializer(kafka.registry()));
            answers = new AnswerCollector(kafka, Clock.systemUTC(), TIMEOUT);
            fields = Map.of("context", line.path("context").asText(), "question", line.path("question").asText());
        }

        /** The answer to one more ask, or null when none came within a few seconds. */
        Answer ask() throws Exception {
            String id = "probe-" + sent++;
            producer.send(new ProducerRecord<>(Topics.REQUESTS.name(), id, InferenceRequest.newBuilder().setRequestId(id)
                    .setTask(TASK).setFields(fields).setOptions(GenerationOptions.newBuilder().setMaxNewTokens(4).build())
                    .setCreatedAtMillis(System.currentTimeMillis()).build())).get(10, TimeUnit.SECONDS);
            return answers.await(Set.of(id), Duration.ofSeconds(5), a -> { }).get(id);
        }

        @Override
        public void close() {
            producer.close();
            answers.close();
        }
    }
}

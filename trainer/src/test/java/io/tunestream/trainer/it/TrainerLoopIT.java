package io.tunestream.trainer.it;

import static io.tunestream.trainer.testing.Fixtures.yes;
import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.tunestream.devkit.PlatformEndpoints;
import io.tunestream.devkit.junit.LocalPlatformExtension;
import io.tunestream.model.onnx.DecoderModel;
import io.tunestream.model.onnx.RuntimeConfig;
import io.tunestream.schemas.AdapterCheckpoint;
import io.tunestream.schemas.AdapterVersion;
import io.tunestream.schemas.DType;
import io.tunestream.schemas.DatasetSplit;
import io.tunestream.schemas.Feedback;
import io.tunestream.schemas.LabelledExample;
import io.tunestream.schemas.PromptEncoderType;
import io.tunestream.schemas.RunStatus;
import io.tunestream.schemas.TaskTemplate;
import io.tunestream.schemas.TrainingRun;
import io.tunestream.schemas.Verdict;
import io.tunestream.schemas.kafka.KafkaClientConfig;
import io.tunestream.schemas.registry.RegistryConfig;
import io.tunestream.trainer.loop.TrainerLoop;
import io.tunestream.trainer.loop.TrainerMetrics;
import io.tunestream.trainer.loop.TrainerTopics;
import io.tunestream.trainer.run.ModelTaskRunner;
import io.tunestream.trainer.run.TemplateHash;
import io.tunestream.trainer.testing.Fixtures;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The trainer core on the real broker and registry with tiny-gpt2: examples → a run → v1 published
 * (adapter, checkpoint and run record in one transaction, seen by read_committed readers); more
 * examples → a warm-started run that is not published when it does not beat v1 by minImprovement,
 * then one that does and becomes v2;
 * feedback corrections → examples; a task without usable examples → FAILED naming the task.
 */
@ExtendWith(LocalPlatformExtension.class)
class TrainerLoopIT {

    private static final Duration RUN_TIMEOUT = Duration.ofSeconds(120);
    private static final AtomicInteger CASES = new AtomicInteger();
    private static String fingerprint;

    private TrainerLoop loop;
    private KafkaProducer<String, SpecificRecord> producer;
    private final SimpleMeterRegistry meters = new SimpleMeterRegistry();

    @BeforeAll
    static void readFingerprint() {
        try (DecoderModel model = DecoderModel.load(Fixtures.tinyGpt2(), RuntimeConfig.cpu(1))) {
            fingerprint = model.fingerprint();
        }
    }

    @AfterEach
    void stop() {
        if (loop != null) {
            loop.close();
        }
        if (producer != null) {
            producer.close();
        }
    }

    private record Case(KafkaClientConfig kafka, TrainerTopics topics) {
    }

    private Case start(PlatformEndpoints platform) {
        int n = CASES.incrementAndGet();
        KafkaClientConfig kafka = new KafkaClientConfig(platform.bootstrapServers(),
                RegistryConfig.forRegistry(platform.registryUrl()));
        TrainerTopics topics = new TrainerTopics("it" + n + "-");
        // the trainer only checks its topics and schemas: setup creates them, as `ingest setup` does
        try (org.apache.kafka.clients.admin.Admin admin = org.apache.kafka.clients.admin.Admin.create(kafka.adminProperties())) {
            new io.tunestream.schemas.TopicsAdmin(admin, io.tunestream.schemas.TopicsAdmin.Layout.catalogue(),
                    Duration.ofSeconds(30)).ensure(topics.specs());
        }
        new io.tunestream.schemas.registry.SchemaRegistration(kafka.registry()).registerAll(topics.specs());
        Clock clock = Clock.systemUTC();
        loop = new TrainerLoop(kafka, "it-trainer-" + n, Duration.ofMillis(200), topics,
                () -> ModelTaskRunner.load(Fixtures.tinyGpt2(), RuntimeConfig.cpu(1), 500, clock),
                new TrainerMetrics(meters), clock).start();
        producer = new KafkaProducer<>(kafka.producerProperties("it-producer-" + n));
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (!loop.isReady()) {
            assertThat(loop.failure()).isEmpty();
            assertThat(System.nanoTime()).as("trainer ready within 60 s").isLessThan(deadline);
            sleep(100);
        }
        return new Case(kafka, topics);
    }

    private void send(String topic, String key, SpecificRecord value) {
        producer.send(new ProducerRecord<>(topic, key, value));
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    private static List<TrainingRun> ofRun(List<TrainingRun> runs, String runId) {
        return runs.stream().filter(r -> r.getRunId().equals(runId)).toList();
    }

    /** The checkpoints of published versions: not the pieces of their states, nor those of runs in progress. */
    private static List<AdapterCheckpoint> publishedHeads(List<AdapterCheckpoint> records) {
        return records.stream().filter(c -> c.getResume() == null
                || (c.getResume().getChunkIndex() == null && !c.getResume().getInProgress())).toList();
    }

    private static boolean ended(List<TrainingRun> runs, int count) {
        return runs.stream().filter(r -> r.getStatus() == RunStatus.PUBLISHED || r.getStatus() == RunStatus.NOT_PUBLISHED
                || r.getStatus() == RunStatus.FAILED).count() >= count;
    }

    @Test
    void shouldPublishV1ThenV2OnlyWhenAWarmStartedRunBeatsTheServingVersion(PlatformEndpoints platform) {
        Case c = start(platform);
        String task = "yes";
        TaskTemplate template = Fixtures.template(task).setRetraining(Fixtures.retraining(6).build()).build();
        send(c.topics().templates(), task, template);
        for (int i = 0; i < 6; i++) {
            send(c.topics().examples(), task, yes(task, i, DatasetSplit.TRAIN));
        }
        send(c.topics().examples(), task, yes(task, 0, DatasetSplit.VALIDATION));
        send(c.topics().examples(), task, yes(task, 1, DatasetSplit.VALIDATION));
        producer.flush();

        try (var adapters = new TopicReader<>(c.kafka(), c.topics().adapters(), AdapterVersion.class);
             var checkpoints = new TopicReader<>(c.kafka(), c.topics().checkpoints(), AdapterCheckpoint.class);
             var runs = new TopicReader<>(c.kafka(), c.topics().runs(), TrainingRun.class)) {
            AdapterVersion v1 = adapters.await(a -> !a.isEmpty(), RUN_TIMEOUT).get(0);
            assertThat(v1.getTask()).isEqualTo(task);
            assertThat(v1.getVersion()).isEqualTo(1);
            assertThat(v1.getModelFingerprint()).isEqualTo(fingerprint);
            assertThat(v1.getHiddenSize()).isEqualTo(64);
            assertThat(v1.getTable().getShape()).containsExactly(4, 64);
            assertThat(v1.getTable().getDtype()).isEqualTo(DType.FLOAT32);
            assertThat(v1.getTable().getData().remaining()).isEqualTo(4 * 64 * 4);
            assertThat(v1.getVirtualTokenSplits()).containsExactly(4);
            assertThat(v1.getTemplateHash()).isEqualTo(TemplateHash.of(template.getPromptTemplate()));
            assertThat(v1.getTrainingExamples()).isEqualTo(6);
            assertThat(v1.getValidationLoss()).isNotNull().isPositive();

            AdapterCheckpoint checkpoint = publishedHeads(checkpoints.await(l -> !publishedHeads(l).isEmpty(),
                    Duration.ofSeconds(10))).get(0);
            assertThat(checkpoint.getVersion()).isEqualTo(1);
            assertThat(checkpoint.getRunId()).isEqualTo(v1.getRunId());
            assertThat(checkpoint.getModelFingerprint()).isEqualTo(fingerprint);
            assertThat(checkpoint.getEncoderType()).isEqualTo(PromptEncoderType.MLP);
            assertThat(checkpoint.getEpoch()).isEqualTo(3);
            assertThat(checkpoint.getParameters()).isNotEmpty();

            List<TrainingRun> first = ofRun(runs.await(r -> ended(r, 1), Duration.ofSeconds(10)), v1.getRunId());
            assertThat(first).extracting(TrainingRun::getStatus).containsExactly(RunStatus.STARTED, RunStatus.RUNNING,
                    RunStatus.RUNNING, RunStatus.RUNNING, RunStatus.PUBLISHED);
            assertThat(first.subList(1, 4)).extracting(TrainingRun::getEpoch).containsExactly(1, 2, 3);
            TrainingRun published = first.get(4);
            assertThat(published.getPublishedVersion()).isEqualTo(1);
            assertThat(published.getWarmStartVersion()).isNull();
            assertThat(published.getValidationLoss()).isEqualTo(v1.getValidationLoss());
            assertThat(published.getServingValidationLoss()).isNull();
            assertThat(published.getTrainingExamples()).isEqualTo(6);
            assertThat(published.getValidationExamples()).isEqualTo(2);

            // a run must beat v1 by more than minImprovement: impossible here, so it is not published
            send(c.topics().templates(), task, TaskTemplate.newBuilder(template)
                    .setRetraining(Fixtures.retraining(3).setMinImprovement(1e9).build()).build());
            producer.flush();
            sleep(500); // the template first, so that the new examples are counted against it
            for (int i = 6; i < 9; i++) {
                send(c.topics().examples(), task, yes(task, i, DatasetSplit.TRAIN));
            }
            producer.flush();
            List<TrainingRun> all = runs.await(r -> ended(r, 2), RUN_TIMEOUT);
            TrainingRun second = all.get(all.size() - 1);
            assertThat(second.getStatus()).isEqualTo(RunStatus.NOT_PUBLISHED);
            assertThat(second.getWarmStartVersion()).isEqualTo(1);
            assertThat(second.getTrainingExamples()).isEqualTo(9);
            assertThat(second.getValidationLoss()).isNotNull();
            assertThat(second.getServingValidationLoss()).isNotNull();
            assertThat(second.getPublishedVersion()).isNull();
            assertThat(second.getMessage()).contains("does not beat the serving").contains("by more than 1.0E9");
            assertThat(adapters.await(a -> true, Duration.ZERO)).extracting(AdapterVersion::getVersion)
                    .containsExactly(1);
            assertThat(meters.get("tunestream.trainer.runs").tags("task", task, "outcome", "not_published")
                    .counter().count()).isEqualTo(1);

            // without the bar, the next warm-started run (CPU runs are deterministic) beats v1 and becomes v2
            send(c.topics().templates(), task, template);
            producer.flush();
            sleep(500);
            for (int i = 9; i < 15; i++) {
                send(c.topics().examples(), task, yes(task, i, DatasetSplit.TRAIN));
            }
            producer.flush();
            AdapterVersion v2 = adapters.await(a -> a.size() == 2, RUN_TIMEOUT).get(1);
            all = runs.await(r -> ended(r, 3), Duration.ofSeconds(10));
            TrainingRun third = all.get(all.size() - 1);
            assertThat(third.getStatus()).isEqualTo(RunStatus.PUBLISHED);
            assertThat(third.getWarmStartVersion()).isEqualTo(1);
            assertThat(third.getPublishedVersion()).isEqualTo(2);
            assertThat(third.getValidationLoss()).isLessThan(third.getServingValidationLoss());
            assertThat(v2.getVersion()).isEqualTo(2);
            assertThat(v2.getRunId()).isEqualTo(third.getRunId());
            assertThat(v2.getValidationLoss()).isEqualTo(third.getValidationLoss());
            assertThat(v2.getTrainingExamples()).isEqualTo(15);
            assertThat(publishedHeads(checkpoints.await(l -> publishedHeads(l).size() == 2, Duration.ofSeconds(10)))
                    .get(1).getVersion()).isEqualTo(2);
        }
    }

    @Test
    void shouldWriteACorrectionAsAnExampleAndTrainNothingOnARejection(PlatformEndpoints platform) {
        Case c = start(platform);
        String task = "qa";
        send(c.topics().templates(), task, Fixtures.template(task).setRetraining(Fixtures.retraining(1000).build())
                .build());
        producer.flush();
        sleep(500);
        send(c.topics().feedback(), "req-1", Feedback.newBuilder().setRequestId("req-1").setTask(task)
                .setVerdict(Verdict.CORRECTED).setAnswerText(" Lyon").setCorrection(" Paris")
                .setFields(Map.of("question", "capital of France?")).build());
        send(c.topics().feedback(), "req-2", Feedback.newBuilder().setRequestId("req-2").setTask(task)
                .setVerdict(Verdict.REJECTED).setAnswerText(" Rome").setFields(Map.of("question", "capital of Spain?"))
                .build());
        producer.flush();

        try (var examples = new TopicReader<>(c.kafka(), c.topics().examples(), LabelledExample.class)) {
            LabelledExample made = examples.await(l -> !l.isEmpty(), Duration.ofSeconds(30)).get(0);
            assertThat(made.getExampleId()).isEqualTo("feedback:req-1");
            assertThat(made.getSource()).isEqualTo("feedback:req-1");
            assertThat(made.getTask()).isEqualTo(task);
            assertThat(made.getFields()).isEqualTo(Map.of("question", "capital of France?", "answer", " Paris"));
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (meters.find("tunestream.trainer.feedback").tags("verdict", "REJECTED").counter() == null) {
                assertThat(System.nanoTime()).as("rejection counted within 30 s").isLessThan(deadline);
                sleep(100);
            }
            assertThat(examples.await(l -> true, Duration.ZERO)).extracting(LabelledExample::getExampleId)
                    .containsExactly("feedback:req-1");
        }
    }

    @Test
    void shouldFailARunNamingTheTaskWhenNoExampleFitsTheModel(PlatformEndpoints platform) {
        Case c = start(platform);
        String task = "too-long";
        // no truncate field and a 64-token limit: these prompts cannot be cut to fit
        send(c.topics().templates(), task, Fixtures.template(task).setTruncateField(null)
                .setRetraining(Fixtures.retraining(2).build()).build());
        producer.flush();
        sleep(500);
        String question = "why ".repeat(200) + "?";
        send(c.topics().examples(), task, Fixtures.example(task, "a", question, " yes", DatasetSplit.TRAIN));
        send(c.topics().examples(), task, Fixtures.example(task, "b", question, " no", DatasetSplit.TRAIN));
        producer.flush();
        try (var runs = new TopicReader<>(c.kafka(), c.topics().runs(), TrainingRun.class)) {
            List<TrainingRun> all = runs.await(r -> ended(r, 1), RUN_TIMEOUT);
            TrainingRun failed = all.get(all.size() - 1);
            assertThat(failed.getStatus()).isEqualTo(RunStatus.FAILED);
            assertThat(failed.getMessage()).isEqualTo("task 'too-long' has no usable training example (1 received; "
                    + "skipped: {prompt cannot be truncated to fit=2})");
            assertThat(failed.getSkipped()).containsEntry("prompt cannot be truncated to fit", 2L);
        }
    }
}

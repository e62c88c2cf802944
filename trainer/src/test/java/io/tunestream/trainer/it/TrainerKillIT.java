package io.tunestream.trainer.it;

import static io.tunestream.trainer.testing.Fixtures.yes;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.tunestream.devkit.PlatformEndpoints;
import io.tunestream.devkit.junit.LocalPlatformExtension;
import io.tunestream.schemas.AdapterVersion;
import io.tunestream.schemas.DatasetSplit;
import io.tunestream.schemas.ExampleKey;
import io.tunestream.schemas.LabelledExample;
import io.tunestream.schemas.RunStatus;
import io.tunestream.schemas.TopicsAdmin;
import io.tunestream.schemas.TrainingRun;
import io.tunestream.schemas.kafka.KafkaClientConfig;
import io.tunestream.schemas.registry.AvroSerdes;
import io.tunestream.schemas.registry.RegistryConfig;
import io.tunestream.trainer.loop.LoopSettings;
import io.tunestream.trainer.loop.RunPhase;
import io.tunestream.trainer.loop.TrainerLoop;
import io.tunestream.trainer.loop.TrainerMetrics;
import io.tunestream.trainer.loop.TrainerTopics;
import io.tunestream.trainer.state.TaskSnapshot;
import io.tunestream.trainer.testing.Fixtures;
import io.tunestream.trainer.testing.StandInRunner;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.Deserializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The trainer killed at deterministic points ({@link RunPhase}, a real process death in a child JVM),
 * then restarted: no half-published version is visible to read_committed readers, the next version is
 * above every committed one, and the restarted run trains on every example.
 */
@ExtendWith(LocalPlatformExtension.class)
class TrainerKillIT {

    private static final Duration CHILD_TIMEOUT = Duration.ofSeconds(30);
    private static final String TASK = "k";

    private KafkaClientConfig kafka;
    private TrainerTopics topics;
    private String group;
    private PlatformEndpoints platform;

    private <T extends SpecificRecord> List<T> read(String topic, Class<T> type, boolean committedOnly) {
        try (Deserializer<T> decode = AvroSerdes.deserializer(type, kafka.registry())) {
            return RawTopic.read(kafka, topic, committedOnly).stream().filter(r -> r.value() != null)
                    .map(r -> decode.deserialize(r.topic(), r.headers(), r.value())).toList();
        }
    }

    private List<Integer> versions(boolean committedOnly) {
        return read(topics.adapters(), AdapterVersion.class, committedOnly).stream().map(AdapterVersion::getVersion)
                .toList();
    }

    /** Runs a trainer in a child JVM until it halts itself at {@code phase}. */
    private void killedAt(RunPhase phase) throws IOException, InterruptedException {
        Path log = Files.createTempFile(Path.of("target"), "trainer-child-" + phase, ".log");
        Process child = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                // a short-lived JVM: C1 only starts faster
                "-XX:TieredStopAtLevel=1", "-cp", System.getProperty("java.class.path"), TrainerChild.class.getName(),
                platform.bootstrapServers(), platform.registryUrl(), topics.prefix(), group, phase.name())
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        if (!child.waitFor(CHILD_TIMEOUT.toSeconds(), TimeUnit.SECONDS)) {
            child.destroyForcibly().waitFor();
            throw new AssertionError("the child trainer did not reach " + phase + " within " + CHILD_TIMEOUT + "; log: "
                    + Files.readString(log));
        }
        assertThat(child.exitValue()).as("child halted at %s; log %s:%n%s", phase, log, Files.readString(log))
                .isEqualTo(TrainerChild.HALTED);
    }

    private TrainerLoop inProcess(StandInRunner runner) {
        return new TrainerLoop(kafka, new LoopSettings(group, Duration.ofMillis(100), 100, Duration.ofMillis(100),
                Duration.ofMillis(500)), topics, () -> runner, new TrainerMetrics(new SimpleMeterRegistry()),
                Clock.systemUTC(), RunPhase.Listener.NONE).start();
    }

    /** Topics with a template and two examples, v1 published by an in-process trainer, then two examples more. */
    private void v1PublishedAndTwoNewExamples(PlatformEndpoints platform, String name) {
        this.platform = platform;
        String id = name + "-" + UUID.randomUUID().toString().substring(0, 8);
        kafka = new KafkaClientConfig(platform.bootstrapServers(), RegistryConfig.forRegistry(platform.registryUrl()));
        topics = new TrainerTopics(id + "-");
        group = id;
        try (Admin admin = Admin.create(kafka.adminProperties())) {
            new TopicsAdmin(admin, TopicsAdmin.Layout.catalogue(), Duration.ofSeconds(30)).ensure(topics.specs());
        }
        // the trainer checks, and does not register, its schemas (`ingest setup` does)
        new io.tunestream.schemas.registry.SchemaRegistration(kafka.registry()).registerAll(topics.specs());
        try (KafkaProducer<String, SpecificRecord> producer = new KafkaProducer<>(kafka.producerProperties(id))) {
            producer.send(new ProducerRecord<>(topics.templates(), TASK,
                    Fixtures.template(TASK).setRetraining(Fixtures.retraining(2).build()).build()));
            sendExamples(producer, 0, 2);
            try (TrainerLoop loop = inProcess(new StandInRunner())) {
                await().atMost(Duration.ofSeconds(20)).until(() -> versions(true).equals(List.of(1)));
            }
            sendExamples(producer, 2, 4);
        }
    }

    private void sendExamples(KafkaProducer<String, SpecificRecord> producer, int from, int to) {
        for (int i = from; i < to; i++) {
            LabelledExample example = yes(TASK, i, DatasetSplit.TRAIN);
            producer.send(new ProducerRecord<>(topics.examples(), ExampleKey.of(example).toString(), example));
        }
        producer.flush();
    }

    /** A restarted trainer publishes v2 from all four examples; each committed version has its one PUBLISHED record. */
    private void restartPublishesV2FromEveryExample(int startedRuns) {
        StandInRunner restarted = new StandInRunner();
        try (TrainerLoop loop = inProcess(restarted)) {
            await().atMost(Duration.ofSeconds(20)).until(() -> versions(true).size() == 2);
            TaskSnapshot run = restarted.runs().get(0);
            assertThat(run.train().size() + run.validation().size()).as("every example used").isEqualTo(4);
        }
        List<AdapterVersion> committed = read(topics.adapters(), AdapterVersion.class, true);
        assertThat(committed).extracting(AdapterVersion::getVersion).containsExactly(1, 2);
        List<TrainingRun> runs = read(topics.runs(), TrainingRun.class, true);
        assertThat(runs).filteredOn(r -> r.getStatus() == RunStatus.PUBLISHED).extracting(TrainingRun::getRunId)
                .as("one PUBLISHED record per committed version, none of the killed run")
                .containsExactly(committed.get(0).getRunId(), committed.get(1).getRunId());
        assertThat(runs).filteredOn(r -> r.getStatus() == RunStatus.STARTED).hasSize(startedRuns);
    }

    @Test
    void shouldRunAgainOnEveryExampleWhenKilledMidRun(PlatformEndpoints platform) throws Exception {
        v1PublishedAndTwoNewExamples(platform, "kill-run");

        killedAt(RunPhase.RUN_STARTED);
        assertThat(versions(false)).containsExactly(1);

        restartPublishesV2FromEveryExample(3);
    }

    @Test
    void shouldNeverShowAHalfPublishedVersionNorReuseACommittedOneWhenKilledMidPublish(PlatformEndpoints platform)
            throws Exception {
        v1PublishedAndTwoNewExamples(platform, "kill-publish");

        killedAt(RunPhase.PUBLISH_SENT);
        assertThat(versions(false)).as("v2 was sent before the kill").containsExactly(1, 2);
        assertThat(versions(true)).as("but never committed").containsExactly(1);

        restartPublishesV2FromEveryExample(3);
    }
}

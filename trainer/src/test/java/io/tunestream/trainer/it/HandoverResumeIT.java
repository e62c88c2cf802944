package io.tunestream.trainer.it;

import static io.tunestream.trainer.testing.Fixtures.yes;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.tunestream.devkit.PlatformEndpoints;
import io.tunestream.devkit.junit.LocalPlatformExtension;
import io.tunestream.model.onnx.RuntimeConfig;
import io.tunestream.model.tune.CheckpointCodec;
import io.tunestream.schemas.AdapterCheckpoint;
import io.tunestream.schemas.DatasetSplit;
import io.tunestream.schemas.ExampleKey;
import io.tunestream.schemas.LabelledExample;
import io.tunestream.schemas.RunStatus;
import io.tunestream.schemas.TopicsAdmin;
import io.tunestream.schemas.TrainingRun;
import io.tunestream.schemas.kafka.KafkaClientConfig;
import io.tunestream.schemas.registry.AvroSerdes;
import io.tunestream.schemas.registry.RegistryConfig;
import io.tunestream.schemas.registry.SchemaRegistration;
import io.tunestream.trainer.loop.LoopSettings;
import io.tunestream.trainer.loop.RunPhase;
import io.tunestream.trainer.loop.TrainerLoop;
import io.tunestream.trainer.loop.TrainerMetrics;
import io.tunestream.trainer.loop.TrainerTopics;
import io.tunestream.trainer.run.CheckpointChunks;
import io.tunestream.trainer.run.ModelTaskRunner;
import io.tunestream.trainer.run.RunOutcome;
import io.tunestream.trainer.run.TaskRunner;
import io.tunestream.trainer.state.TaskSnapshot;
import io.tunestream.trainer.testing.Fixtures;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.Deserializer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The replica running a task stops after its run wrote the state of its first epoch; the task moves to the other
 * replica (static membership: after the session timeout), which resumes the run from that checkpoint, read from the
 * topic, and publishes exactly the parameters the run would have had uninterrupted. Real loops, broker, registry
 * and tiny-gpt2.
 */
@ExtendWith(LocalPlatformExtension.class)
class HandoverResumeIT {

    private static final Duration SESSION = Duration.ofSeconds(6);
    private static final String TASK = "yes";

    private final List<TrainerLoop> loops = new ArrayList<>();
    private final List<AutoCloseable> runners = new ArrayList<>();
    private KafkaClientConfig kafka;
    private TrainerTopics topics;
    private String group;

    @AfterEach
    void stop() throws Exception {
        loops.forEach(TrainerLoop::close);
        for (AutoCloseable runner : runners) {
            runner.close();
        }
    }

    private ModelTaskRunner runner() {
        ModelTaskRunner runner = ModelTaskRunner.load(Fixtures.tinyGpt2(), RuntimeConfig.cpu(1), 100, Clock.systemUTC());
        runners.add(runner);
        return runner;
    }

    private TrainerLoop replica(String id, TaskRunner runner) {
        LoopSettings settings = new LoopSettings(group, Duration.ofMillis(100), 100, Duration.ofMillis(100),
                Duration.ofMillis(500)).asReplica(id, SESSION, Duration.ofSeconds(10));
        TrainerLoop loop = new TrainerLoop(kafka, settings, topics, () -> runner,
                new TrainerMetrics(new SimpleMeterRegistry()), Clock.systemUTC(), RunPhase.Listener.NONE).start();
        loops.add(loop);
        return loop;
    }

    /** Runs as {@code delegate} does; after the first checkpoint it writes, holds the run until interrupted. */
    private static final class StoppingAfterFirstCheckpoint implements TaskRunner {
        private final TaskRunner delegate;
        private final CountDownLatch written = new CountDownLatch(1);

        StoppingAfterFirstCheckpoint(TaskRunner delegate) {
            this.delegate = delegate;
        }

        @Override
        public RunOutcome run(TaskSnapshot snapshot, String runId, Progress progress) {
            return delegate.run(snapshot, runId, Progress.of(progress, running -> {
                progress.checkpoint(running);
                written.countDown();
                try {
                    // the replica stops meanwhile: its run is interrupted here
                    Thread.sleep(TimeUnit.SECONDS.toMillis(120));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException("interrupted after the first checkpoint", e);
                }
            }));
        }
    }

    /** Records the snapshots and outcomes of {@code delegate}'s runs. */
    private static final class Recording implements TaskRunner {
        private final TaskRunner delegate;
        private final List<TaskSnapshot> snapshots = new CopyOnWriteArrayList<>();
        private final List<RunOutcome> outcomes = new CopyOnWriteArrayList<>();

        Recording(TaskRunner delegate) {
            this.delegate = delegate;
        }

        @Override
        public RunOutcome run(TaskSnapshot snapshot, String runId, Progress progress) {
            snapshots.add(snapshot);
            RunOutcome outcome = delegate.run(snapshot, runId, progress);
            outcomes.add(outcome);
            return outcome;
        }
    }

    @Test
    void shouldResumeTheRunOfAStoppedReplicaOnTheNewOwnerAndPublishWhatTheUninterruptedRunWould(
            PlatformEndpoints platform) throws InterruptedException {
        String id = "handover-" + UUID.randomUUID().toString().substring(0, 8);
        kafka = new KafkaClientConfig(platform.bootstrapServers(), RegistryConfig.forRegistry(platform.registryUrl()));
        topics = new TrainerTopics(id + "-");
        group = id;
        try (Admin admin = Admin.create(kafka.adminProperties())) {
            new TopicsAdmin(admin, new TopicsAdmin.Layout(Optional.of(1), Optional.empty()), Duration.ofSeconds(30))
                    .ensure(topics.specs());
        }
        new SchemaRegistration(kafka.registry()).registerAll(topics.specs());
        StoppingAfterFirstCheckpoint stopping = new StoppingAfterFirstCheckpoint(runner());
        Recording resuming = new Recording(runner());
        TrainerLoop first = replica("trainer-0", stopping);
        await().atMost(Duration.ofSeconds(30)).until(() -> first.ownedPartitions().size() == 1);
        TrainerLoop second = replica("trainer-1", resuming);
        // 13 examples, all needed to start a run: both replicas' runs see the same ones
        var template = Fixtures.template(TASK).setRetraining(Fixtures.retraining(13).build()).build();
        try (KafkaProducer<String, SpecificRecord> producer = new KafkaProducer<>(kafka.producerProperties(id))) {
            producer.send(new ProducerRecord<>(topics.templates(), TASK, template));
            List<LabelledExample> examples = new ArrayList<>();
            for (int i = 0; i < 10; i++) {
                examples.add(yes(TASK, i, DatasetSplit.TRAIN));
            }
            for (int i = 0; i < 3; i++) {
                examples.add(yes(TASK, i, DatasetSplit.VALIDATION));
            }
            for (LabelledExample e : examples) {
                producer.send(new ProducerRecord<>(topics.examples(), ExampleKey.of(e).toString(), e));
            }
            producer.flush();
        }

        assertThat(stopping.written.await(60, TimeUnit.SECONDS)).as("the first epoch's checkpoint written").isTrue();
        first.close();
        loops.remove(first);

        await().atMost(Duration.ofSeconds(60)).until(() -> !resuming.outcomes.isEmpty());
        TaskSnapshot taken = resuming.snapshots.get(0);
        assertThat(taken.checkpoint()).map(c -> c.getResume().getInProgress()).hasValue(true);
        RunOutcome resumed = resuming.outcomes.get(0);
        assertThat(resumed).as(resumed.run().getMessage()).isInstanceOf(RunOutcome.Published.class);
        // epochs 2 and 3 only: the first ran on the stopped replica
        assertThat(resumed.run().getStep()).isEqualTo(9);

        // the same run, uninterrupted, on the inputs the new owner had
        RunOutcome whole = runner().run(new TaskSnapshot(TASK, taken.template(), taken.train(), taken.validation(),
                taken.heldOut(), Optional.empty(), Optional.empty(), 13, 1, List.of()), "run-whole", r -> { });
        byte[] uninterrupted = ((RunOutcome.Published) whole).exact().orElseThrow().state();

        // what the topic holds for v1: its pieces put back together are the uninterrupted run's state, byte for byte
        List<AdapterCheckpoint> records;
        try (Deserializer<AdapterCheckpoint> decode = AvroSerdes.deserializer(AdapterCheckpoint.class, kafka.registry())) {
            records = RawTopic.read(kafka, topics.checkpoints(), true).stream().filter(r -> r.value() != null)
                    .map(r -> decode.deserialize(r.topic(), r.headers(), r.value())).toList();
        }
        AdapterCheckpoint v1 = records.stream().filter(c -> c.getVersion() == 1 && !CheckpointChunks.isPiece(c))
                .reduce((a, b) -> b).orElseThrow();
        assertThat(v1.getResume().getInProgress()).isFalse();
        byte[] published = CheckpointChunks.reassemble(v1, records).value().orElseThrow();
        assertThat(CheckpointCodec.decode(published).parameters())
                .containsExactly(CheckpointCodec.decode(uninterrupted).parameters());
        assertThat(published).isEqualTo(uninterrupted);
        List<TrainingRun> runs;
        try (Deserializer<TrainingRun> decode = AvroSerdes.deserializer(TrainingRun.class, kafka.registry())) {
            runs = RawTopic.read(kafka, topics.runs(), true).stream().filter(r -> r.value() != null)
                    .map(r -> decode.deserialize(r.topic(), r.headers(), r.value())).toList();
        }
        assertThat(runs).filteredOn(r -> r.getStatus() == RunStatus.PUBLISHED).hasSize(1);
        assertThat(second.isAlive()).isTrue();
    }
}

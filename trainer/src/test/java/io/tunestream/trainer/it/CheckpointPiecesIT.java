package io.tunestream.trainer.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.tunestream.devkit.PlatformEndpoints;
import io.tunestream.devkit.junit.LocalPlatformExtension;
import io.tunestream.model.tune.AdamW;
import io.tunestream.model.tune.CheckpointCodec;
import io.tunestream.model.tune.EarlyStopping;
import io.tunestream.model.tune.EncoderType;
import io.tunestream.model.tune.ParameterLayout;
import io.tunestream.model.tune.PromptEncoder;
import io.tunestream.model.tune.PromptEncoderConfig;
import io.tunestream.model.tune.TaskCheckpoint;
import io.tunestream.model.tune.TuningConfig;
import io.tunestream.schemas.AdapterCheckpoint;
import io.tunestream.schemas.AdapterVersion;
import io.tunestream.schemas.DType;
import io.tunestream.schemas.PromptEncoderType;
import io.tunestream.schemas.RunStatus;
import io.tunestream.schemas.TopicSpec;
import io.tunestream.schemas.TopicsAdmin;
import io.tunestream.schemas.TrainingRun;
import io.tunestream.schemas.VirtualPromptStyle;
import io.tunestream.schemas.kafka.KafkaClientConfig;
import io.tunestream.schemas.kafka.TaskPartitioner;
import io.tunestream.schemas.registry.RegistryConfig;
import io.tunestream.schemas.registry.SchemaRegistration;
import io.tunestream.schemas.tensor.TensorCodec;
import io.tunestream.trainer.loop.RunPhase;
import io.tunestream.trainer.loop.RunPublisher;
import io.tunestream.trainer.loop.TrainerTopics;
import io.tunestream.trainer.run.CheckpointRecords;
import io.tunestream.trainer.run.ExactCheckpoint;
import io.tunestream.trainer.run.RunOutcome;
import io.tunestream.trainer.run.WarmStart;
import io.tunestream.trainer.state.TaskState;
import io.tunestream.trainer.state.TaskStates;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.UUID;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * A checkpoint larger than its topic's records, through a real broker and registry: the publisher reads the topic's
 * {@code max.message.bytes} (64 KiB here), writes the state in pieces on the task's partition, and a reader puts
 * them back together into the same state; a later, smaller checkpoint tombstones the pieces it no longer uses.
 */
@ExtendWith(LocalPlatformExtension.class)
class CheckpointPiecesIT {

    private static final int RECORD_BYTES = 64 * 1024;
    private static final int PARTITIONS = 4;
    private static final int HIDDEN = 128;

    private final PromptEncoderConfig mlp = PromptEncoderConfig.defaults(EncoderType.MLP, 10).withEncoderHidden(64);
    private final ParameterLayout layout = PromptEncoder.of(mlp, HIDDEN).layout();
    private final TuningConfig config = TuningConfig.nemoDefaults(3, 4, 4, 1);

    private TaskCheckpoint state(long seed, int epoch) {
        Random random = new Random(seed);
        double[] parameters = random.doubles(layout.size()).toArray();
        double[] best = random.doubles(layout.size()).toArray();
        AdamW.State moments = new AdamW.State(random.doubles(layout.size()).toArray(),
                random.doubles(layout.size()).toArray(), 5L * epoch + 2);
        return new TaskCheckpoint("qa", mlp, HIDDEN, config, parameters, moments, epoch, 2, 1.5,
                EarlyStopping.start(3, 0.0), best, List.of());
    }

    private static AdapterVersion adapter(int version) {
        return AdapterVersion.newBuilder().setTask("qa").setVersion(version).setModelFingerprint("model-a")
                .setHiddenSize(HIDDEN)
                .setTable(TensorCodec.encode("qa", new float[10 * HIDDEN], List.of(10, HIDDEN), DType.FLOAT32))
                .setVirtualTokenSplits(List.of(10)).setCreatedAtMillis(1).build();
    }

    @Test
    void shouldWriteACheckpointLargerThanARecordInPiecesOnTheTasksPartitionAndReadItBackExactly(
            PlatformEndpoints platform) {
        String id = "pieces-" + UUID.randomUUID().toString().substring(0, 8);
        KafkaClientConfig kafka = new KafkaClientConfig(platform.bootstrapServers(),
                RegistryConfig.forRegistry(platform.registryUrl()));
        TrainerTopics topics = new TrainerTopics(id + "-");
        List<TopicSpec> specs = topics.specs().stream().map(spec -> spec.name().equals(topics.checkpoints())
                ? new TopicSpec(spec.name(), spec.keyDoc(), spec.valueSchema(), true, PARTITIONS,
                        Map.of("max.message.bytes", Integer.toString(RECORD_BYTES)))
                : spec).toList();
        try (Admin admin = Admin.create(kafka.adminProperties())) {
            new TopicsAdmin(admin, TopicsAdmin.Layout.catalogue(), Duration.ofSeconds(30)).ensure(specs);
        }
        new SchemaRegistration(kafka.registry()).registerAll(specs);
        TaskCheckpoint published = state(1, 3);
        byte[] publishedBytes = CheckpointCodec.encode(published);
        // an MLP of 10 x 128 through 64: about 4 x 18 000 doubles, some 600 kB, far above 64 KiB
        assertThat(publishedBytes.length).isGreaterThan(8 * RECORD_BYTES);
        AdapterCheckpoint head = CheckpointRecords.toRecord(published, layout, 1, "run-1", "model-a",
                VirtualPromptStyle.P_TUNING, PromptEncoderType.MLP, 1);
        TrainingRun run = TrainingRun.newBuilder().setRunId("run-1").setTask("qa").setStatus(RunStatus.PUBLISHED)
                .setStartedAtMillis(1).setUpdatedAtMillis(2).build();
        int expectedPieces = (publishedBytes.length + RECORD_BYTES - 8 * 1024 - 1) / (RECORD_BYTES - 8 * 1024);

        try (RunPublisher publisher = new RunPublisher(kafka, id + "-publisher", id + "-publisher-0",
                Duration.ofSeconds(30), topics, RunPhase.Listener.NONE);
             KafkaConsumer<String, Object> consumer = new KafkaConsumer<>(kafka.consumerProperties(id + "-reader", null))) {
            publisher.publish(new RunOutcome.Published(adapter(1), head, run, Optional.of(new ExactCheckpoint(head,
                    publishedBytes, "run-1@17", "inputs-1", true, 0, false))));
            List<TopicPartition> partitions = java.util.stream.IntStream.range(0, PARTITIONS)
                    .mapToObj(p -> new TopicPartition(topics.checkpoints(), p)).toList();
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            List<ConsumerRecord<String, Object>> read = new ArrayList<>();
            await().atMost(Duration.ofSeconds(30)).until(() -> {
                consumer.poll(Duration.ofMillis(200)).forEach(read::add);
                return read.stream().anyMatch(r -> r.key().equals("qa"));
            });

            int partition = TaskPartitioner.partitionOf("qa", PARTITIONS);
            assertThat(read).extracting(ConsumerRecord::partition).containsOnly(partition);
            List<String> expectedKeys = new ArrayList<>();
            for (int i = 0; i < expectedPieces; i++) {
                expectedKeys.add("qa/resume/" + i);
            }
            expectedKeys.add("qa");
            assertThat(read).extracting(ConsumerRecord::key).containsExactlyElementsOf(expectedKeys);
            assertThat(expectedPieces).isGreaterThan(8);
            TaskState task = new TaskStates(100).task("qa");
            read.forEach(r -> task.checkpoint((AdapterCheckpoint) r.value()));

            WarmStart start = WarmStart.select(task.checkpoint(), task.checkpointPieces(), "model-a", EncoderType.MLP,
                    false, layout, Optional.of(new WarmStart.Run(mlp, HIDDEN, config, "inputs-2")));

            // the state came back whole: its best parameters, as doubles, start the next run
            assertThat(start.parameters().orElseThrow()).containsExactly(published.bestParameters());

            // a later, smaller state (a run in progress): fewer pieces, the rest tombstoned
            TaskCheckpoint smaller = new TaskCheckpoint("qa", PromptEncoderConfig.defaults(EncoderType.EMBEDDING, 10),
                    HIDDEN, config, new double[10 * HIDDEN], AdamW.State.initial(10 * HIDDEN), 1, 0, 0.0,
                    EarlyStopping.start(3, 0.0), new double[10 * HIDDEN], List.of());
            byte[] smallerBytes = CheckpointCodec.encode(smaller);
            AdapterCheckpoint inProgressHead = AdapterCheckpoint.newBuilder(task.checkpoint().orElseThrow())
                    .setResume(null).setRunId("run-2").build();
            publisher.checkpoint(new ExactCheckpoint(inProgressHead, smallerBytes, "run-2@3", "inputs-2", false,
                    task.checkpoint().orElseThrow().getResume().getChunkCount(), true));
            int before = read.size();
            await().atMost(Duration.ofSeconds(30)).until(() -> {
                consumer.poll(Duration.ofMillis(200)).forEach(read::add);
                return read.subList(before, read.size()).stream().anyMatch(r -> r.key().equals("qa"));
            });
            List<ConsumerRecord<String, Object>> second = read.subList(before, read.size());
            int smallerPieces = (smallerBytes.length + RECORD_BYTES - 8 * 1024 - 1) / (RECORD_BYTES - 8 * 1024);
            assertThat(smallerPieces).isLessThan(expectedPieces);
            assertThat(second.stream().filter(r -> r.value() == null).map(ConsumerRecord::key)
                    .collect(Collectors.toList())).containsExactlyElementsOf(expectedKeys.subList(smallerPieces,
                    expectedPieces));
            second.stream().filter(r -> r.value() != null).forEach(r -> task.checkpoint((AdapterCheckpoint) r.value()));
            assertThat(task.checkpoint()).map(c -> c.getResume().getCheckpointId()).hasValue("run-2@3");
            assertThat(io.tunestream.trainer.run.CheckpointChunks.reassemble(task.checkpoint().orElseThrow(),
                    task.checkpointPieces()).value()).hasValueSatisfying(b -> assertThat(b).isEqualTo(smallerBytes));
        }
    }
}

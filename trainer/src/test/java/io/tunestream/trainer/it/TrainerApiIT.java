package io.tunestream.trainer.it;

import static io.tunestream.trainer.testing.Fixtures.yes;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;
import static org.awaitility.Awaitility.await;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.tunestream.devkit.PlatformEndpoints;
import io.tunestream.devkit.junit.LocalPlatformExtension;
import io.tunestream.schemas.AdapterVersion;
import io.tunestream.schemas.DatasetSplit;
import io.tunestream.schemas.ExampleKey;
import io.tunestream.schemas.LabelledExample;
import io.tunestream.schemas.RunStatus;
import io.tunestream.schemas.TaskControl;
import io.tunestream.schemas.TrainingRun;
import io.tunestream.schemas.kafka.KafkaClientConfig;
import io.tunestream.schemas.kafka.TaskPartitioner;
import io.tunestream.trainer.api.AdapterTables;
import io.tunestream.trainer.api.ApiError;
import io.tunestream.trainer.api.GroupTaskOwners;
import io.tunestream.trainer.api.TrainerApi;
import io.tunestream.trainer.control.TaskView;
import io.tunestream.trainer.control.TriggerResult;
import io.tunestream.trainer.control.VersionView;
import io.tunestream.trainer.loop.LoopSettings;
import io.tunestream.trainer.loop.RunPhase;
import io.tunestream.trainer.loop.TrainerLoop;
import io.tunestream.trainer.loop.TrainerMetrics;
import io.tunestream.trainer.loop.TrainerTopics;
import io.tunestream.trainer.testing.Fixtures;
import io.tunestream.trainer.testing.StandInRunner;
import io.tunestream.schemas.peft.PeftAdapter;
import io.tunestream.schemas.peft.PeftArchive;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The trainer's API logic ({@link TrainerApi}) on replicas of the real loop (stand-in runner: the model is not the
 * point) against the real broker and registry: list, versions, trigger, rollback republished as a higher version
 * with the old tables, pause kept across a restart, resume, the refusals with their reasons, and 409 naming the
 * replica that owns a task, found in the group.
 */
@ExtendWith(LocalPlatformExtension.class)
class TrainerApiIT {

    private static final Duration SESSION = Duration.ofSeconds(6);
    private static final Duration TRANSACTION = Duration.ofSeconds(10);
    private static final Duration WAIT = Duration.ofSeconds(30);

    private final List<TrainerLoop> loops = new ArrayList<>();
    private final List<AutoCloseable> closeables = new ArrayList<>();
    private KafkaClientConfig kafka;
    private TrainerTopics topics;
    private String group;

    @AfterEach
    void stop() throws Exception {
        loops.forEach(TrainerLoop::close);
        for (AutoCloseable c : closeables) {
            c.close();
        }
    }

    private void topics(PlatformEndpoints platform, String name, int examplesPartitions) {
        CaseTopics created = CaseTopics.create(platform, name, examplesPartitions);
        kafka = created.kafka();
        topics = created.topics();
        group = created.group();
    }

    private TrainerLoop replica(String replicaId) {
        LoopSettings settings = new LoopSettings(group, Duration.ofMillis(100), 100, Duration.ofMillis(100),
                Duration.ofMillis(500)).asReplica(replicaId, SESSION, TRANSACTION).withKeptVersions(3);
        TrainerLoop loop = new TrainerLoop(kafka, settings, topics, StandInRunner::new,
                new TrainerMetrics(new SimpleMeterRegistry()), Clock.systemUTC(), RunPhase.Listener.NONE).start();
        loops.add(loop);
        return loop;
    }

    private TrainerApi api(TrainerLoop loop) {
        Admin admin = Admin.create(kafka.adminProperties());
        closeables.add(admin);
        return new TrainerApi(() -> loop, new GroupTaskOwners(admin, Duration.ofSeconds(10)), Duration.ofSeconds(10));
    }

    private void send(String topic, String key, SpecificRecord value) {
        try (KafkaProducer<String, SpecificRecord> producer = new KafkaProducer<>(kafka.producerProperties(group))) {
            producer.send(new ProducerRecord<>(topic, key, value));
            producer.flush();
        }
    }

    private void template(String task, int minNewExamples) {
        send(topics.templates(), task, Fixtures.template(task)
                .setRetraining(Fixtures.retraining(minNewExamples).build()).build());
    }

    private void examples(String task, int from, int to) {
        try (KafkaProducer<String, SpecificRecord> producer = new KafkaProducer<>(kafka.producerProperties(group))) {
            for (int i = from; i < to; i++) {
                LabelledExample example = yes(task, i, DatasetSplit.TRAIN);
                producer.send(new ProducerRecord<>(topics.examples(), ExampleKey.of(example).toString(), example));
            }
            producer.flush();
        }
    }

    private <T extends SpecificRecord> List<T> read(String topic, Class<T> type) {
        return RawTopic.values(kafka, topic, type);
    }

    private List<AdapterVersion> adapters(String task) {
        return read(topics.adapters(), AdapterVersion.class).stream().filter(a -> a.getTask().equals(task)).toList();
    }

    private static float firstValue(AdapterVersion adapter) {
        return adapter.getTable().getData().duplicate().order(java.nio.ByteOrder.LITTLE_ENDIAN).getFloat(0);
    }

    private static TaskView view(TrainerApi api, String task) {
        return api.tasks().stream().filter(t -> t.task().equals(task)).findFirst().orElseThrow();
    }

    @Test
    void shouldListTriggerRollBackPauseAndResumeATask(PlatformEndpoints platform) {
        topics(platform, "api", 1);
        TrainerLoop loop = replica("trainer-0");
        TrainerApi api = api(loop);
        template("qa", 3);
        examples("qa", 0, 3);
        await().atMost(WAIT).until(() -> adapters("qa").size() == 1);

        // trigger: a run without new examples, v2
        TriggerResult triggered = api.trigger("qa");
        assertThat(triggered.state()).isIn("started", "queued", "running");
        await().atMost(WAIT).until(() -> adapters("qa").size() == 2);
        await().atMost(WAIT).until(() -> view(api, "qa").servingVersion() == 2);
        TaskView qa = view(api, "qa");
        assertThat(qa.ownedHere()).isTrue();
        assertThat(qa.owner()).isEqualTo("trainer-0");
        assertThat(qa.trainingExamples()).isEqualTo(3);
        assertThat(qa.newExamples()).isZero();
        assertThat(qa.nextRun().state()).isEqualTo("IDLE");
        assertThat(qa.nextRun().examplesNeeded()).isEqualTo(3);
        assertThat(api.versions("qa")).extracting(VersionView::version).containsExactly(1, 2);
        assertThat(api.versions("qa")).filteredOn(VersionView::serving).extracting(VersionView::version)
                .containsExactly(2);

        // rollback to v1: republished as v3 with v1's table, a ROLLBACK run record
        VersionView v3 = api.rollback("qa", 1, "v2 answers worse");
        assertThat(v3.version()).isEqualTo(3);
        await().atMost(WAIT).until(() -> adapters("qa").size() == 3);
        AdapterVersion served = adapters("qa").get(2);
        assertThat(served.getVersion()).isEqualTo(3);
        assertThat(firstValue(served)).isEqualTo(1.0f);
        assertThat(firstValue(adapters("qa").get(1))).isEqualTo(2.0f);
        // one transaction, but each partition's commit marker lands on its own time (read_committed)
        await().atMost(WAIT).untilAsserted(() -> assertThat(read(topics.runs(), TrainingRun.class))
                .filteredOn(r -> r.getStatus() == RunStatus.ROLLBACK).singleElement().satisfies(r -> {
                    assertThat(r.getPublishedVersion()).isEqualTo(3);
                    assertThat(r.getSourceVersion()).isEqualTo(1);
                    assertThat(r.getMessage()).contains("rollback to v1").contains("v2 answers worse");
                }));
        await().atMost(WAIT).untilAsserted(() -> assertThat(read(topics.history(), AdapterVersion.class))
                .extracting(AdapterVersion::getVersion).containsExactly(1, 2, 3));
        assertThat(api.runs("qa")).extracting(r -> r.status()).contains("PUBLISHED", "ROLLBACK");

        // refusals, with their reasons
        ApiError missing = catchThrowableOfType(() -> api.rollback("qa", 9, null), ApiError.class);
        assertThat(missing.status()).isEqualTo(404);
        assertThat(missing.body().reason()).contains("no version 9").contains("[1, 2, 3]");
        ApiError serving = catchThrowableOfType(() -> api.rollback("qa", 3, null), ApiError.class);
        assertThat(serving.status()).isEqualTo(409);
        assertThat(serving.body().reason()).contains("serving version already");
        send(topics.history(), "qa/4", AdapterVersion.newBuilder(served).setVersion(4)
                .setModelFingerprint("another-model").build());
        await().atMost(WAIT).until(() -> api.versions("qa").stream().anyMatch(v -> v.version() == 4));
        ApiError fingerprint = catchThrowableOfType(() -> api.rollback("qa", 4, null), ApiError.class);
        assertThat(fingerprint.status()).isEqualTo(400);
        assertThat(fingerprint.body().reason()).contains("fingerprint").contains("another-model");
        ApiError unknown = catchThrowableOfType(() -> api.trigger("nope"), ApiError.class);
        assertThat(unknown.status()).isEqualTo(404);
        assertThat(unknown.body().reason()).contains("unknown task 'nope'");

        // import: v2's exported tables published as v5 (v4 was seen) with an IMPORTED record; another model's refused
        AdapterTables v2 = api.tables("qa", 2);
        VersionView imported = api.importTables("qa", v2);
        assertThat(imported.version()).isEqualTo(5);
        await().atMost(WAIT).until(() -> adapters("qa").size() == 4);
        assertThat(adapters("qa").get(3).getVersion()).isEqualTo(5);
        assertThat(firstValue(adapters("qa").get(3))).isEqualTo(2.0f);
        await().atMost(WAIT).untilAsserted(() -> assertThat(read(topics.runs(), TrainingRun.class))
                .filteredOn(r -> r.getStatus() == RunStatus.IMPORTED).singleElement()
                .satisfies(r -> assertThat(r.getPublishedVersion()).isEqualTo(5)));
        AdapterTables foreign = new AdapterTables(null, null, "another-model", v2.hiddenSize(), v2.virtualTokenSplits(),
                null, null, null, null, null, v2.table(), "from elsewhere");
        ApiError refusedImport = catchThrowableOfType(() -> api.importTables("qa", foreign), ApiError.class);
        assertThat(refusedImport.status()).isEqualTo(400);
        assertThat(refusedImport.body().reason()).contains("(fingerprint)").contains("another-model");

        // pause: kept on task-controls, no run starts, also after a restart
        assertThat(api.pause("qa", "label audit").paused()).isTrue();
        ApiError paused = catchThrowableOfType(() -> api.trigger("qa"), ApiError.class);
        assertThat(paused.status()).isEqualTo(409);
        assertThat(paused.body().reason()).contains("paused").contains("label audit");
        // the transaction's commit marker reaches the partition after commitTransaction returns (read_committed)
        await().atMost(WAIT).untilAsserted(() -> assertThat(read(topics.controls(), TaskControl.class)).singleElement()
                .satisfies(c -> assertThat(c.getPaused()).isTrue()));
        loop.close();
        TrainerLoop restarted = replica("trainer-0");
        TrainerApi again = api(restarted);
        examples("qa", 3, 6);
        await().atMost(WAIT).ignoreExceptions()
                .until(() -> view(again, "qa").newExamples() == 3);
        TaskView held = view(again, "qa");
        assertThat(held.paused()).isTrue();
        assertThat(held.pauseReason()).isEqualTo("label audit");
        assertThat(held.nextRun().state()).isEqualTo("PAUSED");
        assertThat(view(again, "qa").runningRunId()).isNull();
        assertThat(adapters("qa")).hasSize(4);

        // resume: the three waiting examples start a run, v6
        assertThat(again.resume("qa", null).paused()).isFalse();
        await().atMost(WAIT).until(() -> adapters("qa").size() == 5);
        assertThat(adapters("qa").get(4).getVersion()).isEqualTo(6);
        // three versions kept: the older ones are tombstoned on adapter-history
        await().atMost(WAIT).until(() -> again.versions("qa").stream().map(VersionView::version).toList()
                .equals(List.of(4, 5, 6)));
        assertThat(RawTopic.read(kafka, topics.history(), true).stream().filter(r -> r.value() == null)
                .map(r -> new String(r.key(), java.nio.charset.StandardCharsets.UTF_8)))
                .as("tombstones on adapter-history").containsExactly("qa/1", "qa/2", "qa/3");
    }

    @Test
    void shouldAnswer409NamingTheReplicaThatOwnsTheTask(PlatformEndpoints platform) throws java.io.IOException {
        // more examples partitions than feedback ones: the group's assignor (balancing both topics together) then
        // gives each replica some examples partitions
        topics(platform, "api-owner", 6);
        TrainerLoop first = replica("trainer-0");
        TrainerLoop second = replica("trainer-1");
        await().atMost(WAIT).until(() -> first.ownedPartitions().size() + second.ownedPartitions().size() == 6
                && !first.ownedPartitions().isEmpty() && !second.ownedPartitions().isEmpty());
        int theirs = second.ownedPartitions().iterator().next();
        String task = null;
        for (int i = 0; task == null; i++) {
            if (TaskPartitioner.partitionOf("t" + i, 6) == theirs) {
                task = "t" + i;
            }
        }
        String owned = task;
        template(owned, 100);
        TrainerApi api = api(first);
        await().atMost(WAIT).until(() -> api.tasks().stream().anyMatch(t -> t.task().equals(owned)));

        ApiError refused = catchThrowableOfType(() -> api.trigger(owned), ApiError.class);

        assertThat(refused.status()).isEqualTo(409);
        assertThat(refused.body().owner()).isEqualTo("trainer-1");
        assertThat(refused.body().reason()).contains("owned by replica 'trainer-1'").contains("partition " + theirs);
        TaskView listed = view(api, owned);
        assertThat(listed.ownedHere()).isFalse();
        assertThat(listed.owner()).isEqualTo("trainer-1");
        assertThat(listed.trainingExamples()).isNull();
        assertThat(refused.body().kind()).isEqualTo("NOT_OWNER");
        // a PEFT import goes to the owner too: read here, refused by this replica's loop with the owner named
        Path prompt = Fixtures.tinyGpt2().resolve("peft/prompt-tuning");
        ApiError peft = catchThrowableOfType(() -> api.importPeft(owned, PeftArchive.write(PeftAdapter.read(prompt)),
                null, null), ApiError.class);
        assertThat(peft.status()).isEqualTo(409);
        assertThat(peft.body().owner()).isEqualTo("trainer-1");
        assertThat(peft.body().kind()).isEqualTo("NOT_OWNER");
    }
}

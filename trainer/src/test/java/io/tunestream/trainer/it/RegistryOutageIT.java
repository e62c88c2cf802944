package io.tunestream.trainer.it;

import static io.tunestream.trainer.testing.Fixtures.yes;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.tunestream.devkit.PlatformEndpoints;
import io.tunestream.devkit.junit.LocalPlatformExtension;
import io.tunestream.schemas.DatasetSplit;
import io.tunestream.schemas.LabelledExample;
import io.tunestream.schemas.TopicsAdmin;
import io.tunestream.schemas.registry.SchemaRegistration;
import io.tunestream.schemas.kafka.KafkaClientConfig;
import io.tunestream.schemas.registry.RegistryConfig;
import io.tunestream.trainer.loop.LoopSettings;
import io.tunestream.trainer.loop.RunPhase;
import io.tunestream.trainer.loop.TrainerLoop;
import io.tunestream.trainer.loop.TrainerMetrics;
import io.tunestream.trainer.loop.TrainerTopics;
import io.tunestream.trainer.testing.Fixtures;
import io.tunestream.trainer.testing.StandInRunner;
import io.tunestream.devkit.TcpProxy;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;
import io.tunestream.schemas.ExampleKey;
import io.tunestream.trainer.state.TaskSnapshot;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import io.apicurio.registry.serde.avro.AvroKafkaSerializer;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import io.tunestream.schemas.AdapterVersion;
import io.tunestream.schemas.RunStatus;
import io.tunestream.schemas.TrainingRun;
import io.tunestream.schemas.registry.AvroSerdes;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * A trainer (re)started while the registry is down waits for it and then reads every record: nothing
 * skipped, nothing dead-lettered, the run gets every example.
 */
@ExtendWith(LocalPlatformExtension.class)
class RegistryOutageIT {

    @Test
    void shouldWaitForTheRegistryAndSkipNothingWhenStartedDuringAnOutage(PlatformEndpoints platform) {
        String id = UUID.randomUUID().toString().substring(0, 8);
        TrainerTopics topics = new TrainerTopics("outage-" + id + "-");
        KafkaClientConfig direct = new KafkaClientConfig(platform.bootstrapServers(),
                RegistryConfig.forRegistry(platform.registryUrl()));
        try (Admin admin = Admin.create(direct.adminProperties())) {
            new TopicsAdmin(admin, TopicsAdmin.Layout.catalogue(), Duration.ofSeconds(30)).ensure(topics.specs());
        }
        // the trainer only checks its topics and schemas: setup creates them, as `ingest setup` does
        new SchemaRegistration(direct.registry()).registerAll(topics.specs());
        String task = "outage";
        try (KafkaProducer<String, SpecificRecord> producer = new KafkaProducer<>(direct.producerProperties("outage-" + id))) {
            producer.send(new ProducerRecord<>(topics.templates(), task,
                    Fixtures.template(task).setRetraining(Fixtures.retraining(2).build()).build()));
            for (int i = 0; i < 2; i++) {
                LabelledExample example = yes(task, i, DatasetSplit.TRAIN);
                producer.send(new ProducerRecord<>(topics.examples(), task + "/" + example.getExampleId(), example));
            }
        }
        SimpleMeterRegistry meters = new SimpleMeterRegistry();
        StandInRunner runner = new StandInRunner();
        try (TcpProxy registry = TcpProxy.to(platform.registryUrl())) {
            KafkaClientConfig throughProxy = new KafkaClientConfig(platform.bootstrapServers(),
                    RegistryConfig.forRegistry(registry.url()));
            LoopSettings settings = new LoopSettings("outage-" + id, Duration.ofMillis(100), 100, Duration.ofMillis(100),
                    Duration.ofMillis(500));
            try (TrainerLoop loop = new TrainerLoop(throughProxy, settings, topics, () -> runner,
                    new TrainerMetrics(meters), Clock.systemUTC(), RunPhase.Listener.NONE).start()) {
                await().atMost(Duration.ofSeconds(15)).until(() -> loop.degraded().isPresent());
                assertThat(loop.degraded().get()).startsWith("degraded: registry unreachable");
                assertThat(loop.isCaughtUp()).as("nothing read past while the registry is down").isFalse();
                assertThat(runner.runs()).isEmpty();

                registry.open();

                await().atMost(Duration.ofSeconds(20)).until(() -> !runner.runs().isEmpty());
                assertThat(runner.runs().get(0).train().size() + runner.runs().get(0).validation().size()).isEqualTo(2);
                assertThat(loop.degraded()).isEmpty();
                assertThat(meters.find("tunestream.trainer.skipped").counters()).isEmpty();
                assertThat(meters.find("tunestream.trainer.dead.letters").counters()).isEmpty();
                assertThat(meters.get("tunestream.trainer.input.retries").tag("reason", "registry unreachable")
                        .counter().count()).isPositive();
            }
        }
    }

    @Test
    void shouldPublishARunOnceTheRegistryIsBackWhenItWentDownBeforeThePublication(PlatformEndpoints platform) {
        String id = UUID.randomUUID().toString().substring(0, 8);
        TrainerTopics topics = new TrainerTopics("outage-publish-" + id + "-");
        KafkaClientConfig direct = new KafkaClientConfig(platform.bootstrapServers(),
                RegistryConfig.forRegistry(platform.registryUrl()));
        try (Admin admin = Admin.create(direct.adminProperties())) {
            new TopicsAdmin(admin, TopicsAdmin.Layout.catalogue(), Duration.ofSeconds(30)).ensure(topics.specs());
        }
        // the trainer only checks its topics and schemas: setup creates them, as `ingest setup` does
        new SchemaRegistration(direct.registry()).registerAll(topics.specs());
        String task = "outage";
        try (KafkaProducer<String, SpecificRecord> producer = new KafkaProducer<>(direct.producerProperties("outage-" + id))) {
            producer.send(new ProducerRecord<>(topics.templates(), task,
                    Fixtures.template(task).setRetraining(Fixtures.retraining(2).build()).build()));
            for (int i = 0; i < 2; i++) {
                LabelledExample example = yes(task, i, DatasetSplit.TRAIN);
                producer.send(new ProducerRecord<>(topics.examples(), task + "/" + example.getExampleId(), example));
            }
        }
        CountDownLatch gate = new CountDownLatch(1);
        StandInRunner runner = new StandInRunner(gate);
        try (TcpProxy registry = TcpProxy.to(platform.registryUrl()).open()) {
            KafkaClientConfig throughProxy = new KafkaClientConfig(platform.bootstrapServers(),
                    RegistryConfig.forRegistry(registry.url()));
            LoopSettings settings = new LoopSettings("outage-publish-" + id, Duration.ofMillis(100), 100,
                    Duration.ofMillis(100), Duration.ofMillis(500));
            try (TrainerLoop loop = new TrainerLoop(throughProxy, settings, topics, () -> runner,
                    new TrainerMetrics(new SimpleMeterRegistry()), Clock.systemUTC(), RunPhase.Listener.NONE).start()) {
                await().atMost(Duration.ofSeconds(20)).until(() -> !runner.runs().isEmpty());
                registry.shut();
                gate.countDown();

                await().atMost(Duration.ofSeconds(20)).until(() -> loop.degraded().isPresent());
                // the publication waits; so may reading, when the run's STARTED record (training-runs is a state topic,
                // for the API's run lists) is decoded after the registry went down
                assertThat(loop.degraded().get()).matches("degraded: (cannot publish|registry unreachable)(?s).*");
                registry.open();

                await().atMost(Duration.ofSeconds(20)).until(() -> versions(direct, topics).equals(List.of(1)));
                await().atMost(Duration.ofSeconds(5)).until(() -> loop.degraded().isEmpty());
            }
        }
        try (Deserializer<TrainingRun> runs = AvroSerdes.deserializer(TrainingRun.class, direct.registry())) {
            assertThat(RawTopic.read(direct, topics.runs(), true).stream()
                    .map(r -> runs.deserialize(r.topic(), r.headers(), r.value())).map(TrainingRun::getStatus))
                    .as("the run is published once, never failed").containsExactly(RunStatus.STARTED, RunStatus.PUBLISHED);
        }
    }

    @Test
    void shouldWaitForTheRegistryWhenARecordWithANewSchemaIdArrivesDuringAnOutage(PlatformEndpoints platform) {
        String id = UUID.randomUUID().toString().substring(0, 8);
        TrainerTopics topics = new TrainerTopics("outage-new-id-" + id + "-");
        KafkaClientConfig direct = new KafkaClientConfig(platform.bootstrapServers(),
                RegistryConfig.forRegistry(platform.registryUrl()));
        try (Admin admin = Admin.create(direct.adminProperties())) {
            new TopicsAdmin(admin, TopicsAdmin.Layout.catalogue(), Duration.ofSeconds(30)).ensure(topics.specs());
        }
        // the trainer only checks its topics and schemas: setup creates them, as `ingest setup` does
        new SchemaRegistration(direct.registry()).registerAll(topics.specs());
        String task = "new-id";
        SimpleMeterRegistry meters = new SimpleMeterRegistry();
        StandInRunner runner = new StandInRunner();
        try (KafkaProducer<String, SpecificRecord> producer = new KafkaProducer<>(direct.producerProperties("new-id-" + id));
             TcpProxy registry = TcpProxy.to(platform.registryUrl()).open()) {
            producer.send(new ProducerRecord<>(topics.templates(), task,
                    Fixtures.template(task).setRetraining(Fixtures.retraining(2).build()).build()));
            LabelledExample known = yes(task, 0, DatasetSplit.TRAIN);
            producer.send(new ProducerRecord<>(topics.examples(), ExampleKey.of(known).toString(), known));
            producer.flush();
            KafkaClientConfig throughProxy = new KafkaClientConfig(platform.bootstrapServers(),
                    RegistryConfig.forRegistry(registry.url()));
            LoopSettings settings = new LoopSettings("new-id-" + id, Duration.ofMillis(100), 100, Duration.ofMillis(100),
                    Duration.ofMillis(500));
            try (TrainerLoop loop = new TrainerLoop(throughProxy, settings, topics, () -> runner,
                    new TrainerMetrics(meters), Clock.systemUTC(), RunPhase.Listener.NONE).start()) {
                await().atMost(Duration.ofSeconds(20)).until(loop::isCaughtUp);
                registry.shut();
                // a producer with a newer LabelledExample schema (one more field): a schema id the trainer never resolved
                LabelledExample fresh = yes(task, 1, DatasetSplit.TRAIN);
                byte[] newId;
                try (AvroKafkaSerializer<GenericRecord> serializer = new AvroKafkaSerializer<>()) {
                    serializer.configure(direct.registry().serdeProperties(), false);
                    newId = serializer.serialize(topics.examples(), evolved(fresh));
                }
                try (KafkaProducer<byte[], byte[]> raw = new KafkaProducer<>(direct.producerProperties("raw-" + id),
                        new ByteArraySerializer(), new ByteArraySerializer())) {
                    raw.send(new ProducerRecord<>(topics.examples(), ExampleKey.of(fresh).toString().getBytes(), newId));
                }

                await().atMost(Duration.ofSeconds(15)).until(() -> loop.degraded().isPresent());
                assertThat(loop.degraded().get()).startsWith("degraded: registry unreachable");
                assertThat(runner.runs()).isEmpty();
                registry.open();

                await().atMost(Duration.ofSeconds(20)).until(() -> !runner.runs().isEmpty());
                TaskSnapshot run = runner.runs().get(0);
                assertThat(Stream.concat(run.train().stream(), run.validation().stream()).map(LabelledExample::getExampleId))
                        .containsExactlyInAnyOrder("new-id-TRAIN-0", "new-id-TRAIN-1");
                assertThat(meters.find("tunestream.trainer.dead.letters").counters()).isEmpty();
            }
        }
    }

    /** {@code example} written with a later version of its schema: an extra field with a default. */
    private static GenericRecord evolved(LabelledExample example) {
        Schema current = LabelledExample.getClassSchema();
        List<Schema.Field> fields = new java.util.ArrayList<>();
        for (Schema.Field f : current.getFields()) {
            fields.add(new Schema.Field(f, f.schema()));
        }
        fields.add(new Schema.Field("note", Schema.create(Schema.Type.STRING), "added later", ""));
        Schema later = Schema.createRecord(current.getName(), current.getDoc(), current.getNamespace(), false, fields);
        GenericData.Record record = new GenericData.Record(later);
        for (Schema.Field f : current.getFields()) {
            Object value = example.get(f.name());
            record.put(f.name(), value instanceof Enum<?> e
                    ? new GenericData.EnumSymbol(f.schema(), e.name()) : value);
        }
        record.put("note", "from a newer producer");
        return record;
    }

    private static List<Integer> versions(KafkaClientConfig kafka, TrainerTopics topics) {
        try (Deserializer<AdapterVersion> adapters = AvroSerdes.deserializer(AdapterVersion.class, kafka.registry())) {
            return RawTopic.read(kafka, topics.adapters(), true).stream()
                    .map(r -> adapters.deserialize(r.topic(), r.headers(), r.value()).getVersion()).toList();
        }
    }
}

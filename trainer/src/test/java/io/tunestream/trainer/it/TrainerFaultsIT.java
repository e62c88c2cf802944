package io.tunestream.trainer.it;

import static io.tunestream.trainer.testing.Fixtures.yes;
import static org.assertj.core.api.Assertions.as;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.InstanceOfAssertFactories.STRING;
import static org.awaitility.Awaitility.await;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.tunestream.devkit.PlatformEndpoints;
import io.tunestream.devkit.junit.LocalPlatformExtension;
import io.tunestream.schemas.AdapterVersion;
import io.tunestream.schemas.DatasetSplit;
import io.tunestream.schemas.DeadLetters;
import io.tunestream.schemas.ExampleKey;
import io.tunestream.schemas.Feedback;
import io.tunestream.schemas.LabelledExample;
import io.tunestream.schemas.TopicsAdmin;
import io.tunestream.schemas.Verdict;
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
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.Deserializer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Poison records mixed into each input of the trainer, and example deletion across a restart, with a
 * stand-in runner (the model is not the point): what is dead-lettered, which examples a run gets,
 * which version it publishes.
 */
@ExtendWith(LocalPlatformExtension.class)
class TrainerFaultsIT {

    /** Apicurio framing with a schema id no registry has: poison once the registry answers. */
    private static final byte[] UNKNOWN_SCHEMA_ID = ByteBuffer.allocate(12).put((byte) 0).putInt(987_654_321)
            .put(new byte[7]).array();

    private final SimpleMeterRegistry meters = new SimpleMeterRegistry();
    private KafkaClientConfig kafka;
    private TrainerTopics topics;
    private String group;
    private KafkaProducer<String, SpecificRecord> avro;
    private KafkaProducer<byte[], byte[]> raw;
    private TrainerLoop loop;

    private void setUp(PlatformEndpoints platform, String name) {
        String id = name + "-" + UUID.randomUUID().toString().substring(0, 8);
        kafka = new KafkaClientConfig(platform.bootstrapServers(), RegistryConfig.forRegistry(platform.registryUrl()));
        topics = new TrainerTopics(id + "-");
        group = id;
        try (Admin admin = Admin.create(kafka.adminProperties())) {
            new TopicsAdmin(admin, TopicsAdmin.Layout.catalogue(), Duration.ofSeconds(30)).ensure(topics.specs());
        }
        // the trainer checks, and does not register, its schemas (`ingest setup` does)
        new io.tunestream.schemas.registry.SchemaRegistration(kafka.registry()).registerAll(topics.specs());
        avro = new KafkaProducer<>(kafka.producerProperties(id + "-avro"));
        Map<String, Object> bytes = new HashMap<>(kafka.producerProperties(id + "-raw"));
        bytes.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        bytes.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        raw = new KafkaProducer<>(bytes);
    }

    @AfterEach
    void tearDown() {
        if (loop != null) {
            loop.close();
        }
        if (avro != null) {
            avro.close();
        }
        if (raw != null) {
            raw.close();
        }
    }

    private TrainerLoop startLoop(StandInRunner runner) {
        loop = new TrainerLoop(kafka, new LoopSettings(group, Duration.ofMillis(100), 100, Duration.ofMillis(100),
                Duration.ofMillis(500)), topics, () -> runner, new TrainerMetrics(meters), Clock.systemUTC(),
                RunPhase.Listener.NONE).start();
        return loop;
    }

    private RecordMetadata send(String topic, String key, SpecificRecord value) {
        return acked(avro.send(new ProducerRecord<>(topic, key, value)));
    }

    private RecordMetadata sendRaw(ProducerRecord<byte[], byte[]> record) {
        return acked(raw.send(record));
    }

    private static RecordMetadata acked(java.util.concurrent.Future<RecordMetadata> sent) {
        try {
            return sent.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        } catch (ExecutionException e) {
            throw new AssertionError(e.getCause());
        }
    }

    private static ProducerRecord<byte[], byte[]> poison(String topic, String key, byte[] value) {
        return new ProducerRecord<>(topic, key.getBytes(StandardCharsets.UTF_8), value);
    }

    private static String header(ConsumerRecord<byte[], byte[]> record, String name) {
        Header header = record.headers().lastHeader(name);
        return header == null ? null : new String(header.value(), StandardCharsets.UTF_8);
    }

    private static String source(RecordMetadata sent) {
        return sent.topic() + "/" + sent.partition() + "/" + sent.offset();
    }

    private static String source(ConsumerRecord<byte[], byte[]> deadLetter) {
        return header(deadLetter, DeadLetters.TOPIC_HEADER) + "/" + header(deadLetter, DeadLetters.PARTITION_HEADER)
                + "/" + header(deadLetter, DeadLetters.OFFSET_HEADER);
    }

    private List<AdapterVersion> committedAdapters() {
        try (Deserializer<AdapterVersion> decode = AvroSerdes.deserializer(AdapterVersion.class, kafka.registry())) {
            return RawTopic.read(kafka, topics.adapters(), true).stream()
                    .filter(r -> r.value() != null && r.value().length > 5 && r.value()[0] == 0
                            && ByteBuffer.wrap(r.value(), 1, 4).getInt() != 987_654_321)
                    .map(r -> decode.deserialize(r.topic(), r.headers(), r.value())).toList();
        }
    }

    @Test
    void shouldDeadLetterPoisonOfEveryInputWithItsSourceAndPublishAboveAnUnreadableVersion(PlatformEndpoints platform)
            throws Exception {
        setUp(platform, "poison");
        String task = "p";
        send(topics.templates(), task, Fixtures.template(task).setRetraining(Fixtures.retraining(4).build()).build());
        RecordMetadata badTemplate = sendRaw(poison(topics.templates(), "q", "{\"task\": \"q\"}".getBytes()));
        for (int i = 0; i < 3; i++) {
            LabelledExample example = yes(task, i, DatasetSplit.TRAIN);
            send(topics.examples(), ExampleKey.of(example).toString(), example);
        }
        RecordMetadata badExample = sendRaw(poison(topics.examples(), task + "/bad", UNKNOWN_SCHEMA_ID));
        // readable, but breaking the topics' rules: a task name with '/', a key naming another example
        RecordMetadata slashTask = send(topics.templates(), "a/b", Fixtures.template("a/b").build());
        RecordMetadata wrongKey = send(topics.examples(), task + "/other", yes(task, 9, DatasetSplit.TRAIN));
        // an adapter record the trainer published as v4 whose schema the registry no longer knows
        ProducerRecord<byte[], byte[]> lostAdapter = poison(topics.adapters(), task, UNKNOWN_SCHEMA_ID);
        lostAdapter.headers().add("tunestream.adapter.version", "4".getBytes(StandardCharsets.UTF_8));
        RecordMetadata badAdapter = sendRaw(lostAdapter);
        RecordMetadata badFeedback = sendRaw(poison(topics.feedback(), "req-0", new byte[] {1, 2, 3}));
        RecordMetadata goodFeedback = send(topics.feedback(), "req-1", Feedback.newBuilder().setRequestId("req-1")
                .setTask(task).setVerdict(Verdict.CORRECTED).setAnswerText(" no").setCorrection(" yes")
                .setFields(Map.of("question", "is 9 a number?")).build());

        StandInRunner first = new StandInRunner();
        startLoop(first);

        await().atMost(Duration.ofSeconds(20)).until(() -> !first.runs().isEmpty());
        TaskSnapshot run = first.runs().get(0);
        assertThat(Stream.concat(run.train().stream(), run.validation().stream()).map(LabelledExample::getExampleId))
                .containsExactlyInAnyOrder("p-TRAIN-0", "p-TRAIN-1", "p-TRAIN-2", "feedback:req-1");
        assertThat(run.nextVersion()).isEqualTo(5);
        await().atMost(Duration.ofSeconds(10)).until(() -> !committedAdapters().isEmpty());
        assertThat(committedAdapters()).extracting(AdapterVersion::getVersion).containsExactly(5);

        List<ConsumerRecord<byte[], byte[]>> deadLetters = RawTopic.read(kafka, topics.deadLetters(), true);
        assertThat(deadLetters).extracting(TrainerFaultsIT::source).containsExactlyInAnyOrder(source(badTemplate),
                source(badExample), source(badAdapter), source(badFeedback), source(slashTask), source(wrongKey));
        assertThat(deadLetters).filteredOn(d -> source(d).equals(source(wrongKey)))
                .extracting(d -> header(d, DeadLetters.REASON_HEADER)).containsExactly("cannot process a record of "
                        + topics.examples() + ": key 'p/other' does not name the example it holds ('p/p-TRAIN-9')");
        assertThat(deadLetters).filteredOn(d -> source(d).equals(source(slashTask)))
                .extracting(d -> header(d, DeadLetters.REASON_HEADER)).singleElement(as(STRING))
                .contains("task name 'a/b' must not contain '/'");
        ConsumerRecord<byte[], byte[]> example = deadLetters.stream()
                .filter(d -> source(d).equals(source(badExample))).findFirst().orElseThrow();
        assertThat(example.value()).isEqualTo(UNKNOWN_SCHEMA_ID);
        assertThat(new String(example.key(), StandardCharsets.UTF_8)).isEqualTo("p/bad");
        assertThat(header(example, DeadLetters.REASON_HEADER)).startsWith("the registry does not know the record's schema id");
        ConsumerRecord<byte[], byte[]> feedback = deadLetters.stream()
                .filter(d -> source(d).equals(source(badFeedback))).findFirst().orElseThrow();
        assertThat(header(feedback, DeadLetters.REASON_HEADER))
                .isEqualTo("not an Apicurio-serialized Feedback (3 bytes, expected magic byte 0 and a schema id)");
        try (Admin admin = Admin.create(kafka.adminProperties())) {
            Map<TopicPartition, OffsetAndMetadata> committed = admin.listConsumerGroupOffsets(group)
                    .partitionsToOffsetAndMetadata().get();
            for (RecordMetadata sent : List.of(badFeedback, goodFeedback)) {
                assertThat(committed.get(new TopicPartition(sent.topic(), sent.partition())).offset())
                        .as("feedback committed past %s", source(sent)).isGreaterThan(sent.offset());
            }
        }

        // restarted: the state topics are read again from the beginning, their poison is not dead-lettered twice
        loop.close();
        StandInRunner second = new StandInRunner();
        startLoop(second);
        await().atMost(Duration.ofSeconds(20)).until(loop::isCaughtUp);
        assertThat(RawTopic.read(kafka, topics.deadLetters(), true)).hasSize(6);
        assertThat(second.runs()).isEmpty();
    }

    @Test
    void shouldForgetADeletedExampleAlsoAfterARestart(PlatformEndpoints platform) {
        setUp(platform, "delete");
        String task = "d";
        send(topics.templates(), task, Fixtures.template(task).setRetraining(Fixtures.retraining(3).build()).build());
        for (int i = 0; i < 3; i++) {
            LabelledExample example = yes(task, i, DatasetSplit.TRAIN);
            send(topics.examples(), ExampleKey.of(example).toString(), example);
        }
        StandInRunner first = new StandInRunner();
        startLoop(first);
        await().atMost(Duration.ofSeconds(20)).until(() -> first.runs().size() == 1);

        avro.send(new ProducerRecord<>(topics.examples(), task + "/d-TRAIN-1", null));
        for (int i = 3; i < 6; i++) {
            LabelledExample example = yes(task, i, DatasetSplit.TRAIN);
            send(topics.examples(), ExampleKey.of(example).toString(), example);
        }
        await().atMost(Duration.ofSeconds(20)).until(() -> first.runs().size() == 2);
        Set<String> secondRun = ids(first.runs().get(1));
        assertThat(secondRun).containsExactlyInAnyOrder("d-TRAIN-0", "d-TRAIN-2", "d-TRAIN-3", "d-TRAIN-4", "d-TRAIN-5");

        loop.close();
        for (int i = 6; i < 9; i++) {
            LabelledExample example = yes(task, i, DatasetSplit.TRAIN);
            send(topics.examples(), ExampleKey.of(example).toString(), example);
        }
        StandInRunner restarted = new StandInRunner();
        startLoop(restarted);
        await().atMost(Duration.ofSeconds(20)).until(() -> restarted.runs().size() == 1);
        assertThat(ids(restarted.runs().get(0))).doesNotContain("d-TRAIN-1").hasSize(8);
        assertThat(restarted.runs().get(0).nextVersion()).isEqualTo(3);
    }

    private static Set<String> ids(TaskSnapshot run) {
        return Stream.concat(run.train().stream(), run.validation().stream()).map(LabelledExample::getExampleId)
                .collect(Collectors.toSet());
    }
}

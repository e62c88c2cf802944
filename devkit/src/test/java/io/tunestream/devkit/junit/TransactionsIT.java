package io.tunestream.devkit.junit;

import static org.assertj.core.api.Assertions.assertThat;

import io.tunestream.devkit.PlatformEndpoints;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** Transactions on the embedded broker: what a read_committed consumer sees. */
@ExtendWith(LocalPlatformExtension.class)
class TransactionsIT {
    private static final Duration DEADLINE = Duration.ofSeconds(30);
    private static PlatformEndpoints platformOfBeforeAll;

    private final PlatformEndpoints platform;
    private final String topic = "transactions-" + UUID.randomUUID();

    TransactionsIT(PlatformEndpoints platform) {
        this.platform = platform;
    }

    @BeforeAll
    static void rememberPlatform(PlatformEndpoints platform) {
        platformOfBeforeAll = platform;
    }

    @Test
    void shouldShowCommittedAndHideAbortedRecordsWhenConsumerReadsCommitted() throws Exception {
        try (Admin admin = Admin.create(Map.of("bootstrap.servers", platform.bootstrapServers()))) {
            admin.createTopics(List.of(new NewTopic(topic, 1, (short) 1))).all().get();
        }
        try (KafkaProducer<String, String> producer = transactionalProducer()) {
            producer.initTransactions();
            producer.beginTransaction();
            producer.send(new ProducerRecord<>(topic, "k", "committed-1"));
            producer.send(new ProducerRecord<>(topic, "k", "committed-2"));
            producer.commitTransaction();
            producer.beginTransaction();
            producer.send(new ProducerRecord<>(topic, "k", "aborted"));
            producer.flush();
            producer.abortTransaction();
            producer.beginTransaction();
            producer.send(new ProducerRecord<>(topic, "k", "committed-3"));
            producer.commitTransaction();
        }

        assertThat(readToEnd("read_committed")).containsExactly("committed-1", "committed-2", "committed-3");
        assertThat(readToEnd("read_uncommitted")).containsExactly("committed-1", "committed-2", "aborted", "committed-3");
    }

    @Test
    void shouldInjectTheSamePlatformIntoConstructorsLifecycleMethodsAndTests(PlatformEndpoints parameter) {
        assertThat(parameter).isEqualTo(platform).isEqualTo(platformOfBeforeAll);
        assertThat(parameter.bootstrapServers()).startsWith("127.0.0.1:");
        assertThat(parameter.registryUrl()).startsWith("http://127.0.0.1:");
    }

    private KafkaProducer<String, String> transactionalProducer() {
        return new KafkaProducer<>(Map.of(
                ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, platform.bootstrapServers(),
                ProducerConfig.TRANSACTIONAL_ID_CONFIG, "tx-" + topic),
                new StringSerializer(), new StringSerializer());
    }

    /** Every value up to the partition's end as the isolation level shows it. */
    private List<String> readToEnd(String isolationLevel) {
        TopicPartition partition = new TopicPartition(topic, 0);
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(Map.of(
                ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, platform.bootstrapServers(),
                ConsumerConfig.ISOLATION_LEVEL_CONFIG, isolationLevel),
                new StringDeserializer(), new StringDeserializer())) {
            consumer.assign(List.of(partition));
            consumer.seekToBeginning(List.of(partition));
            long end = consumer.endOffsets(List.of(partition)).get(partition);
            List<String> values = new ArrayList<>();
            long deadline = System.nanoTime() + DEADLINE.toNanos();
            while (consumer.position(partition) < end && System.nanoTime() < deadline) {
                for (ConsumerRecord<String, String> record : consumer.poll(Duration.ofMillis(200))) {
                    values.add(record.value());
                }
            }
            return values;
        }
    }
}

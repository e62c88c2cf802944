package io.tunestream.local;

import io.tunestream.schemas.kafka.KafkaClientConfig;
import io.tunestream.schemas.registry.AvroSerdes;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;

/**
 * Every committed value of a topic (read_committed, from the beginning), gathered as it is read: a test
 * polls {@link #read()} inside an Awaitility condition and asserts on what the services wrote.
 */
final class CommittedRecords<T extends SpecificRecord> implements AutoCloseable {

    private final KafkaConsumer<String, T> consumer;
    private final List<T> seen = new ArrayList<>();

    CommittedRecords(KafkaClientConfig kafka, String topic, Class<T> type) {
        consumer = new KafkaConsumer<>(kafka.consumerProperties("it-committed-" + topic, null), new StringDeserializer(),
                AvroSerdes.deserializer(type, kafka.registry()));
        List<TopicPartition> partitions = consumer.partitionsFor(topic, Duration.ofSeconds(30)).stream()
                .map(p -> new TopicPartition(topic, p.partition())).toList();
        consumer.assign(partitions);
        consumer.seekToBeginning(partitions);
    }

    /** What was committed so far, after one more short poll; tombstones left out. */
    List<T> read() {
        ConsumerRecords<String, T> records = consumer.poll(Duration.ofMillis(100));
        for (ConsumerRecord<String, T> record : records) {
            if (record.value() != null) {
                seen.add(record.value());
            }
        }
        return List.copyOf(seen);
    }

    @Override
    public void close() {
        consumer.close();
    }
}

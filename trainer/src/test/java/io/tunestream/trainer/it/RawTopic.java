package io.tunestream.trainer.it;

import io.tunestream.schemas.kafka.KafkaClientConfig;
import io.tunestream.schemas.registry.AvroSerdes;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.Deserializer;

/** Every record of a topic up to its current end, as bytes (poison included), committed only or all. */
public final class RawTopic {

    private RawTopic() {
    }

    public static List<ConsumerRecord<byte[], byte[]>> read(KafkaClientConfig kafka, String topic, boolean committedOnly) {
        Map<String, Object> properties = new HashMap<>(kafka.consumerProperties("raw-reader", null));
        properties.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        properties.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        properties.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, committedOnly ? "read_committed" : "read_uncommitted");
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(properties)) {
            List<TopicPartition> partitions = consumer.partitionsFor(topic, Duration.ofSeconds(10)).stream()
                    .map(p -> new TopicPartition(topic, p.partition())).toList();
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            Map<TopicPartition, Long> end = consumer.endOffsets(partitions);
            List<ConsumerRecord<byte[], byte[]>> records = new ArrayList<>();
            long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
            while (partitions.stream().anyMatch(p -> consumer.position(p) < end.get(p))) {
                if (System.nanoTime() > deadline) {
                    throw new AssertionError(topic + " not read to its end " + end + " within 10 s");
                }
                consumer.poll(Duration.ofMillis(100)).forEach(records::add);
            }
            return records;
        }
    }

    /** The committed values of a topic up to its current end, decoded as {@code type} from the registry; tombstones left out. */
    public static <T extends SpecificRecord> List<T> values(KafkaClientConfig kafka, String topic, Class<T> type) {
        try (Deserializer<T> decode = AvroSerdes.deserializer(type, kafka.registry())) {
            return read(kafka, topic, true).stream().filter(r -> r.value() != null)
                    .map(r -> decode.deserialize(r.topic(), r.headers(), r.value())).toList();
        }
    }
}

package io.tunestream.ingest;

import io.tunestream.devkit.PlatformEndpoints;
import io.tunestream.schemas.kafka.KafkaClientConfig;
import io.tunestream.schemas.registry.AvroSerdes;
import io.tunestream.schemas.registry.RegistryConfig;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;

/** Reads a whole topic (committed records, up to its end now) for assertions. */
public final class TopicReader {

    private TopicReader() {
    }

    public static KafkaClientConfig kafka(PlatformEndpoints platform) {
        return new KafkaClientConfig(platform.bootstrapServers(), RegistryConfig.forRegistry(platform.registryUrl()));
    }

    /**
     * The committed values of {@code topic} that pass {@code filter}, read until at least {@code
     * expected} of them arrived and the end of the topic is reached, or 30 s passed. (A
     * transaction's commit markers are written just after commitTransaction returns, so records
     * become visible to read_committed consumers a moment later.)
     */
    public static <T extends SpecificRecord> List<T> readAll(PlatformEndpoints platform, String topic, Class<T> type,
                                                             Predicate<T> filter, int expected) {
        KafkaClientConfig kafka = kafka(platform);
        List<T> values = new ArrayList<>();
        try (KafkaConsumer<String, T> consumer = new KafkaConsumer<>(kafka.consumerProperties("test-reader", null),
                new StringDeserializer(), AvroSerdes.deserializer(type, kafka.registry()))) {
            List<TopicPartition> partitions = consumer.partitionsFor(topic, Duration.ofSeconds(10)).stream()
                    .map(p -> new TopicPartition(topic, p.partition())).toList();
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            long deadline = System.currentTimeMillis() + 30_000;
            while (System.currentTimeMillis() < deadline) {
                Map<TopicPartition, Long> end = consumer.endOffsets(partitions);
                if (values.size() >= expected && partitions.stream().allMatch(p -> consumer.position(p) >= end.get(p))) {
                    break;
                }
                for (ConsumerRecord<String, T> record : consumer.poll(Duration.ofMillis(100))) {
                    if (record.value() != null && filter.test(record.value())) {
                        values.add(record.value());
                    }
                }
            }
        }
        return values;
    }
}

package io.tunestream.trainer.peft;

import io.tunestream.schemas.AdapterVersion;
import io.tunestream.schemas.kafka.KafkaClientConfig;
import io.tunestream.schemas.registry.AvroSerdes;
import io.tunestream.trainer.loop.TrainerTopics;
import java.time.Clock;
import java.time.Duration;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.function.Consumer;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.StringDeserializer;

/**
 * The adapter versions of one task still on the compacted {@code adapters} topic, read to its committed end
 * (compaction keeps the latest; younger records may still be there): what {@code adapters export} writes out.
 * Numbering a new version is the task owner's business (the trainer's API), not this reader's.
 *
 * @param task     the task
 * @param versions the task's adapter versions read, by version (unmodifiable)
 */
public record TaskAdapterHistory(String task, SortedMap<Integer, AdapterVersion> versions) {

    public TaskAdapterHistory {
        Objects.requireNonNull(task, "task");
        versions = Collections.unmodifiableSortedMap(new TreeMap<>(versions));
    }

    /** The newest version of the task: the one serving applies. */
    public Optional<AdapterVersion> latest() {
        return versions.isEmpty() ? Optional.empty() : Optional.of(versions.get(versions.lastKey()));
    }

    /**
     * Reads {@code adapters} from the beginning to its committed end ({@code read_committed}) within {@code timeout}.
     *
     * @throws IllegalStateException when the topic is not read to its end in time
     */
    public static TaskAdapterHistory read(KafkaClientConfig kafka, TrainerTopics topics, String task, Duration timeout,
                                          Clock clock) {
        Map<String, Object> properties = new HashMap<>(kafka.consumerProperties("tunestream-adapters-cli", null));
        properties.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        TreeMap<Integer, AdapterVersion> versions = new TreeMap<>();
        try (KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(properties, new StringDeserializer(),
                new ByteArrayDeserializer());
             Deserializer<AdapterVersion> adapters = AvroSerdes.deserializer(AdapterVersion.class, kafka.registry())) {
            readToEnd(consumer, topics.adapters(), timeout, clock, record -> {
                if (task.equals(record.key()) && record.value() != null) {
                    AdapterVersion adapter = adapters.deserialize(record.topic(), record.headers(), record.value());
                    versions.put(adapter.getVersion(), adapter);
                }
            });
        }
        return new TaskAdapterHistory(task, versions);
    }

    private static void readToEnd(KafkaConsumer<String, byte[]> consumer, String topic, Duration timeout, Clock clock,
                                  Consumer<ConsumerRecord<String, byte[]>> each) {
        List<TopicPartition> partitions = consumer.partitionsFor(topic, timeout).stream()
                .map(p -> new TopicPartition(topic, p.partition())).toList();
        consumer.assign(partitions);
        consumer.seekToBeginning(partitions);
        // read_committed: the end offsets are the last stable offsets, so an open transaction is not waited for
        Map<TopicPartition, Long> end = consumer.endOffsets(partitions, timeout);
        long deadline = clock.millis() + timeout.toMillis();
        while (partitions.stream().anyMatch(p -> consumer.position(p, timeout) < end.get(p))) {
            if (clock.millis() > deadline) {
                throw new IllegalStateException("topic " + topic + " was not read to its end (" + end + ") within "
                        + timeout);
            }
            consumer.poll(Duration.ofMillis(200)).forEach(each);
        }
    }
}

package io.tunestream.trainer.peft;

import io.tunestream.schemas.AdapterCheckpoint;
import io.tunestream.schemas.AdapterVersion;
import io.tunestream.schemas.TaskTemplate;
import io.tunestream.schemas.kafka.KafkaClientConfig;
import io.tunestream.schemas.registry.AvroSerdes;
import io.tunestream.trainer.loop.TrainerTopics;
import io.tunestream.trainer.loop.VersionHeader;
import java.time.Clock;
import java.time.Duration;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalInt;
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
 * What the compacted topics hold for one task, read to their committed end: its template, the adapter versions
 * still on {@code adapters} (compaction keeps the latest; younger records may still be there), and the highest
 * version on {@code adapters} and {@code adapter-checkpoints} (from the version header, else the value), above which
 * a new version must be numbered: versions are never reused.
 *
 * @param task            the task
 * @param template        its template, empty when it has none
 * @param versions        the task's adapter versions read, by version (unmodifiable)
 * @param highestVersion  the highest version seen on either topic, 0 when none
 */
public record TaskAdapterHistory(String task, Optional<TaskTemplate> template, SortedMap<Integer, AdapterVersion> versions,
                                 int highestVersion) {

    public TaskAdapterHistory {
        Objects.requireNonNull(task, "task");
        Objects.requireNonNull(template, "template");
        versions = Collections.unmodifiableSortedMap(new TreeMap<>(versions));
    }

    /** The newest version of the task: the one serving applies. */
    public Optional<AdapterVersion> latest() {
        return versions.isEmpty() ? Optional.empty() : Optional.of(versions.get(versions.lastKey()));
    }

    /** The version a new adapter of the task gets. */
    public int nextVersion() {
        return highestVersion + 1;
    }

    /**
     * Reads {@code task-templates}, {@code adapters} and {@code adapter-checkpoints} from the beginning to their
     * committed end ({@code read_committed}), each within {@code timeout}.
     *
     * @throws IllegalStateException when a topic is not read to its end in time
     */
    public static TaskAdapterHistory read(KafkaClientConfig kafka, TrainerTopics topics, String task, Duration timeout,
                                          Clock clock) {
        Map<String, Object> properties = new HashMap<>(kafka.consumerProperties("tunestream-adapters-cli", null));
        properties.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        TaskTemplate[] template = new TaskTemplate[1];
        TreeMap<Integer, AdapterVersion> versions = new TreeMap<>();
        int[] highest = {0};
        try (KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(properties, new StringDeserializer(),
                new ByteArrayDeserializer());
             Deserializer<TaskTemplate> templates = AvroSerdes.deserializer(TaskTemplate.class, kafka.registry());
             Deserializer<AdapterVersion> adapters = AvroSerdes.deserializer(AdapterVersion.class, kafka.registry());
             Deserializer<AdapterCheckpoint> checkpoints = AvroSerdes.deserializer(AdapterCheckpoint.class,
                     kafka.registry())) {
            readToEnd(consumer, topics.templates(), timeout, clock, record -> {
                if (task.equals(record.key())) {
                    template[0] = record.value() == null ? null
                            : templates.deserialize(record.topic(), record.headers(), record.value());
                }
            });
            readToEnd(consumer, topics.adapters(), timeout, clock, record -> {
                if (task.equals(record.key()) && record.value() != null) {
                    AdapterVersion adapter = adapters.deserialize(record.topic(), record.headers(), record.value());
                    versions.put(adapter.getVersion(), adapter);
                    highest[0] = Math.max(highest[0], adapter.getVersion());
                }
            });
            readToEnd(consumer, topics.checkpoints(), timeout, clock, record -> {
                if (task.equals(record.key()) && record.value() != null) {
                    OptionalInt version = VersionHeader.read(record.headers());
                    int v = version.isPresent() ? version.getAsInt()
                            : checkpoints.deserialize(record.topic(), record.headers(), record.value()).getVersion();
                    highest[0] = Math.max(highest[0], v);
                }
            });
        }
        return new TaskAdapterHistory(task, Optional.ofNullable(template[0]), versions, highest[0]);
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

package io.tunestream.ingest.template;

import io.tunestream.schemas.TaskTemplate;
import io.tunestream.schemas.Topics;
import io.tunestream.schemas.kafka.KafkaClientConfig;
import io.tunestream.schemas.registry.AvroSerdes;
import java.time.Duration;
import java.time.Instant;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;

/** The task templates known to a command, by task name: from the compacted topic or a file. */
public record TemplateCatalog(Map<String, TaskTemplate> byTask) {

    public TemplateCatalog {
        byTask = Map.copyOf(byTask);
    }

    public static TemplateCatalog of(Collection<TaskTemplate> templates) {
        Map<String, TaskTemplate> byTask = new LinkedHashMap<>();
        templates.forEach(t -> byTask.put(t.getTask(), t));
        return new TemplateCatalog(byTask);
    }

    /**
     * The latest template of every task on {@code task-templates} (deleted ones, with a null
     * value, left out), read from the beginning to the end offsets as of this call.
     *
     * @throws IllegalStateException if the end is not reached within {@code timeout}
     */
    public static TemplateCatalog fromTopic(KafkaClientConfig kafka, Duration timeout) {
        String topic = Topics.TASK_TEMPLATES.name();
        Map<String, TaskTemplate> byTask = new LinkedHashMap<>();
        try (KafkaConsumer<String, TaskTemplate> consumer = new KafkaConsumer<>(
                kafka.consumerProperties("tunestream-ingest-templates", null), new StringDeserializer(),
                AvroSerdes.deserializer(TaskTemplate.class, kafka.registry()))) {
            List<TopicPartition> partitions = consumer.partitionsFor(topic, timeout).stream()
                    .map(p -> new TopicPartition(topic, p.partition())).toList();
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            Map<TopicPartition, Long> end = consumer.endOffsets(partitions, timeout);
            Instant deadline = Instant.now().plus(timeout);
            while (partitions.stream().anyMatch(p -> consumer.position(p) < end.get(p))) {
                if (Instant.now().isAfter(deadline)) {
                    throw new IllegalStateException("could not read topic " + topic + " to its end within " + timeout);
                }
                for (ConsumerRecord<String, TaskTemplate> record : consumer.poll(Duration.ofMillis(200))) {
                    if (record.value() == null) {
                        byTask.remove(record.key());
                    } else {
                        byTask.put(record.value().getTask(), record.value());
                    }
                }
            }
        }
        return new TemplateCatalog(byTask);
    }

    public Optional<TaskTemplate> find(String task) {
        return Optional.ofNullable(byTask.get(task));
    }

    /** "a, b, c", or "none" — for messages about unknown tasks. */
    public String knownTasks() {
        return byTask.isEmpty() ? "none" : String.join(", ", new TreeSet<>(byTask.keySet()));
    }
}

package io.tunestream.ingest.template;

import io.tunestream.schemas.TaskTemplate;
import io.tunestream.schemas.Topics;
import io.tunestream.schemas.kafka.KafkaClientConfig;
import io.tunestream.schemas.registry.AvroSerdes;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;

/**
 * The templates of {@code task-templates}, kept by one consumer that reads the compacted topic
 * once and then only what was added since: {@link #current()} catches up to the end offsets as of
 * the call (one offsets request when nothing changed), so a template registered before the call
 * is in the answer. Thread-safe (calls are serialized); the owner closes it.
 */
public final class TemplateCache implements AutoCloseable {

    private final KafkaConsumer<String, TaskTemplate> consumer;
    private final List<TopicPartition> partitions;
    private final Duration timeout;
    private final Map<String, TaskTemplate> byTask = new LinkedHashMap<>();

    /**
     * A cache positioned at the beginning of {@code task-templates}.
     *
     * @param timeout how long a call may wait for Kafka and the registry
     */
    public TemplateCache(KafkaClientConfig kafka, Duration timeout) {
        this.timeout = timeout;
        this.consumer = new KafkaConsumer<>(kafka.consumerProperties("tunestream-ingest-templates", null),
                new StringDeserializer(), AvroSerdes.deserializer(TaskTemplate.class, kafka.registry()));
        String topic = Topics.TASK_TEMPLATES.name();
        try {
            partitions = consumer.partitionsFor(topic, timeout).stream()
                    .map(p -> new TopicPartition(topic, p.partition())).toList();
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
        } catch (RuntimeException e) {
            consumer.close();
            throw e;
        }
    }

    /**
     * The latest template of every task (deleted ones, with a null value, left out), read up to
     * the end offsets as of this call.
     *
     * @throws IllegalStateException if the end is not reached within the timeout
     */
    public synchronized TemplateCatalog current() {
        String topic = Topics.TASK_TEMPLATES.name();
        Map<TopicPartition, Long> end = consumer.endOffsets(partitions, timeout);
        Instant deadline = Instant.now().plus(timeout);
        while (partitions.stream().anyMatch(p -> consumer.position(p, timeout) < end.get(p))) {
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
        return new TemplateCatalog(byTask);
    }

    @Override
    public synchronized void close() {
        consumer.close();
    }
}

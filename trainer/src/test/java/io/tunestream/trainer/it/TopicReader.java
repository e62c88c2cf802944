package io.tunestream.trainer.it;

import io.tunestream.schemas.kafka.KafkaClientConfig;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;

/** Reads a whole topic with a read_committed consumer, from the beginning, until a condition holds. */
final class TopicReader<T> implements AutoCloseable {

    private final KafkaConsumer<String, Object> consumer;
    private final Class<T> type;
    private final List<T> seen = new ArrayList<>();

    TopicReader(KafkaClientConfig kafka, String topic, Class<T> type) {
        this.type = type;
        this.consumer = new KafkaConsumer<>(kafka.consumerProperties("it-reader-" + topic, null));
        List<TopicPartition> partitions = consumer.partitionsFor(topic, Duration.ofSeconds(30)).stream()
                .map(p -> new TopicPartition(topic, p.partition())).toList();
        consumer.assign(partitions);
        consumer.seekToBeginning(partitions);
    }

    /** Every value read so far (polling again first) once {@code until} holds for them. */
    List<T> await(Predicate<List<T>> until, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            for (ConsumerRecord<String, Object> record : consumer.poll(Duration.ofMillis(200))) {
                if (record.value() != null) {
                    seen.add(type.cast(record.value()));
                }
            }
            if (until.test(seen)) {
                return List.copyOf(seen);
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("condition not met within " + timeout + "; read " + seen.size() + " records: "
                        + seen);
            }
        }
    }

    @Override
    public void close() {
        consumer.close();
    }
}

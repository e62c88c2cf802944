package io.tunestream.trainer.loop;

import io.tunestream.schemas.DeadLetters;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.Headers;

/**
 * The source coordinates (topic, partition, offset) already in the trainer's dead-letter topic. The
 * trainer reads its state topics from the beginning at every start, so without this a poison record
 * of a compacted topic would be dead-lettered again at each start; with it, once (while the dead
 * letter is retained). Confined to the loop's thread.
 */
final class DeadLetterLog {

    private final Set<String> sources = new HashSet<>();

    /** Whether the record at these coordinates is in the dead-letter topic already. */
    boolean contains(String topic, int partition, long offset) {
        return sources.contains(coordinates(topic, partition, offset));
    }

    void add(String topic, int partition, long offset) {
        sources.add(coordinates(topic, partition, offset));
    }

    int size() {
        return sources.size();
    }

    /**
     * Reads the dead-letter topic up to its end at the time of the call.
     *
     * @param consumer a consumer of raw bytes, not subscribed; this reads with it and unassigns it
     * @throws IllegalStateException when the end is not reached within {@code timeout}
     */
    static DeadLetterLog read(KafkaConsumer<byte[], byte[]> consumer, String topic, Duration timeout) {
        DeadLetterLog log = new DeadLetterLog();
        List<TopicPartition> partitions = consumer.partitionsFor(topic, timeout).stream()
                .map(p -> new TopicPartition(topic, p.partition())).toList();
        consumer.assign(partitions);
        consumer.seekToBeginning(partitions);
        Map<TopicPartition, Long> end = consumer.endOffsets(partitions, timeout);
        long deadline = System.nanoTime() + timeout.toNanos();
        while (partitions.stream().anyMatch(p -> consumer.position(p) < end.get(p))) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("dead-letter topic " + topic + " not read to its end " + end + " within "
                        + timeout);
            }
            for (ConsumerRecord<byte[], byte[]> record : consumer.poll(Duration.ofMillis(200))) {
                Headers headers = record.headers();
                String source = text(headers.lastHeader(DeadLetters.TOPIC_HEADER));
                String partition = text(headers.lastHeader(DeadLetters.PARTITION_HEADER));
                String offset = text(headers.lastHeader(DeadLetters.OFFSET_HEADER));
                if (source != null && partition != null && offset != null) {
                    log.sources.add(source + '/' + partition + '/' + offset);
                }
            }
        }
        consumer.unsubscribe();
        return log;
    }

    private static String text(Header header) {
        return header == null || header.value() == null ? null : new String(header.value(), StandardCharsets.UTF_8);
    }

    private static String coordinates(String topic, int partition, long offset) {
        return topic + '/' + partition + '/' + offset;
    }
}

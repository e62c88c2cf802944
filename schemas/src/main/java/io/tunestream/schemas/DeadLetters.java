package io.tunestream.schemas;

import java.nio.charset.StandardCharsets;
import java.util.Objects;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.header.internals.RecordHeaders;

/**
 * The one format of a dead letter, for every DLQ of Tunestream: the record as it arrived (raw key,
 * value and headers) plus headers naming why it can never be processed and where it came from.
 */
public final class DeadLetters {

    public static final String REASON_HEADER = "tunestream.dlq.reason";
    public static final String EXCEPTION_HEADER = "tunestream.dlq.exception";
    public static final String TOPIC_HEADER = "tunestream.dlq.topic";
    public static final String PARTITION_HEADER = "tunestream.dlq.partition";
    public static final String OFFSET_HEADER = "tunestream.dlq.offset";

    /** Longest reason header kept, so a dead letter never outgrows its topic because of its reason. */
    public static final int MAX_REASON_CHARS = 4000;

    private DeadLetters() {
    }

    /**
     * The dead letter of {@code record}, for {@code deadLetterTopic}.
     *
     * @param reason    why the record can never be processed
     * @param exception what showed it (its class name goes in a header), or null
     */
    public static ProducerRecord<byte[], byte[]> of(String deadLetterTopic, ConsumerRecord<byte[], byte[]> record,
                                                    String reason, Throwable exception) {
        return new ProducerRecord<>(deadLetterTopic, null, record.key(), record.value(),
                headers(record.headers(), reason, exception, record.topic(), record.partition(), record.offset()));
    }

    /** {@code original}'s headers plus the dead-letter headers. */
    public static Headers headers(Headers original, String reason, Throwable exception, String topic, int partition,
                                  long offset) {
        Objects.requireNonNull(reason, "reason");
        var headers = new RecordHeaders(original == null ? new org.apache.kafka.common.header.Header[0]
                : original.toArray());
        String kept = reason.length() > MAX_REASON_CHARS ? reason.substring(0, MAX_REASON_CHARS) + "…" : reason;
        headers.add(REASON_HEADER, utf8(kept));
        headers.add(EXCEPTION_HEADER, utf8(exception == null ? "" : exception.getClass().getName()));
        headers.add(TOPIC_HEADER, utf8(topic));
        headers.add(PARTITION_HEADER, utf8(Integer.toString(partition)));
        headers.add(OFFSET_HEADER, utf8(Long.toString(offset)));
        return headers;
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}

package io.tunestream.serving.topology;

import io.apicurio.registry.rest.client.models.ProblemDetails;
import io.tunestream.serving.ops.ServingMetrics;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.streams.errors.DeserializationExceptionHandler;
import org.apache.kafka.streams.errors.ErrorHandlerContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sends a request that cannot be deserialized to the dead-letter topic, as it arrived (raw key,
 * value and headers) plus the reason in headers, and lets the stream go on. Kafka Streams produces
 * the dead letter in the same transaction as the input offset, so it is written exactly once.
 * Undeserializable records of the global topics (templates, adapters) are logged and skipped.
 *
 * <p>Kafka Streams creates the handler by class name; {@link #configs} gives the entries of the
 * streams configuration it reads.
 */
public final class DeadLetterHandler implements DeserializationExceptionHandler {

    /** The requests topic (string). */
    public static final String REQUESTS_TOPIC_CONFIG = "tunestream.serving.requests.topic";
    /** The dead-letter topic (string). */
    public static final String DEAD_LETTER_TOPIC_CONFIG = "tunestream.serving.dead.letter.topic";
    /** The {@link ServingMetrics} instance to count dead letters in (object, optional). */
    public static final String METRICS_CONFIG = "tunestream.serving.metrics";

    public static final String REASON_HEADER = "tunestream.dlq.reason";
    public static final String EXCEPTION_HEADER = "tunestream.dlq.exception";
    public static final String TOPIC_HEADER = "tunestream.dlq.topic";
    public static final String PARTITION_HEADER = "tunestream.dlq.partition";
    public static final String OFFSET_HEADER = "tunestream.dlq.offset";

    private static final Logger LOG = LoggerFactory.getLogger(DeadLetterHandler.class);

    private String requestsTopic;
    private String deadLetterTopic;
    private ServingMetrics metrics;

    /** The streams configuration entries this handler needs. */
    public static Map<String, Object> configs(ServingTopics topics, ServingMetrics metrics) {
        return Map.of(
                "deserialization.exception.handler", DeadLetterHandler.class.getName(),
                REQUESTS_TOPIC_CONFIG, topics.requests(),
                DEAD_LETTER_TOPIC_CONFIG, topics.deadLetter(),
                METRICS_CONFIG, metrics);
    }

    @Override
    public void configure(Map<String, ?> configs) {
        requestsTopic = required(configs, REQUESTS_TOPIC_CONFIG);
        deadLetterTopic = required(configs, DEAD_LETTER_TOPIC_CONFIG);
        Object m = configs.get(METRICS_CONFIG);
        metrics = m instanceof ServingMetrics sm ? sm : null;
    }

    private static String required(Map<String, ?> configs, String key) {
        Object value = configs.get(key);
        if (!(value instanceof String s) || s.isBlank()) {
            throw new IllegalArgumentException(DeadLetterHandler.class.getSimpleName() + " needs the streams config '"
                    + key + "' (a topic name), was " + value);
        }
        return s;
    }

    @Override
    public Response handleError(ErrorHandlerContext context, ConsumerRecord<byte[], byte[]> record,
                                Exception exception) {
        String reason = reason(exception);
        if (!requestsTopic.equals(record.topic())) {
            LOG.error("skipped undeserializable record of {}-{} at offset {}: {}", record.topic(), record.partition(),
                    record.offset(), reason);
            return Response.resume();
        }
        var headers = new RecordHeaders(record.headers().toArray());
        headers.add(REASON_HEADER, utf8(reason));
        headers.add(EXCEPTION_HEADER, utf8(exception.getClass().getName()));
        headers.add(TOPIC_HEADER, utf8(record.topic()));
        headers.add(PARTITION_HEADER, utf8(Integer.toString(record.partition())));
        headers.add(OFFSET_HEADER, utf8(Long.toString(record.offset())));
        LOG.warn("request at {}-{} offset {} sent to {}: {}", record.topic(), record.partition(), record.offset(),
                deadLetterTopic, reason);
        if (metrics != null) {
            metrics.deadLettered();
        }
        return Response.resume(List.of(new ProducerRecord<>(deadLetterTopic, null, record.key(), record.value(),
                headers)));
    }

    /** The exception's message followed by its causes', so the header says what was wrong with the bytes. */
    static String reason(Throwable exception) {
        var text = new StringBuilder();
        for (Throwable t = exception; t != null && text.length() < 2000; t = t.getCause()) {
            if (!text.isEmpty()) {
                text.append(" <- ");
            }
            if (t instanceof ProblemDetails problem) {
                // the registry's error: its message is only the class name
                text.append("registry: ").append(problem.getTitle()).append(" (").append(problem.getDetail())
                        .append(')');
            } else {
                text.append(t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage());
            }
            if (t.getCause() == t) {
                break;
            }
        }
        return text.toString();
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}

package io.tunestream.serving.topology;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.tunestream.serving.ops.ServingMetrics;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.streams.errors.DeserializationExceptionHandler;
import org.junit.jupiter.api.Test;

class DeadLetterHandlerTest {

    private final ServingTopics topics = ServingTopics.prefixed("t-");

    private DeadLetterHandler handler() {
        var handler = new DeadLetterHandler();
        handler.configure(DeadLetterHandler.configs(topics, new ServingMetrics(new SimpleMeterRegistry())));
        return handler;
    }

    private static String header(org.apache.kafka.clients.producer.ProducerRecord<byte[], byte[]> record, String key) {
        return new String(record.headers().lastHeader(key).value(), StandardCharsets.UTF_8);
    }

    @Test
    void shouldSendTheRawRecordWithTheReasonInHeadersAndResume() {
        var record = new ConsumerRecord<>(topics.requests(), 3, 42L, "k".getBytes(StandardCharsets.UTF_8),
                new byte[] {9, 9});
        var exception = new SerializationException("cannot read InferenceRequest",
                new IllegalArgumentException("Length is negative: -128"));

        var response = handler().handleError(null, record, exception);

        assertThat(response.result()).isEqualTo(DeserializationExceptionHandler.Result.RESUME);
        assertThat(response.deadLetterQueueRecords()).hasSize(1);
        var dead = response.deadLetterQueueRecords().get(0);
        assertThat(dead.topic()).isEqualTo("t-requests-dlq");
        assertThat(dead.key()).isEqualTo("k".getBytes(StandardCharsets.UTF_8));
        assertThat(dead.value()).containsExactly(9, 9);
        assertThat(header(dead, DeadLetterHandler.REASON_HEADER))
                .isEqualTo("cannot read InferenceRequest <- Length is negative: -128");
        assertThat(header(dead, DeadLetterHandler.EXCEPTION_HEADER))
                .isEqualTo("org.apache.kafka.common.errors.SerializationException");
        assertThat(header(dead, DeadLetterHandler.TOPIC_HEADER)).isEqualTo("t-requests");
        assertThat(header(dead, DeadLetterHandler.PARTITION_HEADER)).isEqualTo("3");
        assertThat(header(dead, DeadLetterHandler.OFFSET_HEADER)).isEqualTo("42");
    }

    @Test
    void shouldSkipWithoutDeadLetterWhenTheRecordIsNotARequest() {
        var record = new ConsumerRecord<>(topics.adapters(), 0, 1L, new byte[0], new byte[] {1});

        var response = handler().handleError(null, record, new SerializationException("bad adapter"));

        assertThat(response.result()).isEqualTo(DeserializationExceptionHandler.Result.RESUME);
        assertThat(response.deadLetterQueueRecords()).isEmpty();
    }

    @Test
    void shouldRefuseToStartWithoutTheDeadLetterTopic() {
        Map<String, Object> configs = new HashMap<>(DeadLetterHandler.configs(topics,
                new ServingMetrics(new SimpleMeterRegistry())));
        configs.remove(DeadLetterHandler.DEAD_LETTER_TOPIC_CONFIG);

        assertThatThrownBy(() -> new DeadLetterHandler().configure(configs))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("DeadLetterHandler needs the streams config 'tunestream.serving.dead.letter.topic' "
                        + "(a topic name), was null");
    }
}

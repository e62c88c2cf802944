package io.tunestream.serving.topology;

import io.tunestream.schemas.InferenceRequest;
import io.tunestream.serving.serde.AvroBinarySerde;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Objects;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serializer;

/**
 * A validated request waiting in the batch buffer.
 *
 * @param arrivedAtMillis wall-clock time the serving app first processed it (the queue time starts here)
 * @param request         the request
 */
record BufferedRequest(long arrivedAtMillis, InferenceRequest request) {

    BufferedRequest {
        Objects.requireNonNull(request, "request");
    }

    /** 8 bytes of arrival time, then the request's Avro binary. */
    static final class BufferSerde implements Serde<BufferedRequest> {
        private final AvroBinarySerde<InferenceRequest> avro =
                new AvroBinarySerde<>(InferenceRequest.class, InferenceRequest.getClassSchema());

        @Override
        public Serializer<BufferedRequest> serializer() {
            return (topic, value) -> {
                if (value == null) {
                    return null;
                }
                byte[] body = avro.encode(value.request());
                return ByteBuffer.allocate(Long.BYTES + body.length).putLong(value.arrivedAtMillis()).put(body).array();
            };
        }

        @Override
        public Deserializer<BufferedRequest> deserializer() {
            return (topic, bytes) -> bytes == null ? null
                    : new BufferedRequest(ByteBuffer.wrap(bytes).getLong(),
                            avro.decode(Arrays.copyOfRange(bytes, Long.BYTES, bytes.length)));
        }
    }
}

package io.tunestream.serving.serde;

import io.tunestream.schemas.registry.Decoded;
import io.tunestream.schemas.registry.RecordDecoder;
import io.tunestream.schemas.registry.RegistryUnavailableException;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.header.Headers;

/**
 * Reads one record value of an input topic: the record, or why it can never be read; throws
 * {@link RegistryUnavailableException} when it cannot be read now (the registry is unreachable), so
 * the caller waits and tries again. Production uses {@link RecordDecoder}; topology tests use
 * {@link #plainAvro} or a stub.
 *
 * @param <T> the record type
 */
@FunctionalInterface
public interface ValueDecoder<T> extends AutoCloseable {

    /**
     * @return the record ({@code null} for a tombstone), or why it can never be read
     * @throws RegistryUnavailableException when it cannot be read now
     */
    Decoded<T> decode(String topic, Headers headers, byte[] value);

    /** Releases what the decoder holds (the registry client); nothing by default. */
    @Override
    default void close() {
    }

    /** The registry's {@link RecordDecoder}, closed with this decoder. */
    static <T extends SpecificRecord> ValueDecoder<T> of(RecordDecoder<T> decoder) {
        return new ValueDecoder<>() {
            @Override
            public Decoded<T> decode(String topic, Headers headers, byte[] value) {
                return decoder.decode(topic, headers, value);
            }

            @Override
            public void close() {
                decoder.close();
            }
        };
    }

    /** Registry-free Avro binary ({@link AvroBinarySerde}): bytes it cannot read are poison. */
    static <T extends SpecificRecord> ValueDecoder<T> plainAvro(AvroBinarySerde<T> serde) {
        return (topic, headers, value) -> {
            try {
                return new Decoded.Value<>(serde.decode(value));
            } catch (SerializationException e) {
                return new Decoded.Poison<>(RecordDecoder.reason(e), e);
            }
        };
    }
}

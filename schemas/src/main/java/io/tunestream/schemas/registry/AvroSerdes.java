package io.tunestream.schemas.registry;

import io.apicurio.registry.serde.avro.AvroKafkaDeserializer;
import io.apicurio.registry.serde.avro.AvroKafkaSerializer;
import java.util.Map;
import java.util.Objects;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.Serializer;

/**
 * Configured Apicurio Avro serializers, deserializers and Kafka Streams serdes for the
 * generated record classes, for record values (keys are plain strings).
 *
 * <p>The returned objects are ready to use: pass them to a producer, consumer or topology
 * ({@code Consumed.with(Serdes.String(), AvroSerdes.specific(Answer.class, registry))});
 * whoever uses them closes them (closing the client that holds them does).
 */
public final class AvroSerdes {

    static {
        AvroLimits.install();
    }

    private AvroSerdes() {
    }

    /** A value serializer for any generated record class. */
    public static <T extends SpecificRecord> Serializer<T> serializer(RegistryConfig registry) {
        AvroKafkaSerializer<T> serializer = new AvroKafkaSerializer<>();
        serializer.configure(registry.serdeProperties(), false);
        return serializer;
    }

    /**
     * A value deserializer giving instances of {@code type}; a record of another type fails
     * with a {@link SerializationException} naming the topic and both types.
     */
    public static <T extends SpecificRecord> Deserializer<T> deserializer(Class<T> type, RegistryConfig registry) {
        Objects.requireNonNull(type, "type");
        AvroKafkaDeserializer<Object> deserializer = new AvroKafkaDeserializer<>();
        deserializer.configure(registry.serdeProperties(), false);
        return new TypedDeserializer<>(type, deserializer);
    }

    /** A Kafka Streams value serde for {@code type}. */
    public static <T extends SpecificRecord> Serde<T> specific(Class<T> type, RegistryConfig registry) {
        return Serdes.serdeFrom(serializer(registry), deserializer(type, registry));
    }

    /** Checks the type of what the Apicurio deserializer returns, so a wrong topic fails with context. */
    private record TypedDeserializer<T>(Class<T> type, Deserializer<Object> delegate) implements Deserializer<T> {

        @Override
        public void configure(Map<String, ?> configs, boolean isKey) {
            // configured when built
        }

        @Override
        public T deserialize(String topic, byte[] data) {
            return cast(topic, delegate.deserialize(topic, data));
        }

        @Override
        public T deserialize(String topic, Headers headers, byte[] data) {
            return cast(topic, delegate.deserialize(topic, headers, data));
        }

        private T cast(String topic, Object value) {
            if (value == null || type.isInstance(value)) {
                return type.cast(value);
            }
            throw new SerializationException("topic '" + topic + "': expected a " + type.getName()
                    + " record, got a " + value.getClass().getName());
        }

        @Override
        public void close() {
            delegate.close();
        }
    }
}

package io.tunestream.serving.serde;

import io.tunestream.schemas.registry.AvroLimits;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import org.apache.avro.Schema;
import org.apache.avro.io.BinaryDecoder;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.io.EncoderFactory;
import org.apache.avro.specific.SpecificDatumReader;
import org.apache.avro.specific.SpecificDatumWriter;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serializer;

/**
 * Plain Avro binary of one record type, without a registry: for the app's own state stores (whose
 * bytes never leave the app and always use the schema compiled in) and for topology tests.
 * Topics use the registry serdes of {@link ServingSerdes#apicurio}.
 */
public final class AvroBinarySerde<T extends SpecificRecord> implements Serde<T> {

    static {
        // lengths declared in the bytes are bounded before the first read (a 7-byte record once asked for 1 GiB)
        AvroLimits.install();
    }

    private final Class<T> type;
    // made once, not per record: both are safe to share between threads (the reader keeps its
    // resolvers per thread)
    private final SpecificDatumWriter<T> writer;
    private final SpecificDatumReader<T> reader;

    public AvroBinarySerde(Class<T> type, Schema schema) {
        this.type = type;
        this.writer = new SpecificDatumWriter<>(schema);
        this.reader = new SpecificDatumReader<>(schema);
    }

    /** Avro binary of {@code value}; {@code null} stays {@code null} (a tombstone). */
    public byte[] encode(T value) {
        if (value == null) {
            return null;
        }
        try {
            var out = new ByteArrayOutputStream(256);
            BinaryEncoder encoder = EncoderFactory.get().directBinaryEncoder(out, null);
            writer.write(value, encoder);
            encoder.flush();
            return out.toByteArray();
        } catch (IOException | RuntimeException e) {
            throw new SerializationException("cannot write " + type.getSimpleName() + " as Avro: " + e.getMessage(), e);
        }
    }

    /** The record in {@code bytes}; {@code null} stays {@code null}. */
    public T decode(byte[] bytes) {
        if (bytes == null) {
            return null;
        }
        try {
            BinaryDecoder decoder = DecoderFactory.get().binaryDecoder(bytes, null);
            return reader.read(null, decoder);
        } catch (IOException | RuntimeException e) {
            throw new SerializationException("cannot read " + type.getSimpleName() + " from " + bytes.length
                    + " bytes of Avro: " + e.getMessage(), e);
        }
    }

    @Override
    public Serializer<T> serializer() {
        return (topic, value) -> encode(value);
    }

    @Override
    public Deserializer<T> deserializer() {
        return (topic, bytes) -> decode(bytes);
    }
}

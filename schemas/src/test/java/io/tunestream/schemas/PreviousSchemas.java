package io.tunestream.schemas;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import org.apache.avro.Schema;
import org.apache.avro.SchemaCompatibility;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericDatumWriter;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.io.EncoderFactory;
import org.apache.avro.specific.SpecificDatumReader;

/**
 * What a BACKWARD-compatibility test of a schema change needs: the schema before the change (a resource under
 * {@code /previous-schemas/}), a record written with it, and that record as today's class reads it.
 */
public final class PreviousSchemas {

    private PreviousSchemas() {
    }

    /** {@code /previous-schemas/<name>}. */
    public static Schema load(String name) {
        try (InputStream in = PreviousSchemas.class.getResourceAsStream("/previous-schemas/" + name)) {
            if (in == null) {
                throw new IllegalArgumentException("no resource /previous-schemas/" + name);
            }
            return new Schema.Parser().parse(in);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Today's {@code reader} schema reads what {@code previous} wrote (the registry's BACKWARD rule). */
    public static void assertReadable(Schema reader, Schema previous) {
        var result = SchemaCompatibility.checkReaderWriterCompatibility(reader, previous);
        assertThat(result.getType()).as(result.getDescription())
                .isEqualTo(SchemaCompatibility.SchemaCompatibilityType.COMPATIBLE);
    }

    /** A record of {@code schema} with every field that has a default set to it; the caller sets the rest. */
    public static GenericRecord withDefaults(Schema schema) {
        GenericRecord record = new GenericData.Record(schema);
        for (Schema.Field f : schema.getFields()) {
            if (f.hasDefaultValue()) {
                record.put(f.name(), GenericData.get().getDefaultValue(f));
            }
        }
        return record;
    }

    /** {@code old}, written with its own (previous) schema, read as today's {@code reader} class reads it. */
    public static <T> T readAsToday(GenericRecord old, Schema reader) {
        try {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            var encoder = EncoderFactory.get().binaryEncoder(bytes, null);
            new GenericDatumWriter<GenericRecord>(old.getSchema()).write(old, encoder);
            encoder.flush();
            return new SpecificDatumReader<T>(old.getSchema(), reader)
                    .read(null, DecoderFactory.get().binaryDecoder(bytes.toByteArray(), null));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}

package io.tunestream.schemas;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import org.apache.avro.Schema;
import org.apache.avro.SchemaCompatibility;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.io.EncoderFactory;
import org.apache.avro.specific.SpecificDatumWriter;
import org.junit.jupiter.api.Test;

/**
 * ROLLBACK and IMPORTED and the optional {@code sourceVersion} are added BACKWARD-compatibly: the new schema reads
 * run records written before them, and a reader of the previous schema reads the new statuses as FAILED.
 */
class TrainingRunCompatibilityTest {

    private static Schema previous() throws IOException {
        try (InputStream in = TrainingRunCompatibilityTest.class
                .getResourceAsStream("/previous-schemas/TrainingRun-before-rollback.avsc")) {
            return new Schema.Parser().parse(in);
        }
    }

    @Test
    void shouldReadRunRecordsWrittenBeforeRollback() throws IOException {
        var result = SchemaCompatibility.checkReaderWriterCompatibility(TrainingRun.getClassSchema(), previous());

        assertThat(result.getType()).as(result.getDescription())
                .isEqualTo(SchemaCompatibility.SchemaCompatibilityType.COMPATIBLE);
    }

    @Test
    void shouldReadARollbackRecordAsFailedWithThePreviousSchema() throws IOException {
        TrainingRun rollback = TrainingRun.newBuilder().setRunId("r").setTask("qa").setStatus(RunStatus.ROLLBACK)
                .setPublishedVersion(3).setSourceVersion(1).build();
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        BinaryEncoder encoder = EncoderFactory.get().binaryEncoder(bytes, null);
        new SpecificDatumWriter<>(TrainingRun.class).write(rollback, encoder);
        encoder.flush();

        GenericRecord old = new GenericDatumReader<GenericRecord>(TrainingRun.getClassSchema(), previous())
                .read(null, DecoderFactory.get().binaryDecoder(bytes.toByteArray(), null));

        assertThat(old.get("status")).isInstanceOf(GenericData.EnumSymbol.class).hasToString("FAILED");
        assertThat(old.get("publishedVersion")).isEqualTo(3);
        assertThat(old.getSchema().getField("sourceVersion")).isNull();
    }
}

package io.tunestream.schemas.adapters;

import static org.assertj.core.api.Assertions.assertThat;

import io.tunestream.schemas.AdapterCheckpoint;
import io.tunestream.schemas.PromptEncoderType;
import io.tunestream.schemas.ResumeState;
import io.tunestream.schemas.Tensor;
import io.tunestream.schemas.VirtualPromptStyle;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Map;
import org.apache.avro.Schema;
import org.apache.avro.SchemaCompatibility;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.generic.GenericDatumWriter;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.io.EncoderFactory;
import org.apache.avro.specific.SpecificDatumReader;
import org.apache.avro.specific.SpecificDatumWriter;
import org.junit.jupiter.api.Test;

/** The exact resume state is added BACKWARD-compatibly, and readers of the previous schema still read the head. */
class AdapterCheckpointCompatibilityTest {

    private static Schema previous() throws IOException {
        try (InputStream in = AdapterCheckpointCompatibilityTest.class
                .getResourceAsStream("/previous-schemas/AdapterCheckpoint-before-resume.avsc")) {
            var parser = new Schema.Parser();
            parser.addTypes(Map.of(Tensor.getClassSchema().getFullName(), Tensor.getClassSchema(),
                    VirtualPromptStyle.getClassSchema().getFullName(), VirtualPromptStyle.getClassSchema(),
                    PromptEncoderType.getClassSchema().getFullName(), PromptEncoderType.getClassSchema()));
            return parser.parse(in);
        }
    }

    private static AdapterCheckpoint.Builder checkpoint() {
        return AdapterCheckpoint.newBuilder().setTask("qa").setVersion(3).setRunId("run-3").setModelFingerprint("m")
                .setVirtualPromptStyle(VirtualPromptStyle.P_TUNING).setEncoderType(PromptEncoderType.MLP)
                .setParameters(List.of()).setOptimizerState(List.of()).setStep(12).setEpoch(2)
                .setBestValidationLoss(0.5).setCreatedAtMillis(7);
    }

    @Test
    void shouldReadCheckpointsWrittenBeforeTheResumeState() throws IOException {
        Schema previous = previous();

        var result = SchemaCompatibility.checkReaderWriterCompatibility(AdapterCheckpoint.getClassSchema(), previous);

        assertThat(result.getType()).as(result.getDescription())
                .isEqualTo(SchemaCompatibility.SchemaCompatibilityType.COMPATIBLE);
        GenericRecord old = new GenericData.Record(previous);
        AdapterCheckpoint template = checkpoint().build();
        for (Schema.Field f : previous.getFields()) {
            old.put(f.name(), template.get(f.name()) instanceof Enum<?> e
                    ? new GenericData.EnumSymbol(f.schema(), e.name()) : template.get(f.name()));
        }
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        BinaryEncoder encoder = EncoderFactory.get().binaryEncoder(bytes, null);
        new GenericDatumWriter<GenericRecord>(previous).write(old, encoder);
        encoder.flush();
        AdapterCheckpoint read = new SpecificDatumReader<AdapterCheckpoint>(previous, AdapterCheckpoint.getClassSchema())
                .read(null, DecoderFactory.get().binaryDecoder(bytes.toByteArray(), null));
        assertThat(read.getResume()).isNull();
        assertThat(read.getStep()).isEqualTo(12);
    }

    @Test
    void shouldLetAReaderOfThePreviousSchemaReadAHeadWithItsResumeState() throws IOException {
        AdapterCheckpoint head = checkpoint().setResume(ResumeState.newBuilder().setCheckpointId("run-3@12")
                .setFormat("tunestream-task-checkpoint/1").setInputsFingerprint("f").setFinished(false)
                .setTotalBytes(3).setSha256("00").setChunkCount(1).setChunkIndex(0)
                .setData(ByteBuffer.wrap(new byte[] {1, 2, 3})).build()).build();
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        BinaryEncoder encoder = EncoderFactory.get().binaryEncoder(bytes, null);
        new SpecificDatumWriter<>(AdapterCheckpoint.class).write(head, encoder);
        encoder.flush();

        GenericRecord old = new GenericDatumReader<GenericRecord>(AdapterCheckpoint.getClassSchema(), previous())
                .read(null, DecoderFactory.get().binaryDecoder(bytes.toByteArray(), null));

        assertThat(old.get("version")).isEqualTo(3);
        assertThat(old.get("step")).isEqualTo(12L);
        assertThat(old.getSchema().getField("resume")).isNull();
    }
}

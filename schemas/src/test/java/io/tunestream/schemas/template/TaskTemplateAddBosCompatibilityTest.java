package io.tunestream.schemas.template;

import static org.assertj.core.api.Assertions.assertThat;

import io.tunestream.schemas.TaskTemplate;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.List;
import org.apache.avro.Schema;
import org.apache.avro.SchemaCompatibility;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericDatumWriter;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.io.EncoderFactory;
import org.apache.avro.specific.SpecificDatumReader;
import org.junit.jupiter.api.Test;

/** {@code addBos} is added BACKWARD-compatibly: templates registered before it read as without BOS (NeMo's default). */
class TaskTemplateAddBosCompatibilityTest {

    private Schema previous() throws IOException {
        try (InputStream in = getClass().getResourceAsStream("/previous-schemas/TaskTemplate-before-add-bos.avsc")) {
            return new Schema.Parser().parse(in);
        }
    }

    @Test
    void shouldReadTemplatesWrittenBeforeAddBosAsWithoutBos() throws IOException {
        Schema previous = previous();
        assertThat(previous.getField("addBos")).isNull();
        var result = SchemaCompatibility.checkReaderWriterCompatibility(TaskTemplate.getClassSchema(), previous);
        assertThat(result.getType()).as(result.getDescription())
                .isEqualTo(SchemaCompatibility.SchemaCompatibilityType.COMPATIBLE);

        GenericRecord old = new GenericData.Record(previous);
        for (Schema.Field f : previous.getFields()) {
            if (f.hasDefaultValue()) {
                old.put(f.name(), GenericData.get().getDefaultValue(f));
            }
        }
        old.put("task", "qa");
        old.put("promptTemplate", "<|VIRTUAL_PROMPT_0|> {q}{a}");
        old.put("promptTemplateFields", List.of("q", "a"));
        old.put("virtualTokenSplits", List.of(4));
        old.put("totalVirtualTokens", 4);
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        var encoder = EncoderFactory.get().binaryEncoder(bytes, null);
        new GenericDatumWriter<GenericRecord>(previous).write(old, encoder);
        encoder.flush();

        TaskTemplate read = new SpecificDatumReader<TaskTemplate>(previous, TaskTemplate.getClassSchema())
                .read(null, DecoderFactory.get().binaryDecoder(bytes.toByteArray(), null));

        assertThat(read.getTask()).isEqualTo("qa");
        assertThat(read.getAddBos()).isFalse();
    }
}

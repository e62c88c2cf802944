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

/** {@code prefixProjection} is added BACKWARD-compatibly: templates registered before it read as without it. */
class TaskTemplateCompatibilityTest {

    private Schema previous() throws IOException {
        try (InputStream in = getClass().getResourceAsStream("/previous-schemas/TaskTemplate-before-prefix-projection.avsc")) {
            return new Schema.Parser().parse(in);
        }
    }

    @Test
    void shouldReadTemplatesWrittenBeforeThePrefixProjectionAsTrainingThePrefixItself() throws IOException {
        Schema previous = previous();
        var result = SchemaCompatibility.checkReaderWriterCompatibility(TaskTemplate.getClassSchema(), previous);
        assertThat(result.getType()).as(result.getDescription())
                .isEqualTo(SchemaCompatibility.SchemaCompatibilityType.COMPATIBLE);

        Schema tuningSchema = previous.getField("tuning").schema();
        assertThat(tuningSchema.getField("prefixProjection")).isNull();
        GenericRecord tuning = new GenericData.Record(tuningSchema);
        for (Schema.Field f : tuningSchema.getFields()) {
            tuning.put(f.name(), GenericData.get().getDefaultValue(f));
        }
        tuning.put("virtualPromptStyle", new GenericData.EnumSymbol(tuningSchema.getField("virtualPromptStyle").schema(),
                "PREFIX_TUNING"));
        GenericRecord old = new GenericData.Record(previous);
        for (Schema.Field f : previous.getFields()) {
            if (f.hasDefaultValue()) {
                old.put(f.name(), GenericData.get().getDefaultValue(f));
            }
        }
        old.put("task", "deep");
        old.put("promptTemplate", "<|VIRTUAL_PROMPT_0|> {q}{a}");
        old.put("promptTemplateFields", List.of("q", "a"));
        old.put("virtualTokenSplits", List.of(4));
        old.put("totalVirtualTokens", 4);
        old.put("tuning", tuning);
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        var encoder = EncoderFactory.get().binaryEncoder(bytes, null);
        new GenericDatumWriter<GenericRecord>(previous).write(old, encoder);
        encoder.flush();

        TaskTemplate read = new SpecificDatumReader<TaskTemplate>(previous, TaskTemplate.getClassSchema())
                .read(null, DecoderFactory.get().binaryDecoder(bytes.toByteArray(), null));

        assertThat(read.getTuning().getVirtualPromptStyle().name()).isEqualTo("PREFIX_TUNING");
        assertThat(read.getTuning().getPrefixProjection()).isFalse();
    }
}

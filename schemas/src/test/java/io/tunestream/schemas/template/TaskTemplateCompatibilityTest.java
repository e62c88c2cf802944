package io.tunestream.schemas.template;

import static org.assertj.core.api.Assertions.assertThat;

import io.tunestream.schemas.PreviousSchemas;
import io.tunestream.schemas.TaskTemplate;
import java.util.List;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.junit.jupiter.api.Test;

/** Fields added to TaskTemplate BACKWARD-compatibly: templates registered before each read as without it. */
class TaskTemplateCompatibilityTest {

    /** A template of {@code previous} with the fields every template has. */
    private static GenericRecord template(Schema previous, String task) {
        GenericRecord old = PreviousSchemas.withDefaults(previous);
        old.put("task", task);
        old.put("promptTemplate", "<|VIRTUAL_PROMPT_0|> {q}{a}");
        old.put("promptTemplateFields", List.of("q", "a"));
        old.put("virtualTokenSplits", List.of(4));
        old.put("totalVirtualTokens", 4);
        return old;
    }

    @Test
    void shouldReadTemplatesWrittenBeforeThePrefixProjectionAsTrainingThePrefixItself() {
        Schema previous = PreviousSchemas.load("TaskTemplate-before-prefix-projection.avsc");
        PreviousSchemas.assertReadable(TaskTemplate.getClassSchema(), previous);

        Schema tuningSchema = previous.getField("tuning").schema();
        assertThat(tuningSchema.getField("prefixProjection")).isNull();
        GenericRecord tuning = new GenericData.Record(tuningSchema);
        for (Schema.Field f : tuningSchema.getFields()) {
            tuning.put(f.name(), GenericData.get().getDefaultValue(f));
        }
        tuning.put("virtualPromptStyle", new GenericData.EnumSymbol(tuningSchema.getField("virtualPromptStyle").schema(),
                "PREFIX_TUNING"));
        GenericRecord old = template(previous, "deep");
        old.put("tuning", tuning);

        TaskTemplate read = PreviousSchemas.readAsToday(old, TaskTemplate.getClassSchema());

        assertThat(read.getTuning().getVirtualPromptStyle().name()).isEqualTo("PREFIX_TUNING");
        assertThat(read.getTuning().getPrefixProjection()).isFalse();
    }

    @Test
    void shouldReadTemplatesWrittenBeforeAddBosAsWithoutBos() {
        Schema previous = PreviousSchemas.load("TaskTemplate-before-add-bos.avsc");
        assertThat(previous.getField("addBos")).isNull();
        PreviousSchemas.assertReadable(TaskTemplate.getClassSchema(), previous);

        TaskTemplate read = PreviousSchemas.readAsToday(template(previous, "qa"), TaskTemplate.getClassSchema());

        assertThat(read.getTask()).isEqualTo("qa");
        assertThat(read.getAddBos()).as("NeMo's default").isFalse();
    }
}

package io.tunestream.ingest.feedback;

import static org.assertj.core.api.Assertions.assertThat;

import io.tunestream.ingest.template.TemplateCatalog;
import io.tunestream.ingest.template.TemplateFile;
import io.tunestream.schemas.Verdict;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;

class FeedbackIngestionTest {

    private static final TemplateCatalog TEMPLATES = TemplateCatalog.of(TemplateFile.read(
            Path.of(System.getProperty("tunestream.home", "..")).resolve("data/templates.yaml"), 1L));

    private static FeedbackIngestion.Checked check(String task, Verdict verdict, String correction,
                                                   Map<String, String> fields) {
        return FeedbackIngestion.check(TEMPLATES, new FeedbackIngestion.Judgement("r-1", task, verdict, correction,
                fields, null, 2, null), 7L);
    }

    @Test
    void shouldRecordACorrectionWithTheRequestsFields() {
        FeedbackIngestion.Checked checked = check("assistant", Verdict.CORRECTED, " intent: lights",
                Map.of("utterance", "lights on"));

        assertThat(checked.problem()).isNull();
        assertThat(checked.feedback().getCorrection()).isEqualTo(" intent: lights");
        assertThat(checked.feedback().getFields()).isEqualTo(Map.of("utterance", "lights on"));
        assertThat(checked.feedback().getAdapterVersion()).isEqualTo(2);
        assertThat(checked.feedback().getComment()).isEmpty();
        assertThat(checked.feedback().getCreatedAtMillis()).isEqualTo(7L);
    }

    @Test
    void shouldKeepNoCorrectionWithAnotherVerdict() {
        FeedbackIngestion.Checked checked = check("assistant", Verdict.ACCEPTED, "ignored", Map.of());

        assertThat(checked.feedback().getCorrection()).isNull();
    }

    @Test
    void shouldRefuseAnUnknownTaskACorrectionWithoutTextAndFieldsTheTemplateDoesNotUse() {
        assertThat(check("asistant", Verdict.ACCEPTED, null, Map.of()).problem())
                .isEqualTo("unknown task 'asistant' (known tasks: assistant, squad)");
        assertThat(check("assistant", Verdict.CORRECTED, null, Map.of()).problem())
                .isEqualTo("verdict CORRECTED needs a correction");
        assertThat(check("assistant", Verdict.REJECTED, null, Map.of("question", "q")).problem())
                .startsWith("task 'assistant': field(s) [question] not used by the template");
    }

    @Test
    void shouldRefuseACorrectionOverTheSizeLimit() {
        assertThat(check("assistant", Verdict.CORRECTED, "c".repeat(65_537), Map.of()).problem())
                .isEqualTo("feedback on request r-1: correction has 65537 characters, more than the limit of 65536");
    }
}

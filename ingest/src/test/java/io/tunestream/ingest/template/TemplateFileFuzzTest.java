package io.tunestream.ingest.template;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.tunestream.schemas.TaskTemplate;
import io.tunestream.schemas.template.TemplateRules;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Timeout;

/**
 * Fuzz targets of the template loader: any YAML or JSON text gives templates that pass every rule
 * of {@link TemplateRules}, or a {@link TemplateFileException} whose problems each name the source
 * (and the entry and task where there is one); no other exception escapes. Seeds
 * ({@code TemplateFileFuzzTestInputs/<method>/}) are {@code data/templates.yaml}, its JSON form and
 * the bad files of {@code TemplateFileTest}.
 */
@Timeout(30) // per input; the first one also pays for Jazzer's agent and class loading on a busy machine
class TemplateFileFuzzTest {

    private static final String SOURCE = "fuzz.yaml";

    @FuzzTest(maxDuration = "3m")
    void yamlGivesTemplatesOrProblems(byte[] input) {
        check(new String(input, StandardCharsets.UTF_8), false);
    }

    @FuzzTest(maxDuration = "3m")
    void jsonGivesTemplatesOrProblems(byte[] input) {
        check(new String(input, StandardCharsets.UTF_8), true);
    }

    private static void check(String text, boolean json) {
        List<TaskTemplate> templates;
        try {
            templates = TemplateFile.parse(SOURCE, text, json, 1L);
        } catch (TemplateFileException e) {
            assertThat(e.source()).isEqualTo(SOURCE);
            assertThat(e.problems()).isNotEmpty().allSatisfy(p -> assertThat(p).startsWith(SOURCE + ": "));
            return;
        }
        assertThat(templates).isNotEmpty();
        for (TaskTemplate template : templates) {
            assertThat(TemplateRules.problems(template)).as("rules broken by an accepted template").isEmpty();
        }
    }
}

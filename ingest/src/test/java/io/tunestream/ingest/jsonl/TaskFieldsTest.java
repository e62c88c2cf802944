package io.tunestream.ingest.jsonl;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tunestream.ingest.template.TemplateCatalog;
import io.tunestream.ingest.template.TemplateFile;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class TaskFieldsTest {

    private static final TemplateCatalog TEMPLATES = TemplateCatalog.of(TemplateFile.read(
            Path.of(System.getProperty("tunestream.home"), "data", "templates.yaml"), 0L));

    private static JsonNode json(String text) throws Exception {
        return new ObjectMapper().readTree(text);
    }

    @Test
    void shouldAcceptAnExampleWithEveryField() throws Exception {
        TaskFields.Result result = new TaskFields(TEMPLATES, true, Set.of())
                .check(json("{\"taskname\": \"assistant\", \"utterance\": \"play jazz\", \"label\": \" intent: play\"}"), null);

        assertThat(result.ok()).isTrue();
        assertThat(result.checked().fields()).containsExactly(Map.entry("utterance", "play jazz"),
                Map.entry("label", " intent: play"));
        assertThat(result.checked().answer()).isEqualTo(" intent: play");
    }

    @Test
    void shouldRequireTheAnswerOfAnExampleButNotOfARequest() throws Exception {
        JsonNode line = json("{\"taskname\": \"assistant\", \"utterance\": \"play jazz\"}");

        assertThat(new TaskFields(TEMPLATES, true, Set.of()).check(line, null).problem())
                .isEqualTo("task 'assistant': missing field(s) [label]");
        TaskFields.Result request = new TaskFields(TEMPLATES, false, Set.of()).check(line, null);
        assertThat(request.checked().fields()).containsExactly(Map.entry("utterance", "play jazz"));
        assertThat(request.checked().answer()).isNull();
    }

    @Test
    void shouldTakeTheAnswerOutOfARequestsFields() throws Exception {
        TaskFields.Result request = new TaskFields(TEMPLATES, false, Set.of("request_id")).check(json(
                "{\"taskname\": \"assistant\", \"request_id\": \"r1\", \"utterance\": \"u\", \"label\": \"l\"}"), null);

        assertThat(request.checked().fields()).containsExactly(Map.entry("utterance", "u"));
        assertThat(request.checked().answer()).isEqualTo("l");
    }

    @Test
    void shouldReportUnknownTasksUnusedFieldsAndNonStringValues() throws Exception {
        TaskFields examples = new TaskFields(TEMPLATES, true, Set.of());

        assertThat(examples.check(json("{\"taskname\": \"qa\", \"q\": \"x\"}"), null).problem())
                .isEqualTo("unknown task 'qa' (known tasks: assistant, squad; register templates with: ingest "
                        + "templates FILE)");
        assertThat(examples.check(json("{\"taskname\": \"assistant\", \"utterance\": \"u\", \"label\": \"l\", "
                + "\"speaker\": \"bob\"}"), null).problem())
                .isEqualTo("task 'assistant': field(s) [speaker] not used by the template (fields: utterance, label)");
        assertThat(examples.check(json("{\"taskname\": \"assistant\", \"utterance\": 3, \"label\": \"l\"}"), null)
                .problem()).isEqualTo("task 'assistant': field 'utterance' must be a string, was 3");
        assertThat(examples.check(json("{\"utterance\": \"u\", \"label\": \"l\"}"), null).problem())
                .isEqualTo("no 'taskname' (give one per line, or --task for the whole file)");
        assertThat(examples.check(json("{\"utterance\": \"u\", \"label\": \"l\"}"), "assistant").ok()).isTrue();
    }
}

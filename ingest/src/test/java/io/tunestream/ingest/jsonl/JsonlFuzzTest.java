package io.tunestream.ingest.jsonl;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.tunestream.ingest.examples.ExampleIngestion;
import io.tunestream.ingest.template.TemplateCatalog;
import io.tunestream.ingest.template.TemplateFile;
import io.tunestream.schemas.DatasetSplit;
import io.tunestream.schemas.LabelledExample;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Set;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Timeout;

/**
 * Fuzz target of ingest's JSONL parsing and checking ({@code ingest examples}, {@code ingest
 * requests}, {@code POST /examples}): any text gives, per non-blank line, either an example /
 * request checked against the shipped templates ({@code data/templates.yaml}) or a {@link
 * LineProblem} naming that line; no exception escapes. Seeds ({@code JsonlFuzzTestInputs/}) are
 * lines of {@code data/} and the bad lines of the ingest tests.
 */
@Timeout(30) // per input; the first one also pays for Jazzer's agent and class loading on a busy machine
class JsonlFuzzTest {

    private static final String SOURCE = "fuzz.jsonl";
    private static TemplateCatalog templates;

    @BeforeAll
    static void readTemplates() {
        templates = TemplateCatalog.of(TemplateFile.read(
                Path.of(System.getProperty("tunestream.home", "..")).resolve("data/templates.yaml"), 1L));
    }

    @FuzzTest(maxDuration = "3m")
    void everyLineIsAnExampleOrAProblem(byte[] input) throws IOException {
        String text = new String(input, StandardCharsets.UTF_8);
        long lines = text.lines().count();
        JsonlFile.Contents contents = JsonlFile.read(SOURCE, new BufferedReader(new StringReader(text)));
        for (LineProblem problem : contents.problems()) {
            assertThat(problem.source()).isEqualTo(SOURCE);
            assertThat(problem.line()).isBetween(1L, lines);
            assertThat(problem.reason()).isNotBlank();
        }

        ExampleIngestion.Checked examples = ExampleIngestion.check(contents, templates, DatasetSplit.TRAIN, null, 1L);
        assertThat(examples.examples().size() + examples.problems().size())
                .isEqualTo(contents.lines().size() + contents.problems().size());
        for (var outgoing : examples.examples()) {
            LabelledExample example = outgoing.value();
            assertThat(templates.find(example.getTask())).isPresent();
            assertThat(example.getSource()).startsWith(SOURCE + ":");
        }

        TaskFields requests = new TaskFields(templates, false, Set.of("request_id"));
        for (JsonlLine line : contents.lines()) {
            TaskFields.Result result = requests.check(line.json(), "squad");
            assertThat(result.ok() ? result.checked().template() : result.problem()).isNotNull();
        }
    }
}

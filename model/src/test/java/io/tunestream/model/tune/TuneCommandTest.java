package io.tunestream.model.tune;

import static org.assertj.core.api.Assertions.assertThat;

import io.tunestream.model.TestModels;
import io.tunestream.model.prompt.TaskTemplate;
import java.io.IOException;
import java.nio.file.Files;
import java.util.List;
import org.junit.jupiter.api.Test;

class TuneCommandTest {

    /**
     * The prompt_template of {@code task} in {@code data/templates.yaml}: the double-quoted value on the line after
     * {@code taskname: task} (the file's only escape is \n). Read as text: the YAML reader is ingest's.
     */
    private static String registeredTemplate(String task) throws IOException {
        List<String> lines = Files.readAllLines(TestModels.home().resolve("data/templates.yaml"));
        int at = lines.indexOf("  - taskname: " + task);
        assertThat(at).as("task %s in data/templates.yaml", task).isNotNegative();
        String line = lines.get(at + 1).strip();
        assertThat(line).startsWith("prompt_template: \"").endsWith("\"");
        return line.substring("prompt_template: \"".length(), line.length() - 1).replace("\\n", "\n");
    }

    @Test
    void shouldTuneWithTheTemplatesThatTheLocalPlatformRegisters() throws IOException {
        for (String task : List.of("squad", "assistant")) {
            TaskTemplate template = TuneCommand.template(task, 10);

            assertThat(template.promptTemplate()).as(task).isEqualTo(registeredTemplate(task));
        }
        assertThat(TuneCommand.template("assistant", 10).answerField()).isEqualTo("label");
        assertThat(TuneCommand.template("squad", 10).truncateField()).isEqualTo("context");
    }

    @Test
    void shouldStartADeepPromptFromTheInitTextThatTheAssistantTemplateRegisters() throws IOException {
        // BENCHMARKS.md's assistant deep prompt was measured with this text; data/templates.yaml trains with it
        assertThat(Files.readString(TestModels.home().resolve("data/templates.yaml")))
                .contains("      init_text: \"" + TuneCommand.DEEP_INIT_TEXT + "\"\n");
    }

    @Test
    void shouldReadATemplateOptionWithItsFieldsInOrder() {
        TaskTemplate template = TuneCommand.template("squad", "<|VIRTUAL_PROMPT_0|>{context}\nQ: {question}\nA:{answer}", 4);

        assertThat(template.promptTemplateFields()).containsExactly("context", "question", "answer");
        assertThat(template.totalVirtualTokens()).isEqualTo(4);
        assertThat(template.answerOnlyLoss()).isTrue();
    }
}

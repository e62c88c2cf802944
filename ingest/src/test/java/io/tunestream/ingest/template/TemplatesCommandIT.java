package io.tunestream.ingest.template;

import static org.assertj.core.api.Assertions.assertThat;

import io.tunestream.devkit.PlatformEndpoints;
import io.tunestream.devkit.junit.LocalPlatformExtension;
import io.tunestream.ingest.CliRun;
import io.tunestream.ingest.ExitCodes;
import io.tunestream.ingest.TopicReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

@ExtendWith(LocalPlatformExtension.class)
class TemplatesCommandIT {

    private static final Path SHIPPED = Path.of(System.getProperty("tunestream.home"), "data", "templates.yaml");

    @Test
    void shouldRegisterTheShippedTemplatesOnTheCompactedTopic(PlatformEndpoints platform) {
        CliRun run = CliRun.run(platform, "templates", SHIPPED.toString());

        assertThat(run.exitCode()).as(run.err()).isZero();
        assertThat(run.out()).isEqualTo("registered 2 task template(s) on task-templates: squad, assistant"
                + System.lineSeparator());
        TemplateCatalog catalog = TemplateCatalog.fromTopic(TopicReader.kafka(platform), Duration.ofSeconds(30));
        assertThat(catalog.find("squad")).hasValueSatisfying(t -> assertThat(t.getPromptTemplate())
                .isEqualTo("<|VIRTUAL_PROMPT_0|> Context: {context}\n\nQuestion: {question}\n\nAnswer:{answer}"));
        assertThat(catalog.find("assistant")).hasValueSatisfying(t -> assertThat(t.getAnswerField()).isEqualTo("label"));
    }

    @Test
    void shouldSendNothingWhenOneTemplateBreaksNemosRules(PlatformEndpoints platform, @TempDir Path dir) throws Exception {
        String good = "good-" + UUID.randomUUID();
        Path file = Files.writeString(dir.resolve("templates.yaml"), """
                task_templates:
                  - taskname: %s
                    prompt_template: "<|VIRTUAL_PROMPT_0|> {q}{a}"
                    prompt_template_fields: [q, a]
                    total_virtual_tokens: 4
                    virtual_token_splits: [4]
                    answer_field: a
                  - taskname: bad
                    prompt_template: "<|VIRTUAL_PROMPT_0|> {q}{a}"
                    prompt_template_fields: [q, a]
                    total_virtual_tokens: 10
                    virtual_token_splits: [4]
                    answer_field: a
                """.formatted(good));

        CliRun run = CliRun.run(platform, "templates", file.toString());

        assertThat(run.exitCode()).isEqualTo(ExitCodes.INPUT_REJECTED);
        assertThat(run.err()).isEqualTo(file + ": task_templates[1] (task 'bad'): task 'bad': virtual_token_splits [4] "
                + "sum to 4, but total_virtual_tokens is 10" + System.lineSeparator()
                + "no template sent: 1 problem(s) in " + file + System.lineSeparator());
        assertThat(TemplateCatalog.fromTopic(TopicReader.kafka(platform), Duration.ofSeconds(30)).find(good)).isEmpty();
    }

    @Test
    void shouldCheckWithoutSendingOnDryRun(PlatformEndpoints platform) {
        CliRun run = CliRun.run(platform, "templates", SHIPPED.toString(), "--dry-run");

        assertThat(run.exitCode()).isZero();
        assertThat(run.out()).isEqualTo(SHIPPED + ": 2 valid task template(s): squad, assistant" + System.lineSeparator());
    }
}

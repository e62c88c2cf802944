package io.tunestream.ingest.template;

import io.tunestream.ingest.CliContext;
import io.tunestream.ingest.ConnectionOptions;
import io.tunestream.ingest.ExitCodes;
import io.tunestream.schemas.TaskTemplate;
import io.tunestream.schemas.Topics;
import io.tunestream.schemas.kafka.KafkaClientConfig;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code templates FILE}: checks NeMo task templates and registers them on {@code task-templates}. */
@Command(name = "templates", mixinStandardHelpOptions = true,
        description = {"Register task templates from a NeMo prompt-learning config (YAML or JSON).",
                "Reads the task_templates: list (top level or under model:), checks NeMo's rules for every entry "
                        + "and, only if all pass, sends them in one transaction to the compacted topic task-templates, "
                        + "keyed by task. A task registered again replaces its previous template."},
        footer = {"", "Example:", "  ingest templates data/templates.yaml"})
public final class TemplatesCommand implements Callable<Integer> {

    private final CliContext cli;

    @Mixin
    ConnectionOptions connection;

    @Parameters(index = "0", paramLabel = "FILE", description = "NeMo config or task_templates list, .yaml/.yml/.json.")
    Path file;

    @Option(names = "--dry-run", description = "Only check the file; send nothing.")
    boolean dryRun;

    @Option(names = "--timeout", defaultValue = "PT30S", paramLabel = "DURATION",
            description = "How long to wait for Kafka and the registry (ISO-8601, default ${DEFAULT-VALUE}).")
    Duration timeout;

    public TemplatesCommand(CliContext cli) {
        this.cli = cli;
    }

    @Override
    public Integer call() {
        List<TaskTemplate> templates;
        try {
            templates = TemplateFile.read(file, cli.clock().millis());
        } catch (TemplateFileException e) {
            e.problems().forEach(cli.err()::println);
            cli.err().println("no template sent: " + e.problems().size() + " problem(s) in " + file);
            return ExitCodes.INPUT_REJECTED;
        }
        List<String> tasks = templates.stream().map(TaskTemplate::getTask).toList();
        if (dryRun) {
            cli.out().println(file + ": " + templates.size() + " valid task template(s): " + String.join(", ", tasks));
            return ExitCodes.OK;
        }
        KafkaClientConfig kafka = connection.kafka();
        ConnectionOptions.prepare(kafka, List.of(Topics.TASK_TEMPLATES), timeout);
        TemplateRegistration.register(kafka, templates, cli.clock(), timeout);
        cli.out().println("registered " + templates.size() + " task template(s) on " + Topics.TASK_TEMPLATES.name()
                + ": " + String.join(", ", tasks));
        return ExitCodes.OK;
    }
}

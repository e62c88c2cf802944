package io.tunestream.ingest.examples;

import io.tunestream.ingest.CliContext;
import io.tunestream.ingest.ConnectionOptions;
import io.tunestream.ingest.ExitCodes;
import io.tunestream.ingest.jsonl.JsonlFile;
import io.tunestream.ingest.jsonl.LineProblem;
import io.tunestream.ingest.jsonl.ProgressBar;
import io.tunestream.ingest.jsonl.RateLimiter;
import io.tunestream.ingest.jsonl.TransactionalSender;
import io.tunestream.ingest.template.TemplateCatalog;
import io.tunestream.ingest.template.TemplateSource;
import io.tunestream.schemas.DatasetSplit;
import io.tunestream.schemas.Topics;
import io.tunestream.schemas.kafka.KafkaClientConfig;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code examples FILE}: streams a NeMo JSONL dataset into {@code examples}. */
@Command(name = "examples", mixinStandardHelpOptions = true,
        description = {"Stream a NeMo prompt-learning JSONL dataset into the examples topic.",
                "Every line is checked first against its task's template (from task-templates, or --templates): "
                        + "malformed JSON, unknown tasks, missing fields and fields the template does not use are "
                        + "reported as FILE:LINE: reason, and those lines are not sent. The valid lines then go out "
                        + "in transactions (none is lost or half-sent), with a progress bar on standard error; the run "
                        + "ends with the exact count of records sent and lines rejected.",
                "Exit code 0: all sent; 3: some lines rejected (the others sent); 1: sending failed."},
        footer = {"", "Examples:", "  ingest examples data/squad/train.jsonl --rate 500",
                "  ingest examples delete --task squad <exampleId>…    (see ingest examples delete --help)"})
public final class ExamplesCommand implements Callable<Integer> {

    private final CliContext cli;

    @Mixin
    ConnectionOptions connection;

    @Mixin
    TemplateSource templateSource;

    // optional for picocli only: a required positional would be demanded before the 'delete' subcommand too
    @Parameters(index = "0", arity = "0..1", paramLabel = "FILE",
            description = "JSONL file, one {\"taskname\": …, fields…} per line.")
    Path file;

    @Spec
    CommandSpec spec;

    @Option(names = "--split", paramLabel = "SPLIT",
            description = "TRAIN or VALIDATION (default: VALIDATION when the file name starts with 'val' or 'dev', "
                    + "else TRAIN).")
    DatasetSplit split;

    @Option(names = "--task", paramLabel = "TASK", description = "Task of lines without a taskname.")
    String task;

    @Option(names = "--rate", paramLabel = "PER_SECOND", description = "At most this many records per second.")
    Double rate;

    @Option(names = "--batch", defaultValue = "500", paramLabel = "N",
            description = "Records per transaction (default ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--strict", description = "Send nothing if any line is rejected.")
    boolean strict;

    @Option(names = "--timeout", defaultValue = "PT30S", paramLabel = "DURATION",
            description = "How long to wait for Kafka and the registry (ISO-8601, default ${DEFAULT-VALUE}).")
    Duration timeout;

    public ExamplesCommand(CliContext cli) {
        this.cli = cli;
    }

    @Override
    public Integer call() {
        if (file == null) {
            throw new ParameterException(spec.commandLine(), "Missing required parameter: 'FILE'");
        }
        // the input first: a mistyped path fails at once, without waiting on the broker
        JsonlFile.Contents contents = JsonlFile.read(file);
        DatasetSplit datasetSplit = split != null ? split : splitOf(file);
        KafkaClientConfig kafka = connection.kafka();
        ConnectionOptions.prepare(kafka, List.of(Topics.TASK_TEMPLATES, Topics.EXAMPLES), timeout);
        TemplateCatalog templates = templateSource.load(kafka, cli.clock(), timeout);

        ExampleIngestion.Checked checked = ExampleIngestion.check(contents, templates, datasetSplit, task,
                cli.clock().millis());
        List<LineProblem> problems = checked.problems();
        problems.forEach(cli.err()::println);
        if (strict && !problems.isEmpty()) {
            cli.out().println("sent 0 records to " + Topics.EXAMPLES.name() + ", rejected " + problems.size()
                    + " line(s) of " + file + " (--strict: nothing sent)");
            return ExitCodes.INPUT_REJECTED;
        }

        ProgressBar progress = new ProgressBar(cli.err(), "examples", checked.examples().size(), cli.clock());
        TransactionalSender.Report report = ExampleIngestion.send(kafka, checked.examples(), batch,
                rate == null ? null : RateLimiter.perSecond(rate), progress);
        progress.finish();
        String counts = "sent " + report.sent() + " records to " + Topics.EXAMPLES.name() + " (" + datasetSplit
                + "), rejected " + problems.size() + " line(s) of " + file;
        if (!report.complete()) {
            cli.out().println(counts + "; FAILED at line " + report.notSentFrom() + ": that line and the "
                    + (report.notSent() - 1) + " valid line(s) after it were not sent");
            cli.err().println("sending failed: " + report.failure());
            return ExitCodes.FAILED;
        }
        cli.out().println(counts + summary(problems));
        return problems.isEmpty() ? ExitCodes.OK : ExitCodes.INPUT_REJECTED;
    }

    private static String summary(List<LineProblem> problems) {
        if (problems.isEmpty()) {
            return "";
        }
        TreeMap<Long, LineProblem> byLine = new TreeMap<>();
        problems.forEach(p -> byLine.put(p.line(), p));
        return " (lines " + byLine.keySet().stream().limit(20).map(String::valueOf).toList()
                + (byLine.size() > 20 ? " …" : "") + ")";
    }

    /** The split a file name suggests: validation.jsonl, val.jsonl, dev.jsonl are VALIDATION. */
    static DatasetSplit splitOf(Path file) {
        String name = file.getFileName().toString().toLowerCase();
        return name.startsWith("val") || name.startsWith("dev") ? DatasetSplit.VALIDATION : DatasetSplit.TRAIN;
    }
}

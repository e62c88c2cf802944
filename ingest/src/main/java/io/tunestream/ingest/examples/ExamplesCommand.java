package io.tunestream.ingest.examples;

import io.tunestream.ingest.CliContext;
import io.tunestream.ingest.ConnectionOptions;
import io.tunestream.ingest.ExitCodes;
import io.tunestream.ingest.jsonl.JsonlFile;
import io.tunestream.ingest.jsonl.JsonlLine;
import io.tunestream.ingest.jsonl.LineProblem;
import io.tunestream.ingest.jsonl.ProgressBar;
import io.tunestream.ingest.jsonl.RateLimiter;
import io.tunestream.ingest.jsonl.TaskFields;
import io.tunestream.ingest.jsonl.TransactionalSender;
import io.tunestream.ingest.template.TemplateCatalog;
import io.tunestream.ingest.template.TemplateSource;
import io.tunestream.schemas.DatasetSplit;
import io.tunestream.schemas.LabelledExample;
import io.tunestream.schemas.Topics;
import io.tunestream.schemas.kafka.KafkaClientConfig;
import io.tunestream.schemas.registry.AvroSerdes;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.Callable;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.common.serialization.StringSerializer;
import picocli.CommandLine.Command;
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
        footer = {"", "Example:", "  ingest examples data/squad/train.jsonl --rate 500"})
public final class ExamplesCommand implements Callable<Integer> {

    private final CliContext cli;

    @Mixin
    ConnectionOptions connection;

    @Mixin
    TemplateSource templateSource;

    @Parameters(index = "0", paramLabel = "FILE", description = "JSONL file, one {\"taskname\": …, fields…} per line.")
    Path file;

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
        KafkaClientConfig kafka = connection.kafka();
        ConnectionOptions.prepare(kafka, List.of(Topics.TASK_TEMPLATES, Topics.EXAMPLES), timeout);
        TemplateCatalog templates = templateSource.load(kafka, cli.clock(), timeout);
        DatasetSplit datasetSplit = split != null ? split : splitOf(file);
        JsonlFile.Contents contents = JsonlFile.read(file);

        TaskFields checker = new TaskFields(templates, true, Set.of());
        List<LineProblem> problems = new ArrayList<>(contents.problems());
        List<TransactionalSender.Outgoing<LabelledExample>> records = new ArrayList<>();
        long now = cli.clock().millis();
        for (JsonlLine line : contents.lines()) {
            TaskFields.Result result = checker.check(line.json(), task);
            if (!result.ok()) {
                problems.add(new LineProblem(line.source(), line.line(), result.problem()));
                continue;
            }
            String taskName = result.checked().template().getTask();
            LabelledExample example = LabelledExample.newBuilder()
                    .setExampleId(exampleId(taskName, new TreeMap<>(result.checked().fields()).toString()))
                    .setTask(taskName)
                    .setFields(result.checked().fields())
                    .setSplit(datasetSplit)
                    .setSource(line.location())
                    .setCreatedAtMillis(now)
                    .build();
            records.add(new TransactionalSender.Outgoing<>(line.line(), taskName, example));
        }
        problems.sort(Comparator.comparingLong(LineProblem::line));
        problems.forEach(cli.err()::println);
        if (strict && !problems.isEmpty()) {
            cli.out().println("sent 0 records to " + Topics.EXAMPLES.name() + ", rejected " + problems.size()
                    + " line(s) of " + file + " (--strict: nothing sent)");
            return ExitCodes.INPUT_REJECTED;
        }

        TransactionalSender.Report report;
        try (KafkaProducer<String, LabelledExample> producer = new KafkaProducer<>(
                kafka.transactionalProducerProperties("tunestream-ingest-examples",
                        "tunestream-ingest-examples-" + UUID.randomUUID()),
                new StringSerializer(), AvroSerdes.serializer(kafka.registry()))) {
            ProgressBar progress = new ProgressBar(cli.err(), "examples", records.size(), cli.clock());
            report = new TransactionalSender<>(producer, Topics.EXAMPLES.name(), batch,
                    rate == null ? null : RateLimiter.perSecond(rate)).send(records, progress);
            progress.finish();
        }
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

    /** Same task and fields, same id: re-ingesting a file replaces rather than duplicates. */
    static String exampleId(String task, String fields) {
        return UUID.nameUUIDFromBytes((task + '\u0000' + fields).getBytes(StandardCharsets.UTF_8)).toString();
    }
}

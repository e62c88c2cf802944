package io.tunestream.ingest.requests;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
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
import io.tunestream.schemas.Answer;
import io.tunestream.schemas.GenerationOptions;
import io.tunestream.schemas.InferenceRequest;
import io.tunestream.schemas.RequestLimits;
import io.tunestream.schemas.Topics;
import io.tunestream.schemas.kafka.KafkaClientConfig;
import io.tunestream.schemas.registry.AvroSerdes;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.Callable;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.common.serialization.StringSerializer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code requests IN --output OUT}: sends a JSONL of requests and writes their answers in input order. */
@Command(name = "requests", mixinStandardHelpOptions = true,
        description = {"Send a JSONL file of requests and write their answers, in input order, to a JSONL file.",
                "Each line is {\"taskname\": …, <fields>…} with optional \"request_id\", \"options\" "
                        + "({\"max_new_tokens\": 16, …}) and \"adapter_version\"; a line may carry the task's answer "
                        + "field (a NeMo dataset line does): it is not sent, and the answers are scored against it "
                        + "with SQuAD's exact match and token F1. Lines are checked before anything is sent; "
                        + "rejected lines are reported as FILE:LINE: reason and get an error line in the output.",
                "Exit code 0: all answered; 3: some lines rejected; 4: some answers did not arrive in time."},
        footer = {"", "Example:", "  ingest requests data/squad/validation.jsonl --output answers.jsonl --max-new-tokens 8"})
public final class RequestsCommand implements Callable<Integer> {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Set<String> OTHER_KEYS = Set.of("request_id", "options", "adapter_version");

    private final CliContext cli;

    @Mixin
    ConnectionOptions connection;

    @Mixin
    TemplateSource templateSource;

    @Mixin
    OptionsMixin generation;

    @Parameters(index = "0", paramLabel = "FILE", description = "JSONL file of requests.")
    Path input;

    @Option(names = {"-o", "--output"}, required = true, paramLabel = "FILE", description = "JSONL file of answers.")
    Path output;

    @Option(names = "--task", paramLabel = "TASK", description = "Task of lines without a taskname.")
    String task;

    @Option(names = "--rate", paramLabel = "PER_SECOND", description = "At most this many requests per second.")
    Double rate;

    @Option(names = "--batch", defaultValue = "500", paramLabel = "N",
            description = "Requests per transaction (default ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--timeout", defaultValue = "PT5M", paramLabel = "DURATION",
            description = "How long to wait for the last answer after sending (ISO-8601, default ${DEFAULT-VALUE}).")
    Duration timeout;

    public RequestsCommand(CliContext cli) {
        this.cli = cli;
    }

    /** One input line: what was sent (or why not) and what came back. */
    private record Entry(long line, InferenceRequest request, String expected, String problem) {
    }

    @Override
    public Integer call() {
        // the input first: a mistyped path fails at once, without waiting on the broker
        JsonlFile.Contents contents = JsonlFile.read(input);
        KafkaClientConfig kafka = connection.kafka();
        Duration setupTimeout = Duration.ofSeconds(30);
        ConnectionOptions.prepare(kafka, List.of(Topics.TASK_TEMPLATES, Topics.REQUESTS, Topics.ANSWERS), setupTimeout);
        TemplateCatalog templates = templateSource.load(kafka, cli.clock(), setupTimeout);

        String runId = UUID.randomUUID().toString().substring(0, 8);
        GenerationOptions defaults = generation.options();
        TaskFields checker = new TaskFields(templates, false, OTHER_KEYS);
        List<Entry> entries = new ArrayList<>();
        contents.problems().forEach(p -> entries.add(new Entry(p.line(), null, null, p.reason())));
        Set<String> ids = new HashSet<>();
        for (JsonlLine line : contents.lines()) {
            try {
                entries.add(toEntry(line, checker, defaults, runId, ids));
            } catch (IllegalArgumentException e) {
                entries.add(new Entry(line.line(), null, null, e.getMessage()));
            }
        }
        entries.sort(Comparator.comparingLong(Entry::line));
        long rejected = entries.stream().filter(e -> e.problem() != null).count();
        entries.stream().filter(e -> e.problem() != null)
                .forEach(e -> cli.err().println(new LineProblem(input.toString(), e.line(), e.problem())));
        List<TransactionalSender.Outgoing<InferenceRequest>> outgoing = entries.stream()
                .filter(e -> e.request() != null)
                .map(e -> new TransactionalSender.Outgoing<>(e.line(), e.request().getRequestId(), e.request()))
                .toList();

        Map<String, Answer> answers;
        TransactionalSender.Report report;
        try (AnswerCollector collector = new AnswerCollector(kafka, cli.clock(), setupTimeout);
             KafkaProducer<String, InferenceRequest> producer = new KafkaProducer<>(
                     kafka.transactionalProducerProperties("tunestream-ingest-requests",
                             "tunestream-ingest-requests-" + runId), new StringSerializer(),
                     AvroSerdes.serializer(kafka.registry()))) {
            ProgressBar sending = new ProgressBar(cli.err(), "requests", outgoing.size(), cli.clock());
            report = new TransactionalSender<>(producer, Topics.REQUESTS.name(), batch,
                    rate == null ? null : RateLimiter.perSecond(rate)).send(outgoing, sending);
            sending.finish();
            Set<String> sent = new HashSet<>();
            outgoing.stream().limit(report.sent()).forEach(o -> sent.add(o.key()));
            ProgressBar answering = new ProgressBar(cli.err(), "answers ", sent.size(), cli.clock());
            answers = collector.await(sent, timeout, a -> answering.advance(1));
            answering.finish();
        }
        if (!report.complete()) {
            cli.err().println("sending failed at line " + report.notSentFrom() + " (" + report.notSent()
                    + " request(s) from there on not sent): " + report.failure());
        }
        Summary summary = write(entries, answers, report);
        cli.out().println(summary.describe(output));
        if (!report.complete()) {
            return ExitCodes.FAILED;
        }
        if (summary.unanswered > 0) {
            return ExitCodes.TIMEOUT;
        }
        return rejected > 0 ? ExitCodes.INPUT_REJECTED : ExitCodes.OK;
    }

    private Entry toEntry(JsonlLine line, TaskFields checker, GenerationOptions defaults, String runId, Set<String> ids) {
        TaskFields.Result result = checker.check(line.json(), task);
        if (!result.ok()) {
            return new Entry(line.line(), null, null, result.problem());
        }
        JsonNode idNode = line.json().get("request_id");
        String id = idNode != null ? idNode.asText() : runId + "-" + line.line();
        if (!ids.add(id)) {
            return new Entry(line.line(), null, null, "request_id '" + id + "' used by an earlier line");
        }
        GenerationOptions options = line.json().has("options")
                ? OptionsMixin.fromJson(line.json().get("options"), defaults) : defaults;
        JsonNode version = line.json().get("adapter_version");
        if (version != null && !version.isNull() && !version.canConvertToInt()) {
            return new Entry(line.line(), null, null, "'adapter_version' must be an integer, was " + version);
        }
        InferenceRequest request = InferenceRequest.newBuilder()
                .setRequestId(id)
                .setTask(result.checked().template().getTask())
                .setFields(result.checked().fields())
                .setOptions(options)
                .setAdapterVersion(version == null || version.isNull() ? null : version.intValue())
                .setCreatedAtMillis(cli.clock().millis())
                .build();
        Optional<String> tooBig = RequestLimits.check(request);
        if (tooBig.isPresent()) {
            return new Entry(line.line(), null, null, tooBig.get());
        }
        return new Entry(line.line(), request, result.checked().answer(), null);
    }

    /** Counts and mean scores of a run. */
    private static final class Summary {
        long sent;
        long answered;
        long unanswered;
        long errors;
        long rejected;
        long scored;
        double exactMatch;
        double f1;

        String describe(Path output) {
            String text = "sent " + sent + " requests, answered " + answered + " (" + errors + " with an error), "
                    + "no answer " + unanswered + ", rejected " + rejected + "; answers written to " + output;
            if (scored > 0) {
                text += String.format("%nexact match %.4f, F1 %.4f over %d line(s) with an expected answer",
                        exactMatch / scored, f1 / scored, scored);
            }
            return text;
        }
    }

    private Summary write(List<Entry> entries, Map<String, Answer> answers, TransactionalSender.Report report) {
        Summary summary = new Summary();
        summary.sent = report.sent();
        try (BufferedWriter writer = Files.newBufferedWriter(output, StandardCharsets.UTF_8)) {
            for (Entry entry : entries) {
                ObjectNode line = JSON.createObjectNode();
                line.put("line", entry.line());
                if (entry.problem() != null) {
                    summary.rejected++;
                    line.putObject("error").put("kind", "REJECTED").put("message", entry.problem());
                    writer.write(line.toString());
                    writer.newLine();
                    continue;
                }
                InferenceRequest request = entry.request();
                line.put("request_id", request.getRequestId());
                line.put("task", request.getTask());
                Answer answer = answers.get(request.getRequestId());
                String text = answer == null || answer.getError() != null ? "" : answer.getText();
                if (answer == null) {
                    line.putNull("answer");
                    boolean sent = report.complete() || entry.line() < report.notSentFrom();
                    line.putObject("error").put("kind", sent ? "TIMEOUT" : "NOT_SENT")
                            .put("message", sent ? "no answer within " + timeout : "sending failed");
                    summary.unanswered += sent ? 1 : 0;
                } else {
                    summary.answered++;
                    line.put("answer", answer.getText());
                    line.put("finish_reason", answer.getFinishReason().toString());
                    if (answer.getAdapterVersion() != null) {
                        line.put("adapter_version", answer.getAdapterVersion());
                    }
                    if (answer.getError() != null) {
                        summary.errors++;
                        line.putObject("error").put("kind", answer.getError().getKind().toString())
                                .put("message", answer.getError().getMessage());
                    }
                }
                if (entry.expected() != null) {
                    double em = AnswerScores.exactMatch(text, entry.expected());
                    double f1 = AnswerScores.f1(text, entry.expected());
                    line.put("expected", entry.expected());
                    line.put("exact_match", em);
                    line.put("f1", f1);
                    summary.scored++;
                    summary.exactMatch += em;
                    summary.f1 += f1;
                }
                writer.write(line.toString());
                writer.newLine();
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + output + ": " + e.getMessage(), e);
        }
        return summary;
    }
}

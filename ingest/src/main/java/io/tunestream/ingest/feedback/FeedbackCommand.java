package io.tunestream.ingest.feedback;

import io.tunestream.ingest.CliContext;
import io.tunestream.ingest.ConnectionOptions;
import io.tunestream.ingest.ExitCodes;
import io.tunestream.ingest.jsonl.TaskFields;
import io.tunestream.ingest.template.TemplateCatalog;
import io.tunestream.ingest.template.TemplateSource;
import io.tunestream.schemas.Feedback;
import io.tunestream.schemas.RequestLimits;
import io.tunestream.schemas.Topics;
import io.tunestream.schemas.Verdict;
import io.tunestream.schemas.kafka.KafkaClientConfig;
import io.tunestream.schemas.registry.AvroSerdes;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code feedback REQUEST_ID}: records a verdict on an answer. */
@Command(name = "feedback", mixinStandardHelpOptions = true,
        description = {"Record acceptance, rejection or a correction of the answer to a request, on the feedback topic.",
                "A correction becomes a training example when the trainer knows the request's fields: pass them with "
                        + "--field (they are checked against the task's template)."},
        footer = {"", "Examples:", "  ingest feedback 3f2c… --task squad --accept",
                "  ingest feedback 3f2c… --task squad --correct ' Lenronaburg' --field context='…' --field question='…'"})
public final class FeedbackCommand implements Callable<Integer> {

    private final CliContext cli;

    @Mixin
    ConnectionOptions connection;

    @Mixin
    TemplateSource templateSource;

    @Parameters(index = "0", paramLabel = "REQUEST_ID", description = "Id of the request whose answer is judged.")
    String requestId;

    @Option(names = "--task", required = true, paramLabel = "TASK", description = "Task of the request.")
    String task;

    /** Exactly one verdict. */
    static final class VerdictChoice {
        @Option(names = "--accept", required = true, description = "The answer was right.")
        boolean accept;

        @Option(names = "--reject", required = true, description = "The answer was wrong; no better one given.")
        boolean reject;

        @Option(names = "--correct", required = true, paramLabel = "ANSWER", description = "The right answer.")
        String correction;

        Verdict verdict() {
            return accept ? Verdict.ACCEPTED : reject ? Verdict.REJECTED : Verdict.CORRECTED;
        }
    }

    @ArgGroup(exclusive = true, multiplicity = "1")
    VerdictChoice choice;

    @Option(names = {"-f", "--field"}, paramLabel = "NAME=VALUE", description = "A field of the request (repeatable).")
    Map<String, String> fields = new LinkedHashMap<>();

    @Option(names = "--answer-text", paramLabel = "TEXT", description = "The answer that was judged.")
    String answerText;

    @Option(names = "--adapter-version", paramLabel = "N", description = "Adapter version that produced it.")
    Integer adapterVersion;

    @Option(names = "--comment", defaultValue = "", paramLabel = "TEXT", description = "Free text.")
    String comment;

    @Option(names = "--timeout", defaultValue = "PT30S", paramLabel = "DURATION",
            description = "How long to wait for Kafka and the registry (ISO-8601, default ${DEFAULT-VALUE}).")
    Duration timeout;

    public FeedbackCommand(CliContext cli) {
        this.cli = cli;
    }

    @Override
    public Integer call() throws InterruptedException {
        KafkaClientConfig kafka = connection.kafka();
        ConnectionOptions.prepare(kafka, List.of(Topics.TASK_TEMPLATES, Topics.FEEDBACK), timeout);
        TemplateCatalog templates = templateSource.load(kafka, cli.clock(), timeout);
        if (templates.find(task).isEmpty()) {
            cli.err().println("not sent: unknown task '" + task + "' (known tasks: " + templates.knownTasks() + ")");
            return ExitCodes.INPUT_REJECTED;
        }
        if (!fields.isEmpty()) {
            TaskFields.Result checked = new TaskFields(templates, false, Set.of()).check(task, fields);
            if (!checked.ok()) {
                cli.err().println("not sent: " + checked.problem());
                return ExitCodes.INPUT_REJECTED;
            }
        }
        Verdict verdict = choice.verdict();
        Feedback feedback = Feedback.newBuilder()
                .setRequestId(requestId)
                .setTask(task)
                .setVerdict(verdict)
                .setCorrection(verdict == Verdict.CORRECTED ? choice.correction : null)
                .setFields(fields)
                .setAnswerText(answerText)
                .setAdapterVersion(adapterVersion)
                .setComment(comment)
                .setCreatedAtMillis(cli.clock().millis())
                .build();
        Optional<String> tooBig = RequestLimits.check(feedback);
        if (tooBig.isPresent()) {
            cli.err().println("not sent: " + tooBig.get());
            return ExitCodes.INPUT_REJECTED;
        }
        try (KafkaProducer<String, Feedback> producer = new KafkaProducer<>(
                kafka.producerProperties("tunestream-ingest-feedback"), new StringSerializer(),
                AvroSerdes.serializer(kafka.registry()))) {
            producer.send(new ProducerRecord<>(Topics.FEEDBACK.name(), requestId, feedback)).get();
        } catch (ExecutionException e) {
            cli.err().println("feedback for request " + requestId + " could not be sent to " + Topics.FEEDBACK.name()
                    + ": " + e.getCause());
            return ExitCodes.FAILED;
        }
        cli.out().println("recorded " + verdict + " for request " + requestId + " (task " + task + ") on "
                + Topics.FEEDBACK.name());
        return ExitCodes.OK;
    }
}

package io.tunestream.ingest.requests;

import io.tunestream.ingest.CliContext;
import io.tunestream.ingest.ConnectionOptions;
import io.tunestream.ingest.ExitCodes;
import io.tunestream.ingest.jsonl.TaskFields;
import io.tunestream.ingest.template.TemplateSource;
import io.tunestream.schemas.Answer;
import io.tunestream.schemas.InferenceRequest;
import io.tunestream.schemas.RequestLimits;
import io.tunestream.schemas.Topics;
import io.tunestream.schemas.kafka.KafkaClientConfig;
import io.tunestream.schemas.registry.AvroSerdes;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code ask}: sends one request and prints its answer. */
@Command(name = "ask", mixinStandardHelpOptions = true,
        description = {"Send one request and print its answer.",
                "The task and fields are checked against the task's template before anything is sent. The answer "
                        + "text goes to standard output; the request id and how the answer was made go to standard "
                        + "error (use the id with 'ingest feedback').",
                "Exit code 0: answered; 1: answered with an error; 3: invalid task or fields; 4: no answer in time."},
        footer = {"", "Example:",
                "  ingest ask --task squad --field context='Ann lives in Rome.' --field question='Where does Ann live?'"})
public final class AskCommand implements Callable<Integer> {

    private final CliContext cli;

    @Mixin
    ConnectionOptions connection;

    @Mixin
    TemplateSource templateSource;

    @Mixin
    OptionsMixin generation;

    @Option(names = "--task", required = true, paramLabel = "TASK", description = "Task name.")
    String task;

    @Option(names = {"-f", "--field"}, paramLabel = "NAME=VALUE", description = "A field of the task's template (repeatable).")
    Map<String, String> fields = new LinkedHashMap<>();

    @Option(names = "--request-id", paramLabel = "ID", description = "Request id (default: a random UUID).")
    String requestId;

    @Option(names = "--adapter-version", paramLabel = "N", description = "Pin this adapter version of the task.")
    Integer adapterVersion;

    @Option(names = "--timeout", defaultValue = "PT60S", paramLabel = "DURATION",
            description = "How long to wait for the answer (ISO-8601, default ${DEFAULT-VALUE}).")
    Duration timeout;

    public AskCommand(CliContext cli) {
        this.cli = cli;
    }

    @Override
    public Integer call() throws InterruptedException {
        KafkaClientConfig kafka = connection.kafka();
        ConnectionOptions.prepare(kafka, List.of(Topics.TASK_TEMPLATES, Topics.REQUESTS, Topics.ANSWERS), timeout);
        TaskFields.Result checked = new TaskFields(templateSource.load(kafka, cli.clock(), timeout), false, Set.of())
                .check(task, fields);
        if (!checked.ok()) {
            cli.err().println("not sent: " + checked.problem());
            return ExitCodes.INPUT_REJECTED;
        }
        String id = requestId != null ? requestId : UUID.randomUUID().toString();
        InferenceRequest request = InferenceRequest.newBuilder()
                .setRequestId(id)
                .setTask(task)
                .setFields(checked.checked().fields())
                .setOptions(generation.options())
                .setAdapterVersion(adapterVersion)
                .setCreatedAtMillis(cli.clock().millis())
                .build();
        Optional<String> tooBig = RequestLimits.check(request);
        if (tooBig.isPresent()) {
            cli.err().println("not sent: " + tooBig.get());
            return ExitCodes.INPUT_REJECTED;
        }
        try (AnswerCollector answers = new AnswerCollector(kafka, cli.clock(), timeout);
             KafkaProducer<String, InferenceRequest> producer = new KafkaProducer<>(
                     kafka.producerProperties("tunestream-ingest-ask"), new StringSerializer(),
                     AvroSerdes.serializer(kafka.registry()))) {
            producer.send(new ProducerRecord<>(Topics.REQUESTS.name(), id, request)).get();
            cli.err().println("request " + id + " sent, waiting up to " + timeout.toSeconds() + " s for its answer");
            Answer answer = answers.await(Set.of(id), timeout, a -> { }).get(id);
            if (answer == null) {
                cli.err().println("no answer to request " + id + " within " + timeout.toSeconds() + " s");
                return ExitCodes.TIMEOUT;
            }
            if (answer.getError() != null) {
                cli.err().println("error " + answer.getError().getKind() + ": " + answer.getError().getMessage());
                return ExitCodes.FAILED;
            }
            cli.out().println(answer.getText());
            String adapter = answer.getAdapterVersion() == null ? "no adapter (plain template)"
                    : "adapter version " + answer.getAdapterVersion();
            cli.err().println("task " + answer.getTask() + ", " + adapter + ", "
                    + answer.getCompletionTokens() + " tokens, finished by " + answer.getFinishReason());
            return ExitCodes.OK;
        } catch (ExecutionException e) {
            cli.err().println("request " + id + " could not be sent to " + Topics.REQUESTS.name() + ": " + e.getCause());
            return ExitCodes.FAILED;
        }
    }
}

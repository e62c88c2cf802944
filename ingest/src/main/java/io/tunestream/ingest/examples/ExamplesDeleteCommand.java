package io.tunestream.ingest.examples;

import io.tunestream.ingest.CliContext;
import io.tunestream.ingest.ConnectionOptions;
import io.tunestream.ingest.ExitCodes;
import io.tunestream.ingest.jsonl.TransactionalSender;
import io.tunestream.schemas.ExampleKey;
import io.tunestream.schemas.LabelledExample;
import io.tunestream.schemas.TaskNames;
import io.tunestream.schemas.Topics;
import io.tunestream.schemas.kafka.KafkaClientConfig;
import io.tunestream.schemas.registry.AvroSerdes;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.Callable;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.common.serialization.StringSerializer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code examples delete --task TASK ID…}: deletes examples by id with tombstones. */
@Command(name = "delete", mixinStandardHelpOptions = true,
        description = {"Delete examples of a task by id: a tombstone for <task>/<id> goes to the examples topic, in one "
                + "transaction. The trainer forgets the example at once and after every restart (it reads the "
                + "tombstone, or, once compaction has run, finds neither); compaction removes the record itself.",
                "Exit code 0: all tombstones sent; 3: the task name is not valid; 1: sending failed (none sent)."},
        footer = {"", "Example:", "  ingest examples delete --task squad 0b6e2c1d-… 7f1a…"})
public final class ExamplesDeleteCommand implements Callable<Integer> {

    private final CliContext cli;

    @Mixin
    ConnectionOptions connection;

    @Option(names = "--task", required = true, paramLabel = "TASK", description = "Task the examples belong to.")
    String task;

    @Parameters(arity = "1..*", paramLabel = "ID", description = "Example ids (exampleId of the records).")
    List<String> ids;

    @Option(names = "--timeout", defaultValue = "PT30S", paramLabel = "DURATION",
            description = "How long to wait for Kafka (ISO-8601, default ${DEFAULT-VALUE}).")
    Duration timeout;

    public ExamplesDeleteCommand(CliContext cli) {
        this.cli = cli;
    }

    @Override
    public Integer call() {
        Optional<String> badTask = TaskNames.problem(task);
        if (badTask.isPresent()) {
            cli.err().println("--task: " + badTask.get());
            return ExitCodes.INPUT_REJECTED;
        }
        List<TransactionalSender.Outgoing<LabelledExample>> tombstones = tombstones(task, ids);
        KafkaClientConfig kafka = connection.kafka();
        ConnectionOptions.prepare(kafka, List.of(Topics.EXAMPLES), timeout);
        TransactionalSender.Report report = send(kafka, tombstones);
        if (!report.complete()) {
            cli.out().println("deleted 0 example(s) of task " + task + ": sending failed, no tombstone sent");
            cli.err().println("sending failed: " + report.failure());
            return ExitCodes.FAILED;
        }
        cli.out().println("deleted " + report.sent() + " example(s) of task " + task + " (tombstones sent to "
                + Topics.EXAMPLES.name() + ")");
        return ExitCodes.OK;
    }

    /** One tombstone per distinct id, keyed {@code <task>/<id>}. */
    static List<TransactionalSender.Outgoing<LabelledExample>> tombstones(String task, List<String> ids) {
        List<TransactionalSender.Outgoing<LabelledExample>> tombstones = new ArrayList<>();
        long n = 0;
        for (String id : new LinkedHashSet<>(ids)) {
            tombstones.add(new TransactionalSender.Outgoing<>(++n, new ExampleKey(task, id).toString(), null));
        }
        return tombstones;
    }

    /** All the tombstones in one transaction: every example is deleted, or none. */
    static TransactionalSender.Report send(KafkaClientConfig kafka,
                                           List<TransactionalSender.Outgoing<LabelledExample>> tombstones) {
        try (KafkaProducer<String, LabelledExample> producer = new KafkaProducer<>(
                kafka.transactionalProducerProperties("tunestream-ingest-examples-delete",
                        "tunestream-ingest-examples-delete-" + UUID.randomUUID()),
                new StringSerializer(), AvroSerdes.serializer(kafka.registry()))) {
            return new TransactionalSender<>(producer, Topics.EXAMPLES.name(), Math.max(1, tombstones.size()), null)
                    .send(tombstones, null);
        }
    }
}

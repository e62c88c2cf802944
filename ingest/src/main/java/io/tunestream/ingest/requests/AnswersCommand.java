package io.tunestream.ingest.requests;

import io.tunestream.ingest.CliContext;
import io.tunestream.ingest.ConnectionOptions;
import io.tunestream.ingest.ExitCodes;
import io.tunestream.schemas.Answer;
import io.tunestream.schemas.Topics;
import io.tunestream.schemas.kafka.KafkaClientConfig;
import io.tunestream.schemas.registry.AvroSerdes;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code answers}: follows the {@code answers} topic and prints each answer as a JSON line. */
@Command(name = "answers", mixinStandardHelpOptions = true,
        description = {"Follow the answers topic and print every answer as one JSON line (committed answers only).",
                "Runs until interrupted, or until --max answers were printed, or --idle-timeout passed without one."},
        footer = {"", "Example:", "  ingest answers --from-beginning --task squad"})
public final class AnswersCommand implements Callable<Integer> {

    private final CliContext cli;

    @Mixin
    ConnectionOptions connection;

    @Option(names = "--from-beginning", description = "Start at the oldest answer kept, not at the end.")
    boolean fromBeginning;

    @Option(names = "--task", paramLabel = "TASK", description = "Only answers of this task.")
    String task;

    @Option(names = "--request-id", paramLabel = "ID", description = "Only the answer to this request.")
    String requestId;

    @Option(names = "--max", paramLabel = "N", description = "Stop after N answers.")
    Long max;

    @Option(names = "--idle-timeout", paramLabel = "DURATION",
            description = "Stop when no answer arrived for this long (ISO-8601, e.g. PT30S).")
    Duration idleTimeout;

    public AnswersCommand(CliContext cli) {
        this.cli = cli;
    }

    @Override
    public Integer call() {
        KafkaClientConfig kafka = connection.kafka();
        Duration setupTimeout = Duration.ofSeconds(30);
        ConnectionOptions.prepare(kafka, List.of(Topics.ANSWERS), setupTimeout);
        String topic = Topics.ANSWERS.name();
        long printed = 0;
        try (KafkaConsumer<String, Answer> consumer = new KafkaConsumer<>(
                kafka.consumerProperties("tunestream-ingest-follow", null), new StringDeserializer(),
                AvroSerdes.deserializer(Answer.class, kafka.registry()))) {
            List<TopicPartition> partitions = consumer.partitionsFor(topic, setupTimeout).stream()
                    .map(p -> new TopicPartition(topic, p.partition())).toList();
            consumer.assign(partitions);
            if (fromBeginning) {
                consumer.seekToBeginning(partitions);
            } else {
                consumer.seekToEnd(partitions);
                partitions.forEach(p -> consumer.position(p, setupTimeout));
            }
            long lastAnswerAt = cli.clock().millis();
            while (max == null || printed < max) {
                if (idleTimeout != null && cli.clock().millis() - lastAnswerAt >= idleTimeout.toMillis()) {
                    break;
                }
                for (ConsumerRecord<String, Answer> record : consumer.poll(Duration.ofMillis(200))) {
                    Answer answer = record.value();
                    if (answer == null || (task != null && !task.equals(answer.getTask()))
                            || (requestId != null && !requestId.equals(answer.getRequestId()))) {
                        continue;
                    }
                    lastAnswerAt = cli.clock().millis();
                    cli.out().println(answer);
                    cli.out().flush();
                    if (max != null && ++printed >= max) {
                        break;
                    }
                }
            }
        }
        cli.err().println(printed + " answer(s) printed");
        return ExitCodes.OK;
    }
}

package io.tunestream.ingest.examples;

import io.tunestream.ingest.jsonl.JsonlFile;
import io.tunestream.ingest.jsonl.JsonlLine;
import io.tunestream.ingest.jsonl.LineProblem;
import io.tunestream.ingest.jsonl.ProgressBar;
import io.tunestream.ingest.jsonl.RateLimiter;
import io.tunestream.ingest.jsonl.TaskFields;
import io.tunestream.ingest.jsonl.TransactionalSender;
import io.tunestream.ingest.template.TemplateCatalog;
import io.tunestream.schemas.DatasetSplit;
import io.tunestream.schemas.ExampleKey;
import io.tunestream.schemas.LabelledExample;
import io.tunestream.schemas.Topics;
import io.tunestream.schemas.kafka.KafkaClientConfig;
import io.tunestream.schemas.registry.AvroSerdes;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * Turns NeMo JSONL lines into {@link LabelledExample}s checked against their task templates, and
 * sends them to {@code examples} in transactions. Shared by the CLI and the HTTP endpoint.
 */
public final class ExampleIngestion {

    /** The examples to send and the lines rejected, each in line order. */
    public record Checked(List<TransactionalSender.Outgoing<LabelledExample>> examples, List<LineProblem> problems) {
        public Checked {
            examples = List.copyOf(examples);
            problems = List.copyOf(problems);
        }
    }

    private ExampleIngestion() {
    }

    /**
     * Checks every line of {@code contents}; {@code defaultTask} (may be null) is used for lines
     * without a taskname.
     */
    public static Checked check(JsonlFile.Contents contents, TemplateCatalog templates, DatasetSplit split,
                                String defaultTask, long nowMillis) {
        TaskFields checker = new TaskFields(templates, true, Set.of());
        List<LineProblem> problems = new ArrayList<>(contents.problems());
        List<TransactionalSender.Outgoing<LabelledExample>> examples = new ArrayList<>();
        for (JsonlLine line : contents.lines()) {
            TaskFields.Result result = checker.check(line.json(), defaultTask);
            if (!result.ok()) {
                problems.add(new LineProblem(line.source(), line.line(), result.problem()));
                continue;
            }
            String task = result.checked().template().getTask();
            LabelledExample example = LabelledExample.newBuilder()
                    .setExampleId(exampleId(task, new TreeMap<>(result.checked().fields()).toString()))
                    .setTask(task)
                    .setFields(result.checked().fields())
                    .setSplit(split)
                    .setSource(line.location())
                    .setCreatedAtMillis(nowMillis)
                    .build();
            examples.add(new TransactionalSender.Outgoing<>(line.line(), ExampleKey.of(example).toString(), example));
        }
        problems.sort(Comparator.comparingLong(LineProblem::line));
        return new Checked(examples, problems);
    }

    /**
     * Sends {@code examples} in transactions of {@code batch} records, keyed {@code <task>/<exampleId>}
     * ({@link ExampleKey}: compaction keeps the latest record of each example, all of a task's examples
     * share a partition).
     *
     * @param rateLimiter may be null (no limit)
     * @param progress    may be null
     */
    public static TransactionalSender.Report send(KafkaClientConfig kafka,
                                                  List<TransactionalSender.Outgoing<LabelledExample>> examples,
                                                  int batch, RateLimiter rateLimiter, ProgressBar progress) {
        try (KafkaProducer<String, LabelledExample> producer = new KafkaProducer<>(
                kafka.transactionalProducerProperties("tunestream-ingest-examples",
                        "tunestream-ingest-examples-" + UUID.randomUUID()),
                new StringSerializer(), AvroSerdes.serializer(kafka.registry()))) {
            return new TransactionalSender<>(producer, Topics.EXAMPLES.name(), batch, rateLimiter)
                    .send(examples, progress);
        }
    }

    /** Same task and fields, same id: re-ingesting a file replaces rather than duplicates. */
    static String exampleId(String task, String fields) {
        return UUID.nameUUIDFromBytes((task + '\u0000' + fields).getBytes(StandardCharsets.UTF_8)).toString();
    }
}

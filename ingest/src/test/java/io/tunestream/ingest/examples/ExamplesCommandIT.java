package io.tunestream.ingest.examples;

import static org.assertj.core.api.Assertions.assertThat;

import io.tunestream.devkit.PlatformEndpoints;
import io.tunestream.devkit.junit.LocalPlatformExtension;
import io.tunestream.ingest.CliRun;
import io.tunestream.ingest.ExitCodes;
import io.tunestream.ingest.TopicReader;
import io.tunestream.schemas.DatasetSplit;
import io.tunestream.schemas.LabelledExample;
import io.tunestream.schemas.Topics;
import io.tunestream.schemas.kafka.KafkaClientConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

@ExtendWith(LocalPlatformExtension.class)
class ExamplesCommandIT {

    private static final Path HOME = Path.of(System.getProperty("tunestream.home"));

    @Test
    void shouldStreamTheSquadValidationSetAndCountEveryRecord(PlatformEndpoints platform) {
        Path file = HOME.resolve("data/squad/validation.jsonl");

        CliRun run = CliRun.run(platform, "examples", file.toString(), "--templates",
                HOME.resolve("data/templates.yaml").toString());

        assertThat(run.exitCode()).as(run.err()).isZero();
        assertThat(run.out()).isEqualTo("sent 200 records to examples (VALIDATION), rejected 0 line(s) of " + file
                + System.lineSeparator());
        assertThat(run.err()).contains("examples [", "] 200/200 100%");
        List<LabelledExample> sent = TopicReader.readAll(platform, Topics.EXAMPLES.name(), LabelledExample.class,
                e -> e.getSource().startsWith(file + ":"), 200);
        assertThat(sent).hasSize(200).allSatisfy(e -> {
            assertThat(e.getTask()).isEqualTo("squad");
            assertThat(e.getSplit()).isEqualTo(DatasetSplit.VALIDATION);
            assertThat(e.getFields()).containsOnlyKeys("context", "question", "answer");
        });
        assertThat(sent.get(0).getSource()).isEqualTo(file + ":1");
    }

    @Test
    void shouldReportBadLinesWithFileLineAndReasonAndSendExactlyTheOthers(PlatformEndpoints platform,
                                                                         @TempDir Path dir) throws Exception {
        String task = "ex-" + UUID.randomUUID();
        Path templates = Files.writeString(dir.resolve("templates.yaml"), """
                task_templates:
                  - taskname: %s
                    prompt_template: "<|VIRTUAL_PROMPT_0|> Q: {question} A:{answer}"
                    prompt_template_fields: [question, answer]
                    total_virtual_tokens: 4
                    virtual_token_splits: [4]
                    answer_field: answer
                """.formatted(task));
        assertThat(CliRun.run(platform, "templates", templates.toString()).exitCode()).isZero();
        Path file = Files.writeString(dir.resolve("train.jsonl"), String.join("\n",
                "{\"taskname\": \"%s\", \"question\": \"q1\", \"answer\": \" a1\"}".formatted(task),
                "{\"taskname\": \"%s\", \"question\": \"q2\", ".formatted(task),
                "{\"taskname\": \"nope\", \"question\": \"q3\", \"answer\": \" a3\"}",
                "{\"taskname\": \"%s\", \"question\": \"q4\"}".formatted(task),
                "{\"taskname\": \"%s\", \"question\": \"q5\", \"answer\": \" a5\", \"hint\": \"h\"}".formatted(task),
                "{\"taskname\": \"%s\", \"question\": \"q6\", \"answer\": \" a6\"}".formatted(task)) + "\n");

        CliRun run = CliRun.run(platform, "examples", file.toString());

        assertThat(run.exitCode()).isEqualTo(ExitCodes.INPUT_REJECTED);
        assertThat(run.out()).isEqualTo("sent 2 records to examples (TRAIN), rejected 4 line(s) of " + file
                + " (lines [2, 3, 4, 5])" + System.lineSeparator());
        List<String> problems = run.err().lines().filter(l -> l.startsWith(file + ":")).toList();
        assertThat(problems).hasSize(4);
        assertThat(problems.get(0)).startsWith(file + ":2: malformed JSON at column "
                + (("{\"taskname\": \"" + task + "\", \"question\": \"q2\", ").length() + 1)
                + ": Unexpected end-of-input");
        assertThat(problems.get(1)).startsWith(file + ":3: unknown task 'nope' (known tasks: ").contains(task);
        assertThat(problems.get(2)).isEqualTo(file + ":4: task '" + task + "': missing field(s) [answer]");
        assertThat(problems.get(3)).isEqualTo(file + ":5: task '" + task
                + "': field(s) [hint] not used by the template (fields: question, answer)");
        List<LabelledExample> sent = TopicReader.readAll(platform, Topics.EXAMPLES.name(), LabelledExample.class,
                e -> e.getTask().equals(task), 2);
        assertThat(sent).extracting(LabelledExample::getSource).containsExactly(file + ":1", file + ":6");
        assertThat(sent.get(1).getFields()).containsEntry("answer", " a6");
    }

    @Test
    void shouldKeyExamplesByTaskAndIdOnTheTasksPartitionAndDeleteThemByIdWithTombstones(PlatformEndpoints platform,
                                                                                        @TempDir Path dir)
            throws Exception {
        String task = "del-" + UUID.randomUUID();
        Path templates = Files.writeString(dir.resolve("templates.yaml"), """
                task_templates:
                  - taskname: %s
                    prompt_template: "<|VIRTUAL_PROMPT_0|> Q: {question} A:{answer}"
                    prompt_template_fields: [question, answer]
                    total_virtual_tokens: 4
                    virtual_token_splits: [4]
                    answer_field: answer
                """.formatted(task));
        assertThat(CliRun.run(platform, "templates", templates.toString()).exitCode()).isZero();
        StringBuilder lines = new StringBuilder();
        for (int i = 0; i < 6; i++) {
            lines.append("{\"taskname\": \"%s\", \"question\": \"q%d\", \"answer\": \" a%d\"}\n".formatted(task, i, i));
        }
        Path file = Files.writeString(dir.resolve("train.jsonl"), lines);
        assertThat(CliRun.run(platform, "examples", file.toString()).exitCode()).isZero();
        List<ConsumerRecord<String, Object>> sent = records(platform, r -> r.key().startsWith(task + "/"), 6);
        assertThat(sent).allSatisfy(r -> assertThat(r.key())
                .isEqualTo(task + "/" + ((LabelledExample) r.value()).getExampleId()));
        assertThat(sent).extracting(ConsumerRecord::partition).containsOnly(sent.get(0).partition());
        String deleted = ((LabelledExample) sent.get(2).value()).getExampleId();

        CliRun run = CliRun.run(platform, "examples", "delete", "--task", task, deleted, deleted);

        assertThat(run.exitCode()).as(run.err()).isZero();
        assertThat(run.out()).isEqualTo("deleted 1 example(s) of task " + task + " (tombstones sent to examples)"
                + System.lineSeparator());
        List<ConsumerRecord<String, Object>> all = records(platform, r -> r.key().startsWith(task + "/"), 7);
        ConsumerRecord<String, Object> tombstone = all.get(all.size() - 1);
        assertThat(tombstone.key()).isEqualTo(task + "/" + deleted);
        assertThat(tombstone.value()).isNull();
        assertThat(tombstone.partition()).isEqualTo(sent.get(0).partition());
    }

    @Test
    void shouldRefuseToDeleteWithATaskNameExampleKeysCannotHold(PlatformEndpoints platform) {
        CliRun run = CliRun.run(platform, "examples", "delete", "--task", "qa/fr", "e1");

        assertThat(run.exitCode()).isEqualTo(ExitCodes.INPUT_REJECTED);
        assertThat(run.err()).contains("--task: task name 'qa/fr' must not contain '/'");
    }

    /** The records of examples (tombstones included) matching {@code which}, once there are {@code count}. */
    private static List<ConsumerRecord<String, Object>> records(PlatformEndpoints platform,
                                                              Predicate<ConsumerRecord<String, Object>> which, int count) {
        KafkaClientConfig kafka = TopicReader.kafka(platform);
        try (KafkaConsumer<String, Object> consumer = new KafkaConsumer<>(kafka.consumerProperties("del-reader", null))) {
            List<TopicPartition> partitions = consumer.partitionsFor(Topics.EXAMPLES.name()).stream()
                    .map(p -> new TopicPartition(p.topic(), p.partition())).toList();
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            List<ConsumerRecord<String, Object>> found = new ArrayList<>();
            long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
            while (found.size() < count) {
                assertThat(System.nanoTime()).as("%d records within 20 s, found %s", count, found).isLessThan(deadline);
                consumer.poll(Duration.ofMillis(200)).forEach(r -> {
                    if (r.key() != null && which.test(r)) {
                        found.add(r);
                    }
                });
            }
            return found;
        }
    }
}

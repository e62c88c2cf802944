package io.tunestream.ingest.feedback;

import static org.assertj.core.api.Assertions.assertThat;

import io.tunestream.devkit.PlatformEndpoints;
import io.tunestream.devkit.junit.LocalPlatformExtension;
import io.tunestream.ingest.CliRun;
import io.tunestream.ingest.ExitCodes;
import io.tunestream.ingest.TopicReader;
import io.tunestream.schemas.Answer;
import io.tunestream.schemas.Feedback;
import io.tunestream.schemas.FinishReason;
import io.tunestream.schemas.Topics;
import io.tunestream.schemas.Verdict;
import io.tunestream.schemas.kafka.KafkaClientConfig;
import io.tunestream.schemas.registry.AvroSerdes;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

@ExtendWith(LocalPlatformExtension.class)
class FeedbackAndAnswersIT {

    private static final String TEMPLATES =
            Path.of(System.getProperty("tunestream.home"), "data", "templates.yaml").toString();

    @Test
    void shouldRecordACorrectionWithTheRequestsFields(PlatformEndpoints platform) {
        String requestId = "fb-" + UUID.randomUUID();

        CliRun run = CliRun.run(platform, "feedback", requestId, "--task", "squad", "--correct", " Rome",
                "--field", "context=Ann lives in Rome.", "--field", "question=Where does Ann live?",
                "--answer-text", " Paris", "--templates", TEMPLATES);

        assertThat(run.exitCode()).as(run.err()).isZero();
        assertThat(run.out()).isEqualTo("recorded CORRECTED for request " + requestId + " (task squad) on feedback"
                + System.lineSeparator());
        List<Feedback> recorded = TopicReader.readAll(platform, Topics.FEEDBACK.name(), Feedback.class,
                f -> f.getRequestId().equals(requestId), 1);
        assertThat(recorded).singleElement().satisfies(f -> {
            assertThat(f.getVerdict()).isEqualTo(Verdict.CORRECTED);
            assertThat(f.getCorrection()).isEqualTo(" Rome");
            assertThat(f.getAnswerText()).isEqualTo(" Paris");
            assertThat(f.getFields()).containsOnly(Map.entry("context", "Ann lives in Rome."),
                    Map.entry("question", "Where does Ann live?"));
        });
    }

    @Test
    void shouldRecordAnAcceptanceAndRefuseAnUnknownTask(PlatformEndpoints platform) {
        String requestId = "fb-" + UUID.randomUUID();

        CliRun accepted = CliRun.run(platform, "feedback", requestId, "--task", "squad", "--accept",
                "--templates", TEMPLATES);
        CliRun unknown = CliRun.run(platform, "feedback", requestId, "--task", "sqaud", "--reject",
                "--templates", TEMPLATES);

        assertThat(accepted.exitCode()).isZero();
        assertThat(unknown.exitCode()).isEqualTo(ExitCodes.INPUT_REJECTED);
        assertThat(unknown.err()).isEqualTo("not sent: unknown task 'sqaud' (known tasks: assistant, squad)"
                + System.lineSeparator());
        assertThat(TopicReader.readAll(platform, Topics.FEEDBACK.name(), Feedback.class,
                f -> f.getRequestId().equals(requestId), 1)).extracting(Feedback::getVerdict).containsExactly(Verdict.ACCEPTED);
    }

    @Test
    void shouldPrintTheAnswersOfATask(PlatformEndpoints platform) throws Exception {
        String task = "follow-" + UUID.randomUUID();
        KafkaClientConfig kafka = TopicReader.kafka(platform);
        io.tunestream.ingest.CliRun.setUp(platform);
        io.tunestream.ingest.ConnectionOptions.prepare(kafka, List.of(Topics.ANSWERS), java.time.Duration.ofSeconds(30));
        try (KafkaProducer<String, Answer> producer = new KafkaProducer<>(kafka.producerProperties("test"),
                new StringSerializer(), AvroSerdes.serializer(kafka.registry()))) {
            for (String id : List.of("r1", "r2", "r3")) {
                Answer answer = Answer.newBuilder().setRequestId(task + "/" + id).setTask(task).setText(" text of " + id)
                        .setFinishReason(FinishReason.EOS).build();
                producer.send(new ProducerRecord<>(Topics.ANSWERS.name(), answer.getRequestId(), answer)).get();
            }
        }

        CliRun run = CliRun.run(platform, "answers", "--from-beginning", "--task", task, "--max", "3",
                "--idle-timeout", "PT30S");

        assertThat(run.exitCode()).isZero();
        List<String> printed = run.out().lines().toList();
        assertThat(printed).hasSize(3);
        assertThat(printed).anySatisfy(l -> assertThat(l).contains("\"requestId\": \"" + task + "/r2\"",
                "\"text\": \" text of r2\"", "\"finishReason\": \"EOS\""));
        assertThat(run.err()).isEqualTo("3 answer(s) printed" + System.lineSeparator());
    }
}

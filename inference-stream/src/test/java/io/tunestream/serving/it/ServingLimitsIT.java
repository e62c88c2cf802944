package io.tunestream.serving.it;

import static io.tunestream.serving.testing.Fixtures.assistant;
import static io.tunestream.serving.testing.Fixtures.assistantRequest;
import static io.tunestream.serving.testing.Fixtures.request;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.tunestream.devkit.PlatformEndpoints;
import io.tunestream.devkit.junit.LocalPlatformExtension;
import io.tunestream.model.onnx.RuntimeConfig;
import io.tunestream.schemas.Answer;
import io.tunestream.schemas.ErrorKind;
import io.tunestream.serving.ServingApp;
import io.tunestream.serving.model.ModelBatchAnswerer;
import io.tunestream.schemas.DeadLetters;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.apache.kafka.common.config.TopicConfig;
import org.apache.kafka.streams.KafkaStreams;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Issue 14, point 2, under exactly_once_v2 with the {@code answers} topic at Kafka's usual 1 MiB limit: a
 * request whose error answer would not fit must not stop the task (a broker-side rejection aborts the
 * transaction, the replaced stream thread replays the record and fails again, forever).
 */
@ExtendWith(LocalPlatformExtension.class)
class ServingLimitsIT {

    private static final Duration TIMEOUT = Duration.ofSeconds(30);
    private static ModelBatchAnswerer model;
    private ServingFixture fixture;

    @BeforeAll
    static void loadModel() {
        model = ModelBatchAnswerer.load(ServingFixture.tinyGpt2(), RuntimeConfig.cpu(1));
    }

    @AfterAll
    static void closeModel() {
        model.close();
    }

    @AfterEach
    void close() throws Exception {
        if (fixture != null) {
            fixture.close();
        }
    }

    @Test
    void shouldDeadLetterAnOversizedIdAnswerAnOversizedPromptAndGoOnAnsweringUnderADefaultAnswerLimit(
            PlatformEndpoints platform) throws Exception {
        fixture = new ServingFixture(platform, 1, Map.of(TopicConfig.MAX_MESSAGE_BYTES_CONFIG, "1048576"));
        ServingApp app = fixture.startApp(1, 10, model);
        await().atMost(TIMEOUT).until(() -> app.state() == KafkaStreams.State.RUNNING);
        fixture.publish(assistant("assistant", 4));
        Thread.sleep(500); // the global store picks the template up before the requests arrive

        String hugeId = "x".repeat(600 * 1024);
        String longContext = "words ".repeat(12_000);
        fixture.send(request(hugeId, "assistant", Map.of("utterance", longContext)));
        fixture.send(request("long-prompt", "assistant", Map.of("utterance", longContext)));
        fixture.send(assistantRequest("after", "assistant"));

        Map<String, Answer> answers = fixture.awaitAnswers(2, TIMEOUT).stream()
                .collect(Collectors.toMap(Answer::getRequestId, Function.identity()));
        assertThat(answers.keySet()).containsExactlyInAnyOrder("long-prompt", "after");
        assertThat(answers.get("long-prompt").getError().getKind()).isEqualTo(ErrorKind.PROMPT_TOO_LONG);
        assertThat(answers.get("after").getError()).isNull();
        var dead = fixture.awaitDeadLetters(1, TIMEOUT);
        assertThat(dead).hasSize(1);
        assertThat(new String(dead.get(0).headers().lastHeader(DeadLetters.REASON_HEADER).value(),
                StandardCharsets.UTF_8)).isEqualTo("request id '" + "x".repeat(32) + "...(614400 chars)' has 614400 "
                + "characters, more than the limit of 256: an answer cannot be keyed by it");
    }
}

package io.tunestream.serving.it;

import static io.tunestream.serving.testing.Fixtures.adapter;
import static io.tunestream.serving.testing.Fixtures.assistant;
import static io.tunestream.serving.testing.Fixtures.assistantRequest;
import static io.tunestream.serving.testing.Fixtures.pinned;
import static io.tunestream.serving.testing.Fixtures.request;
import static io.tunestream.serving.testing.Fixtures.squad;
import static io.tunestream.serving.testing.Fixtures.squadRequest;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.tunestream.devkit.PlatformEndpoints;
import io.tunestream.devkit.junit.LocalPlatformExtension;
import io.tunestream.model.onnx.RuntimeConfig;
import io.tunestream.schemas.Answer;
import io.tunestream.schemas.ErrorKind;
import io.tunestream.schemas.FinishReason;
import io.tunestream.serving.ServingApp;
import io.tunestream.serving.model.ModelBatchAnswerer;
import io.tunestream.schemas.DeadLetters;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.apache.kafka.streams.KafkaStreams;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The serving app with the tiny-gpt2 model on the real embedded broker and registry. */
@ExtendWith(LocalPlatformExtension.class)
class ServingPlatformIT {

    private static final Duration TIMEOUT = Duration.ofSeconds(60);
    private static ModelBatchAnswerer model;
    private static String fingerprint;
    private static int hidden;
    private ServingFixture fixture;

    @BeforeAll
    static void loadModel() {
        model = ModelBatchAnswerer.load(ServingFixture.tinyGpt2(), RuntimeConfig.cpu(1));
        fingerprint = model.model().fingerprint();
        hidden = model.model().hiddenSize();
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

    private ServingApp start(PlatformEndpoints platform, int maxBatchSize, int maxWaitMs) throws Exception {
        fixture = new ServingFixture(platform, 1);
        ServingApp app = fixture.startApp(maxBatchSize, maxWaitMs, model);
        await().atMost(TIMEOUT).until(() -> app.state() == KafkaStreams.State.RUNNING);
        return app;
    }

    private static Map<String, Answer> byId(List<Answer> answers) {
        return answers.stream().collect(Collectors.toMap(Answer::getRequestId, Function.identity()));
    }

    @Test
    void shouldAnswerAMixedBatchOfTasksAndAdaptersWithTheModel(PlatformEndpoints platform) throws Exception {
        ServingApp app = start(platform, 4, 5_000);
        fixture.publish(squad("squad", 4));
        fixture.publish(assistant("assistant", 4));
        fixture.publish(adapter("squad", 1, fingerprint, hidden, 4));
        Thread.sleep(500); // the global stores pick templates and adapters up before the requests arrive

        fixture.send(squadRequest("s1", "squad"));
        fixture.send(assistantRequest("a1", "assistant"));
        fixture.send(squadRequest("s2", "squad"));
        fixture.send(assistantRequest("a2", "assistant"));

        Map<String, Answer> answers = byId(fixture.awaitAnswers(4, TIMEOUT));
        assertThat(answers.keySet()).containsExactlyInAnyOrder("s1", "a1", "s2", "a2");
        assertThat(answers.values()).allSatisfy(a -> {
            assertThat(a.getError()).isNull();
            assertThat(a.getBatchSize()).isEqualTo(4);
            assertThat(a.getModelFingerprint()).isEqualTo(fingerprint);
            assertThat(a.getCompletionTokens()).isBetween(1, 8);
            assertThat(a.getFinishReason()).isIn(FinishReason.EOS, FinishReason.LENGTH, FinishReason.STOP);
        });
        assertThat(answers.get("s1").getAdapterVersion()).isEqualTo(1);
        assertThat(answers.get("a1").getAdapterVersion()).isNull();
        // same request, same adapter, greedy: the same text
        assertThat(answers.get("s1").getText()).isEqualTo(answers.get("s2").getText());
        String metrics = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                        URI.create("http://127.0.0.1:" + app.opsPort() + "/metrics")).build(),
                HttpResponse.BodyHandlers.ofString()).body();
        assertThat(metrics).contains("tunestream_answers_total{adapter_version=\"1\",task=\"squad\"} 2.0");
        assertThat(metrics).contains("tunestream_batch_size_count 1");
    }

    @Test
    void shouldUseANewAdapterVersionForRequestsAfterItsPublicationAndHonourPins(PlatformEndpoints platform)
            throws Exception {
        start(platform, 1, 10);
        fixture.publish(squad("squad", 4));
        fixture.publish(adapter("squad", 1, fingerprint, hidden, 4));
        await().atMost(TIMEOUT).until(() -> {
            fixture.send(squadRequest("warm-" + System.nanoTime(), "squad"));
            return fixture.awaitAnswers(1, Duration.ofSeconds(2)).stream()
                    .anyMatch(a -> Integer.valueOf(1).equals(a.getAdapterVersion()));
        });

        fixture.publish(adapter("squad", 2, fingerprint, hidden, 4));
        int sent = 0;
        Answer first = null;
        while (first == null && sent < 200) {
            fixture.send(squadRequest("swap-" + sent++, "squad"));
            first = fixture.awaitAnswers(1, Duration.ofMillis(200)).stream()
                    .filter(a -> Integer.valueOf(2).equals(a.getAdapterVersion())).findFirst().orElse(null);
        }
        assertThat(first).as("an answer with adapter v2").isNotNull();
        fixture.send(squadRequest("after", "squad"));
        fixture.send(pinned(squadRequest("pinned", "squad"), 1));

        Map<String, Answer> later = byId(fixture.drainAnswers(Duration.ofSeconds(2)));
        assertThat(later.get("after").getAdapterVersion()).isEqualTo(2);
        assertThat(later.get("pinned").getAdapterVersion()).isEqualTo(1);
    }

    @Test
    void shouldHandTheBatchInFlightBackOnShutdownAndAnswerItOnceAfterTheRestart(PlatformEndpoints platform)
            throws Exception {
        fixture = new ServingFixture(platform, 1);
        var entered = new java.util.concurrent.CountDownLatch(1);
        var blocking = new io.tunestream.serving.batch.BatchAnswerer() {
            @Override
            public io.tunestream.serving.batch.ServingModelInfo model() {
                return model.model();
            }

            @Override
            public List<io.tunestream.serving.batch.BatchOutcome> answer(List<io.tunestream.serving.batch.BatchItem> items) {
                entered.countDown();
                try {
                    Thread.sleep(Long.MAX_VALUE);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                throw new IllegalStateException("interrupted by the shutdown");
            }
        };
        ServingApp first = fixture.startApp(2, 50, blocking);
        await().atMost(TIMEOUT).until(() -> first.state() == KafkaStreams.State.RUNNING);
        fixture.publish(assistant("assistant", 4));
        Thread.sleep(500);
        fixture.send(assistantRequest("g1", "assistant"));
        fixture.send(assistantRequest("g2", "assistant"));
        assertThat(entered.await(TIMEOUT.toSeconds(), java.util.concurrent.TimeUnit.SECONDS)).isTrue();

        first.close();
        assertThat(fixture.drainAnswers(Duration.ofSeconds(1))).as("nothing answered by the closed instance").isEmpty();
        ServingApp second = fixture.startApp(2, 50, model);
        await().atMost(TIMEOUT).until(() -> second.state() == KafkaStreams.State.RUNNING);

        List<Answer> answers = fixture.awaitAnswers(2, TIMEOUT);
        answers.addAll(fixture.drainAnswers(Duration.ofSeconds(2)));
        assertThat(answers).extracting(Answer::getRequestId).containsExactlyInAnyOrder("g1", "g2");
        assertThat(answers).allSatisfy(a -> assertThat(a.getError()).isNull());
    }

    @Test
    void shouldRefuseAnAdapterOfAnotherModelAndNeverApplyIt(PlatformEndpoints platform) throws Exception {
        start(platform, 1, 10);
        fixture.publish(squad("squad", 4));
        fixture.publish(adapter("squad", 1, "0".repeat(64), hidden, 4));
        fixture.publish(adapter("squad", 2, fingerprint, hidden + 1, 4));
        Thread.sleep(500);

        fixture.send(squadRequest("latest", "squad"));
        fixture.send(pinned(squadRequest("pinned", "squad"), 1));

        Map<String, Answer> answers = byId(fixture.awaitAnswers(2, TIMEOUT));
        assertThat(answers.get("latest").getError().getKind()).isEqualTo(ErrorKind.NO_ADAPTER);
        assertThat(answers.get("pinned").getError().getMessage()).isEqualTo("request pinned, task squad: pinned "
                + "adapter version 1 is not available (the task has no accepted adapter; only recent accepted "
                + "versions are kept)");
    }

    @Test
    void shouldAnswerBadRequestsWithErrorsAndDeadLetterUndeserializableOnes(PlatformEndpoints platform)
            throws Exception {
        start(platform, 4, 50);
        fixture.publish(squad("squad", 4));
        Thread.sleep(500);

        fixture.send(squadRequest("unknown", "no-such-task"));
        fixture.send(request("missing", "squad", Map.of("context", "Ada lives in Paris.")));
        fixture.send(squadRequest("no-adapter", "squad"));
        fixture.sendRaw("garbage", new byte[] {0, 0, 0, 0, 0, 0, 0, 0, 0x7f, 1, 2});
        fixture.send(squadRequest("unknown-2", "still-no-task"));

        Map<String, Answer> answers = byId(fixture.awaitAnswers(4, TIMEOUT));
        assertThat(answers.get("unknown").getError().getKind()).isEqualTo(ErrorKind.UNKNOWN_TASK);
        assertThat(answers.get("missing").getError().getMessage())
                .isEqualTo("request missing, task squad: missing field 'question'");
        assertThat(answers.get("no-adapter").getError().getKind()).isEqualTo(ErrorKind.NO_ADAPTER);
        assertThat(answers.get("unknown-2").getError().getKind()).as("the stream went on after the bad record")
                .isEqualTo(ErrorKind.UNKNOWN_TASK);
        assertThat(answers.values()).allSatisfy(a -> assertThat(a.getFinishReason()).isEqualTo(FinishReason.ERROR));
        var dead = fixture.awaitDeadLetters(1, TIMEOUT);
        assertThat(dead).hasSize(1);
        assertThat(new String(dead.get(0).key(), StandardCharsets.UTF_8)).isEqualTo("garbage");
        assertThat(dead.get(0).value()).containsExactly(0, 0, 0, 0, 0, 0, 0, 0, 0x7f, 1, 2);
        assertThat(new String(dead.get(0).headers().lastHeader(DeadLetters.REASON_HEADER).value(),
                StandardCharsets.UTF_8)).isNotBlank();
        assertThat(new String(dead.get(0).headers().lastHeader(DeadLetters.TOPIC_HEADER).value(),
                StandardCharsets.UTF_8)).isEqualTo(fixture.topics.requests());
    }
}

package io.tunestream.ingest.http;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tunestream.devkit.PlatformEndpoints;
import io.tunestream.devkit.junit.LocalPlatformExtension;
import io.tunestream.ingest.TopicReader;
import io.tunestream.ingest.requests.FakeAnswerer;
import io.tunestream.schemas.Feedback;
import io.tunestream.schemas.FinishReason;
import io.tunestream.schemas.LabelledExample;
import io.tunestream.schemas.Topics;
import io.tunestream.schemas.Verdict;
import io.tunestream.schemas.http.BearerToken;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The HTTP endpoint does what the CLI does. */
@ExtendWith(LocalPlatformExtension.class)
class IngestHttpServerIT {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static IngestHttpServer server;
    private static FakeAnswerer answerer;

    @BeforeAll
    static void start(PlatformEndpoints platform) throws Exception {
        io.tunestream.ingest.CliRun.setUp(platform);
        server = IngestHttpServer.start(TopicReader.kafka(platform), new InetSocketAddress("127.0.0.1", 0),
                Clock.systemUTC(), Duration.ofSeconds(30));
        answerer = new FakeAnswerer(platform, request -> FakeAnswerer.answerTo(request)
                .setText(" " + request.getFields().get("utterance").length() + " chars").setAdapterVersion(1)
                .setFinishReason(FinishReason.EOS).build());
        Path templates = Path.of(System.getProperty("tunestream.home"), "data", "templates.yaml");
        assertThat(post("/templates", Files.readString(templates)).statusCode()).isEqualTo(200);
    }

    @AfterAll
    static void stop() throws InterruptedException {
        answerer.close();
        server.close();
    }

    private static HttpResponse<String> post(String path, String body) throws Exception {
        return HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                        URI.create("http://127.0.0.1:" + server.port() + path))
                .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void shouldRefuseTemplatesThatBreakNemosRulesWithEveryProblem() throws Exception {
        HttpResponse<String> response = post("/templates", """
                task_templates:
                  - taskname: t
                    prompt_template: "<|VIRTUAL_PROMPT_0|> {q}"
                    prompt_template_fields: [q, a]
                    total_virtual_tokens: 2
                    virtual_token_splits: [2]
                    answer_only_loss: false
                """);

        assertThat(response.statusCode()).isEqualTo(422);
        assertThat(JSON.readTree(response.body()).get("problems").get(0).asText()).isEqualTo("request body: "
                + "task_templates[0] (task 't'): task 't': prompt_template_fields [q, a] differ from the fields of "
                + "prompt_template [q] (NeMo derives them from the template; leave the key out)");
    }

    @Test
    void shouldSendValidExampleLinesAndReportTheOthers(PlatformEndpoints platform) throws Exception {
        String utterance = "turn on the lights " + UUID.randomUUID();
        HttpResponse<String> response = post("/examples?split=VALIDATION", String.join("\n",
                "{\"taskname\": \"assistant\", \"utterance\": \"" + utterance + "\", \"label\": \" intent: lights\"}",
                "{\"taskname\": \"assistant\", \"utterance\": \"x\"}"));

        assertThat(response.statusCode()).isEqualTo(200);
        JsonNode result = JSON.readTree(response.body());
        assertThat(result.get("sent").asInt()).isEqualTo(1);
        assertThat(result.get("rejected").asInt()).isEqualTo(1);
        assertThat(result.get("problems").get(0).asText())
                .isEqualTo("request body:2: task 'assistant': missing field(s) [label]");
        assertThat(TopicReader.readAll(platform, Topics.EXAMPLES.name(), LabelledExample.class,
                e -> e.getFields().get("utterance").equals(utterance), 1))
                .singleElement().satisfies(e -> assertThat(e.getSplit().toString()).isEqualTo("VALIDATION"));
    }

    @Test
    void shouldAnswerAnAskAndRefuseAnUnknownTask() throws Exception {
        HttpResponse<String> answered = post("/ask", "{\"taskname\": \"assistant\", \"utterance\": \"play jazz\", "
                + "\"request_id\": \"http-" + UUID.randomUUID() + "\", \"options\": {\"max_new_tokens\": 8}}");
        HttpResponse<String> unknown = post("/ask", "{\"taskname\": \"asistant\", \"utterance\": \"play jazz\"}");

        assertThat(answered.statusCode()).as(answered.body()).isEqualTo(200);
        assertThat(JSON.readTree(answered.body()).get("answer").asText()).isEqualTo(" 9 chars");
        assertThat(unknown.statusCode()).isEqualTo(422);
        assertThat(JSON.readTree(unknown.body()).get("error").asText()).startsWith("unknown task 'asistant'");
    }

    @Test
    void shouldRecordFeedback(PlatformEndpoints platform) throws Exception {
        String requestId = "http-fb-" + UUID.randomUUID();

        HttpResponse<String> response = post("/feedback", "{\"request_id\": \"" + requestId + "\", \"taskname\": "
                + "\"assistant\", \"verdict\": \"CORRECTED\", \"correction\": \" intent: play_music\", \"adapter_version\": 3}");

        assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
        assertThat(TopicReader.readAll(platform, Topics.FEEDBACK.name(), Feedback.class,
                f -> f.getRequestId().equals(requestId), 1)).singleElement().satisfies(f -> {
                    assertThat(f.getVerdict()).isEqualTo(Verdict.CORRECTED);
                    assertThat(f.getCorrection()).isEqualTo(" intent: play_music");
                    assertThat(f.getAdapterVersion()).isEqualTo(3);
                });
    }

    @Test
    void shouldRefuseFeedbackWithACorrectionOverTheLimit() throws Exception {
        HttpResponse<String> response = post("/feedback", "{\"request_id\": \"r-long\", \"taskname\": "
                + "\"assistant\", \"verdict\": \"CORRECTED\", \"correction\": \"" + "c".repeat(65_537) + "\"}");

        assertThat(response.statusCode()).isEqualTo(422);
        assertThat(response.body()).contains("feedback on request r-long: correction has 65537 characters, more than "
                + "the limit of 65536");
    }

    @Test
    void shouldRecordFeedbackOnlyFromHoldersOfTheToken(PlatformEndpoints platform) throws Exception {
        String refused = "http-fb-refused-" + UUID.randomUUID();
        String admitted = "http-fb-admitted-" + UUID.randomUUID();
        IngestHttpSettings settings = IngestHttpSettings.defaults(new InetSocketAddress("127.0.0.1", 0),
                Duration.ofSeconds(30)).withToken(BearerToken.of("it-token"));
        try (IngestHttpServer secured = IngestHttpServer.start(TopicReader.kafka(platform), settings, Clock.systemUTC())) {
            String body = "{\"request_id\": \"%s\", \"taskname\": \"assistant\", \"verdict\": \"ACCEPTED\"}";
            HttpResponse<String> without = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                            URI.create("http://127.0.0.1:" + secured.port() + "/feedback"))
                    .POST(HttpRequest.BodyPublishers.ofString(body.formatted(refused))).build(),
                    HttpResponse.BodyHandlers.ofString());
            HttpResponse<String> with = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                            URI.create("http://127.0.0.1:" + secured.port() + "/feedback"))
                    .header("Authorization", "Bearer it-token")
                    .POST(HttpRequest.BodyPublishers.ofString(body.formatted(admitted))).build(),
                    HttpResponse.BodyHandlers.ofString());

            assertThat(without.statusCode()).isEqualTo(401);
            assertThat(with.statusCode()).as(with.body()).isEqualTo(200);
        }
        // the admitted one is read back, so the refused one, sent before it, would be there too
        assertThat(TopicReader.readAll(platform, Topics.FEEDBACK.name(), Feedback.class,
                f -> f.getRequestId().equals(refused) || f.getRequestId().equals(admitted), 1))
                .extracting(Feedback::getRequestId).containsExactly(admitted);
    }
}

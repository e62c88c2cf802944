package io.tunestream.ingest.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.tunestream.ingest.requests.AnswerWaits;
import io.tunestream.ingest.template.TemplateCatalog;
import io.tunestream.ingest.template.TemplateFile;
import io.tunestream.schemas.Answer;
import io.tunestream.schemas.FinishReason;
import io.tunestream.schemas.http.BearerToken;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.clients.producer.MockProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The HTTP layer of the ingest server without Kafka: a mock producer records what would reach
 * Kafka, answers come from the test. What the server refuses never reaches the producer.
 */
class IngestHttpServerTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final TemplateCatalog TEMPLATES = TemplateCatalog.of(TemplateFile.read(
            Path.of(System.getProperty("tunestream.home", "..")).resolve("data/templates.yaml"), 1L));
    private static final String ASK = "{\"taskname\": \"assistant\", \"utterance\": \"play jazz\", \"request_id\": \"%s\"}";

    private final MockProducer<String, SpecificRecord> producer = new MockProducer<>(true, null,
            new StringSerializer(), (topic, value) -> new byte[0]);
    private final HeldAnswers answers = new HeldAnswers();
    private final MockProducer<String, SpecificRecord> transactional = new MockProducer<>(true, null,
            new StringSerializer(), (topic, value) -> new byte[0]);
    private final java.util.concurrent.atomic.AtomicInteger transactionalProducers = new java.util.concurrent.atomic.AtomicInteger();
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private IngestHttpServer server;

    /** Answers the test hands out; an expected answer not handed out never comes. */
    private static final class HeldAnswers implements AnswerWaits {
        final Map<String, CompletableFuture<Answer>> waiting = new ConcurrentHashMap<>();

        @Override
        public CompletableFuture<Answer> expect(String requestId) {
            return waiting.computeIfAbsent(requestId, id -> new CompletableFuture<>());
        }

        @Override
        public void forget(String requestId) {
            waiting.remove(requestId);
        }

        void answer(String requestId, String text) {
            expect(requestId).complete(Answer.newBuilder().setRequestId(requestId).setTask("assistant").setText(text)
                    .setFinishReason(FinishReason.EOS).build());
        }
    }

    private IngestHttpServer start(IngestHttpSettings settings) {
        SharedTransactions transactions = new SharedTransactions(() -> {
            transactionalProducers.incrementAndGet();
            return transactional;
        });
        server = new IngestHttpServer(settings, Clock.systemUTC(), producer, answers, () -> TEMPLATES, transactions,
                List.of(transactions));
        return server;
    }

    private static IngestHttpSettings settings() {
        return IngestHttpSettings.defaults(new InetSocketAddress("127.0.0.1", 0), Duration.ofSeconds(10));
    }

    @AfterEach
    void stop() {
        if (server != null) {
            server.close();
        }
    }

    private HttpResponse<String> post(String path, String body, String... headers) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + path))
                .timeout(Duration.ofSeconds(20)).POST(HttpRequest.BodyPublishers.ofString(body));
        if (headers.length > 0) {
            request.headers(headers);
        }
        return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }

    private List<String> sentKeys() {
        return producer.history().stream().map(ProducerRecord::key).toList();
    }

    @Test
    void shouldAskForTheBearerTokenAndLetOnlyItsHoldersThrough() throws Exception {
        start(settings().withToken(BearerToken.of("s3cret-token")));
        answers.answer("with-token", " jazz");

        HttpResponse<String> none = post("/ask", ASK.formatted("no-token"));
        HttpResponse<String> wrong = post("/ask", ASK.formatted("wrong-token"), "Authorization", "Bearer s3cret-tokem");
        HttpResponse<String> right = post("/ask", ASK.formatted("with-token"), "Authorization", "Bearer s3cret-token");

        assertThat(none.statusCode()).isEqualTo(401);
        assertThat(none.headers().firstValue("WWW-Authenticate")).hasValue("Bearer");
        assertThat(JSON.readTree(none.body()).get("error").asText())
                .isEqualTo("a bearer token is required (Authorization: Bearer <token>)");
        assertThat(wrong.statusCode()).isEqualTo(401);
        assertThat(right.statusCode()).as(right.body()).isEqualTo(200);
        assertThat(JSON.readTree(right.body()).get("answer").asText()).isEqualTo(" jazz");
        assertThat(sentKeys()).containsExactly("with-token");
    }

    @Test
    void shouldRefuseABodyOverTheLimitWith413() throws Exception {
        start(settings().withLimits(1024, Duration.ofSeconds(10), 4));

        HttpResponse<String> response = post("/ask", "{\"taskname\": \"assistant\", \"utterance\": \""
                + "x".repeat(2000) + "\", \"request_id\": \"too-big\"}");

        assertThat(response.statusCode()).isEqualTo(413);
        assertThat(JSON.readTree(response.body()).get("error").asText()).isEqualTo("/ask: body larger than 1024 bytes");
        assertThat(sentKeys()).isEmpty();
    }

    @Test
    void shouldRefuseJsonTooDeepWith400() throws Exception {
        start(settings());

        HttpResponse<String> response = post("/ask", "{\"taskname\": \"assistant\", \"utterance\": \"u\", "
                + "\"request_id\": \"deep\", \"options\": " + "[".repeat(20) + "]".repeat(20) + "}");
        HttpResponse<String> feedback = post("/feedback", "{\"request_id\": \"deep-fb\", \"taskname\": \"assistant\", "
                + "\"verdict\": \"ACCEPTED\", \"fields\": " + "{\"a\":".repeat(20) + "1" + "}".repeat(20) + "}");

        assertThat(response.statusCode()).isEqualTo(400);
        assertThat(JSON.readTree(response.body()).get("error").asText()).startsWith("/ask: not valid JSON: Document "
                + "nesting depth (17) exceeds the maximum allowed (16");
        assertThat(feedback.statusCode()).isEqualTo(400);
        assertThat(sentKeys()).isEmpty();
    }

    @Test
    void shouldRefuseAJsonStringOverTheLimitWith400() throws Exception {
        start(settings());

        HttpResponse<String> response = post("/ask", ASK.formatted("long").replace("play jazz",
                "y".repeat(RequestBodies.MAX_JSON_STRING_CHARS + 1)));

        assertThat(response.statusCode()).isEqualTo(400);
        assertThat(JSON.readTree(response.body()).get("error").asText()).startsWith("/ask: not valid JSON: String "
                + "value length (" + (RequestBodies.MAX_JSON_STRING_CHARS + 1) + ") exceeds the maximum allowed ("
                + RequestBodies.MAX_JSON_STRING_CHARS);
        assertThat(sentKeys()).isEmpty();
    }

    @Test
    void shouldRefuseATimeoutOverTheCapWith400() throws Exception {
        start(settings().withLimits(IngestHttpSettings.DEFAULT_MAX_BODY_BYTES, Duration.ofSeconds(30), 4));

        HttpResponse<String> response = post("/ask", ASK.formatted("slow").replace("}", ", \"timeout_seconds\": 31}"));

        assertThat(response.statusCode()).isEqualTo(400);
        assertThat(JSON.readTree(response.body()).get("error").asText())
                .isEqualTo("timeout_seconds must be a whole number of seconds from 1 to 30, was 31");
        assertThat(sentKeys()).isEmpty();
    }

    @Test
    void shouldAnswer429ToAnAskPastTheCapOfWaitingAsks() throws Exception {
        start(settings().withLimits(IngestHttpSettings.DEFAULT_MAX_BODY_BYTES, Duration.ofSeconds(10), 1));
        CompletableFuture<HttpResponse<String>> first = http.sendAsync(HttpRequest.newBuilder(
                        URI.create("http://127.0.0.1:" + server.port() + "/ask")).timeout(Duration.ofSeconds(20))
                .POST(HttpRequest.BodyPublishers.ofString(ASK.formatted("first"))).build(),
                HttpResponse.BodyHandlers.ofString());
        org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> sentKeys().contains("first"));

        HttpResponse<String> second = post("/ask", ASK.formatted("second"));
        answers.answer("first", " one");

        assertThat(second.statusCode()).isEqualTo(429);
        assertThat(JSON.readTree(second.body()).get("error").asText())
                .isEqualTo("too many asks waiting for their answers (1); try again later");
        assertThat(first.get().statusCode()).isEqualTo(200);
        assertThat(sentKeys()).containsExactly("first");
        HttpResponse<String> third = post("/ask", ASK.formatted("third").replace("}", ", \"timeout_seconds\": 1}"));
        assertThat(third.statusCode()).as("a slot is free again once the first is answered").isEqualTo(504);
    }

    @Test
    void shouldServeOtherRequestsWhileAClientStallsAndDropTheStalledOne() throws Exception {
        start(settings().withRequestReadTimeout(Duration.ofSeconds(1)));
        try (Socket stalled = new Socket("127.0.0.1", server.port())) {
            stalled.setSoTimeout(15_000);
            OutputStream out = stalled.getOutputStream();
            out.write(("POST /feedback HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                    + "Content-Length: 200\r\n\r\n{\"request_id\": ").getBytes(StandardCharsets.US_ASCII));
            out.flush();

            HttpResponse<String> other = post("/feedback", "{\"request_id\": \"r1\", \"taskname\": \"assistant\", "
                    + "\"verdict\": \"ACCEPTED\"}");

            assertThat(other.statusCode()).as(other.body()).isEqualTo(200);
            InputStream in = stalled.getInputStream();
            long start = System.nanoTime();
            assertThat(in.read()).as("the stalled connection is closed by the server").isEqualTo(-1);
            assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(10));
        }
        assertThat(sentKeys()).containsExactly("r1");
    }

    @Test
    void shouldListenOnTheBindAddressOnly() throws Exception {
        start(IngestHttpSettings.defaults(new InetSocketAddress("127.0.0.2", 0), Duration.ofSeconds(10)));

        HttpResponse<String> there = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.2:" + server.port()
                + "/feedback")).POST(HttpRequest.BodyPublishers.ofString("{}")).build(),
                HttpResponse.BodyHandlers.ofString());

        assertThat(there.statusCode()).isEqualTo(422);
        assertThatThrownBy(() -> new Socket("127.0.0.1", server.port()).close()).isInstanceOf(ConnectException.class);
    }

    @Test
    void shouldRefuseOtherMethodsThanPost() throws Exception {
        start(settings());

        HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port()
                + "/ask")).GET().build(), HttpResponse.BodyHandlers.ofString());

        assertThat(response.statusCode()).isEqualTo(405);
        assertThat(JSON.readTree(response.body()).get("error").asText()).isEqualTo("GET /ask: only POST is supported");
    }

    @Test
    void shouldAnswerAnUnknownPathAndAnEmptyBodyInJson() throws Exception {
        start(settings());

        HttpResponse<String> unknown = post("/asks", ASK.formatted("typo"));
        HttpResponse<String> empty = post("/feedback", "");

        assertThat(unknown.statusCode()).isEqualTo(404);
        assertThat(JSON.readTree(unknown.body()).get("error").asText())
                .isEqualTo("/asks: no such endpoint (POST /templates, /examples, /ask, /feedback)");
        assertThat(empty.statusCode()).isEqualTo(400);
        assertThat(JSON.readTree(empty.body()).get("error").asText()).isEqualTo("body must be a JSON object");
        assertThat(sentKeys()).isEmpty();
    }

    @Test
    void shouldSendTheExamplesOfSeveralRequestsInTransactionsOfOneProducer() throws Exception {
        start(settings());

        HttpResponse<String> first = post("/examples?split=TRAIN", "{\"taskname\": \"assistant\", \"utterance\": "
                + "\"lights on\", \"label\": \" intent: lights\"}\n{\"taskname\": \"assistant\"}");
        HttpResponse<String> second = post("/examples?split=VALIDATION", "{\"taskname\": \"assistant\", "
                + "\"utterance\": \"play jazz\", \"label\": \" intent: music\"}");

        assertThat(first.statusCode()).as(first.body()).isEqualTo(200);
        assertThat(JSON.readTree(first.body()).get("sent").asInt()).isEqualTo(1);
        assertThat(JSON.readTree(first.body()).get("rejected").asInt()).isEqualTo(1);
        assertThat(second.statusCode()).as(second.body()).isEqualTo(200);
        assertThat(transactionalProducers).as("one producer, initialised once").hasValue(1);
        assertThat(transactional.commitCount()).isEqualTo(2);
        assertThat(transactional.history()).extracting(r -> ((io.tunestream.schemas.LabelledExample) r.value())
                .getFields().get("utterance")).containsExactly("lights on", "play jazz");
        assertThat(sentKeys()).isEmpty();
    }

    @Test
    void shouldHoldExampleLinesAndTemplatesToTheSameJsonLimits() throws Exception {
        start(settings());

        HttpResponse<String> examples = post("/examples", "{\"taskname\": \"assistant\", \"utterance\": "
                + "\"lights on\", \"label\": \" intent: lights\"}\n{\"taskname\": \"assistant\", \"utterance\": "
                + "[".repeat(20) + "]".repeat(20) + "}");
        HttpResponse<String> templates = post("/templates", "{\"task_templates\": " + "[".repeat(20)
                + "]".repeat(20) + "}", "Content-Type", "application/json");

        assertThat(examples.statusCode()).as(examples.body()).isEqualTo(200);
        assertThat(JSON.readTree(examples.body()).get("problems").get(0).asText())
                .isEqualTo("request body:2: malformed JSON: Document nesting depth (17) exceeds the maximum allowed "
                        + "(16, from `StreamReadConstraints.getMaxNestingDepth()`)");
        assertThat(JSON.readTree(examples.body()).get("sent").asInt()).isEqualTo(1);
        assertThat(templates.statusCode()).isEqualTo(422);
        assertThat(JSON.readTree(templates.body()).get("problems").get(0).asText())
                .startsWith("request body: not valid JSON: Document nesting depth (17) exceeds");
        assertThat(transactional.history()).hasSize(1);
    }
}

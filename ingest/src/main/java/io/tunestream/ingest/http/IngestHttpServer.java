package io.tunestream.ingest.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.tunestream.ingest.ConnectionOptions;
import io.tunestream.ingest.examples.ExampleIngestion;
import io.tunestream.ingest.jsonl.JsonlFile;
import io.tunestream.ingest.jsonl.LineProblem;
import io.tunestream.ingest.jsonl.TransactionalSender;
import io.tunestream.ingest.requests.AnswerCollector;
import io.tunestream.ingest.template.TemplateCatalog;
import io.tunestream.ingest.template.TemplateFile;
import io.tunestream.ingest.template.TemplateFileException;
import io.tunestream.ingest.template.TemplateRegistration;
import io.tunestream.schemas.Answer;
import io.tunestream.schemas.DatasetSplit;
import io.tunestream.schemas.Feedback;
import io.tunestream.schemas.InferenceRequest;
import io.tunestream.schemas.TaskTemplate;
import io.tunestream.schemas.Topics;
import io.tunestream.schemas.kafka.KafkaClientConfig;
import io.tunestream.schemas.registry.AvroSerdes;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * The ingest operations over HTTP (JSON in and out), for clients that are not shells:
 * <ul>
 *   <li>{@code POST /templates} — a NeMo config as YAML (or JSON with {@code Content-Type:
 *       application/json}); 200 {@code {"registered": [...]}}, 422 {@code {"problems": [...]}};</li>
 *   <li>{@code POST /examples?split=TRAIN&task=T} — a JSONL body; 200 {@code {"sent": n, "rejected":
 *       m, "problems": ["body:LINE: reason", …]}} (valid lines are sent, in transactions);</li>
 *   <li>{@code POST /ask} — {@code {"taskname": …, <fields>…, "options": {…}, "request_id": …,
 *       "timeout_seconds": 60}} (1 to 3600); 200 with the answer, 422 for an unknown task, bad fields or options, 504
 *       when no answer came in time;</li>
 *   <li>{@code POST /feedback} — {@code {"request_id", "taskname", "verdict": "ACCEPTED" |
 *       "REJECTED" | "CORRECTED", "correction", "fields": {…}, "answer_text", "adapter_version", "comment"}}.</li>
 * </ul>
 * Every response is JSON; errors carry {@code {"error": "…"}}. The owner closes the server.
 */
public final class IngestHttpServer implements AutoCloseable {

    private static final ObjectMapper JSON = new ObjectMapper();

    private final KafkaClientConfig kafka;
    private final Clock clock;
    private final Duration timeout;
    private final HttpServer server;
    private final ExecutorService executor;

    private IngestHttpServer(KafkaClientConfig kafka, InetSocketAddress address, Clock clock, Duration timeout)
            throws IOException {
        this.kafka = kafka;
        this.clock = clock;
        this.timeout = timeout;
        this.server = HttpServer.create(address, 0);
        this.executor = Executors.newFixedThreadPool(4);
        server.setExecutor(executor);
        server.createContext("/templates", exchange -> handle(exchange, this::templates));
        server.createContext("/examples", exchange -> handle(exchange, this::examples));
        server.createContext("/ask", exchange -> handle(exchange, this::ask));
        server.createContext("/feedback", exchange -> handle(exchange, this::feedback));
    }

    /**
     * Creates the topics it writes (if missing), registers their schemas and starts listening.
     *
     * @param address  where to listen; port 0 picks a free one (see {@link #port()})
     * @param timeout  how long to wait for Kafka and the registry in each call
     */
    public static IngestHttpServer start(KafkaClientConfig kafka, InetSocketAddress address, Clock clock,
                                         Duration timeout) throws IOException {
        ConnectionOptions.prepare(kafka, List.of(Topics.TASK_TEMPLATES, Topics.EXAMPLES, Topics.REQUESTS,
                Topics.ANSWERS, Topics.FEEDBACK), timeout);
        IngestHttpServer ingest = new IngestHttpServer(kafka, address, clock, timeout);
        ingest.server.start();
        return ingest;
    }

    /** The port it listens on. */
    public int port() {
        return server.getAddress().getPort();
    }

    @Override
    public void close() {
        server.stop(0);
        executor.shutdownNow();
    }

    /** A response: status and JSON body. */
    private record Response(int status, JsonNode body) {
        static Response error(int status, String message) {
            return new Response(status, JSON.createObjectNode().put("error", message));
        }
    }

    @FunctionalInterface
    private interface Handler {
        Response handle(HttpExchange exchange, String body) throws IOException;
    }

    private void handle(HttpExchange exchange, Handler handler) throws IOException {
        Response response;
        try {
            if (!"POST".equals(exchange.getRequestMethod())) {
                response = Response.error(405, exchange.getRequestMethod() + " " + exchange.getRequestURI().getPath()
                        + ": only POST is supported");
            } else {
                String body = new String(exchange.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
                response = handler.handle(exchange, body);
            }
        } catch (IOException | RuntimeException e) {
            response = Response.error(e instanceof com.fasterxml.jackson.core.JsonProcessingException ? 400 : 500,
                    exchange.getRequestURI().getPath() + ": " + e.getMessage());
        }
        byte[] bytes = JSON.writeValueAsBytes(response.body());
        exchange.getResponseHeaders().set("Content-Type", "application/json");
        exchange.sendResponseHeaders(response.status(), bytes.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(bytes);
        }
    }

    private Response templates(HttpExchange exchange, String body) {
        String contentType = String.valueOf(exchange.getRequestHeaders().getFirst("Content-Type"));
        List<TaskTemplate> templates;
        try {
            templates = TemplateFile.parse("request body", body, contentType.contains("json"), clock.millis());
        } catch (TemplateFileException e) {
            ObjectNode problems = JSON.createObjectNode();
            e.problems().forEach(problems.putArray("problems")::add);
            return new Response(422, problems);
        }
        TemplateRegistration.register(kafka, templates, clock, timeout);
        ObjectNode result = JSON.createObjectNode();
        templates.forEach(t -> result.withArray("registered").add(t.getTask()));
        return new Response(200, result);
    }

    private Response examples(HttpExchange exchange, String body) throws IOException {
        Map<String, String> query = query(exchange);
        DatasetSplit split;
        try {
            split = DatasetSplit.valueOf(query.getOrDefault("split", "TRAIN").toUpperCase());
        } catch (IllegalArgumentException e) {
            return Response.error(400, "split must be TRAIN or VALIDATION, was " + query.get("split"));
        }
        JsonlFile.Contents contents = JsonlFile.read("request body",
                new BufferedReader(new java.io.StringReader(body)));
        ExampleIngestion.Checked checked = ExampleIngestion.check(contents, TemplateCatalog.fromTopic(kafka, timeout),
                split, query.get("task"), clock.millis());
        TransactionalSender.Report report = ExampleIngestion.send(kafka, checked.examples(), 500, null, null);
        ObjectNode result = JSON.createObjectNode();
        result.put("sent", report.sent());
        result.put("rejected", checked.problems().size());
        checked.problems().stream().map(LineProblem::toString).forEach(result.putArray("problems")::add);
        if (!report.complete()) {
            result.put("not_sent_from_line", report.notSentFrom());
            result.put("error", "sending failed: " + report.failure());
            return new Response(500, result);
        }
        return new Response(200, result);
    }

    private Response ask(HttpExchange exchange, String body) throws IOException {
        RequestBodies.Parsed<RequestBodies.Ask> parsed = RequestBodies.ask(body,
                () -> TemplateCatalog.fromTopic(kafka, timeout), clock, timeout);
        if (!parsed.ok()) {
            return Response.error(parsed.status(), parsed.error());
        }
        InferenceRequest request = parsed.value().request();
        String id = request.getRequestId();
        Duration wait = parsed.value().answerWait();
        Answer answer;
        try (AnswerCollector answers = new AnswerCollector(kafka, clock, timeout);
             KafkaProducer<String, InferenceRequest> producer = new KafkaProducer<>(
                     kafka.producerProperties("tunestream-ingest-http"), new StringSerializer(),
                     AvroSerdes.serializer(kafka.registry()))) {
            producer.send(new ProducerRecord<>(Topics.REQUESTS.name(), id, request)).get();
            answer = answers.await(Set.of(id), wait, a -> { }).get(id);
        } catch (ExecutionException e) {
            return Response.error(502, "request " + id + " could not be sent: " + e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Response.error(503, "interrupted");
        }
        ObjectNode result = JSON.createObjectNode().put("request_id", id).put("task", request.getTask());
        if (answer == null) {
            return new Response(504, result.put("error", "no answer within " + wait));
        }
        result.put("answer", answer.getText()).put("finish_reason", answer.getFinishReason().toString());
        if (answer.getAdapterVersion() != null) {
            result.put("adapter_version", answer.getAdapterVersion());
        }
        if (answer.getError() != null) {
            result.putObject("error").put("kind", answer.getError().getKind().toString())
                    .put("message", answer.getError().getMessage());
        }
        return new Response(200, result);
    }

    private Response feedback(HttpExchange exchange, String body) throws IOException {
        RequestBodies.Parsed<Feedback> parsed = RequestBodies.feedback(body,
                () -> TemplateCatalog.fromTopic(kafka, timeout), clock);
        if (!parsed.ok()) {
            return Response.error(parsed.status(), parsed.error());
        }
        Feedback feedback = parsed.value();
        String requestId = feedback.getRequestId();
        try (KafkaProducer<String, Feedback> producer = new KafkaProducer<>(
                kafka.producerProperties("tunestream-ingest-http"), new StringSerializer(),
                AvroSerdes.serializer(kafka.registry()))) {
            producer.send(new ProducerRecord<>(Topics.FEEDBACK.name(), requestId, feedback)).get();
        } catch (ExecutionException e) {
            return Response.error(502, "feedback for request " + requestId + " could not be sent: " + e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Response.error(503, "interrupted");
        }
        return new Response(200, JSON.createObjectNode().put("recorded", feedback.getVerdict().toString())
                .put("request_id", requestId));
    }

    private static Map<String, String> query(HttpExchange exchange) {
        Map<String, String> query = new HashMap<>();
        String raw = exchange.getRequestURI().getRawQuery();
        if (raw != null) {
            for (String pair : raw.split("&")) {
                int eq = pair.indexOf('=');
                if (eq > 0) {
                    query.put(URLDecoder.decode(pair.substring(0, eq), StandardCharsets.UTF_8),
                            URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8));
                }
            }
        }
        return query;
    }
}

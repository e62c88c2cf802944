package io.tunestream.ingest.http;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.tunestream.ingest.ConnectionOptions;
import io.tunestream.ingest.examples.ExampleIngestion;
import io.tunestream.ingest.feedback.FeedbackIngestion;
import io.tunestream.ingest.jsonl.JsonlFile;
import io.tunestream.ingest.jsonl.LineProblem;
import io.tunestream.ingest.jsonl.TransactionalSender;
import io.tunestream.ingest.requests.AnswerFollower;
import io.tunestream.ingest.requests.AnswerWaits;
import io.tunestream.ingest.requests.AskIngestion;
import io.tunestream.ingest.template.TemplateCache;
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
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.StringReader;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * The ingest operations over HTTP (JSON in and out), for clients that are not shells:
 * <ul>
 *   <li>{@code POST /templates} — a NeMo config as YAML (or JSON with {@code Content-Type:
 *       application/json}); 200 {@code {"registered": [...]}}, 422 {@code {"problems": [...]}};</li>
 *   <li>{@code POST /examples?split=TRAIN&task=T} — a JSONL body; 200 {@code {"sent": n, "rejected":
 *       m, "problems": ["body:LINE: reason", …]}} (valid lines are sent, in transactions);</li>
 *   <li>{@code POST /ask} — {@code {"taskname": …, <fields>…, "options": {…}, "request_id": …,
 *       "timeout_seconds": 60}}; 200 with the answer, 422 for an unknown task or bad fields, 429 when
 *       too many asks wait already, 504 when no answer came in time;</li>
 *   <li>{@code POST /feedback} — {@code {"request_id", "taskname", "verdict": "ACCEPTED" |
 *       "REJECTED" | "CORRECTED", "correction", "fields": {…}, "answer_text", "adapter_version", "comment"}}.</li>
 * </ul>
 * Every response is JSON; errors carry {@code {"error": "…"}}. Before a body is read: 401 without
 * the bearer token (when one is configured), 413 for a body over the limit; a body too deep or with
 * too long a string is a 400 ({@link RequestBodies}). None of these reach Kafka.
 *
 * <p>Served by Vert.x: connections are handled on one event loop, Kafka and registry calls on
 * worker threads, and an ask waits for its answer without holding a thread, so a slow or stalled
 * client holds a socket only (dropped after {@link IngestHttpSettings#requestReadTimeout()}).
 * Asks and feedback share one producer, asks one consumer of {@code answers}, and the templates
 * are cached ({@link TemplateCache}). The server owns its Vert.x instance and Kafka clients; the
 * owner closes the server.
 */
public final class IngestHttpServer implements AutoCloseable {

    private static final ObjectMapper JSON = new ObjectMapper();

    private final IngestHttpSettings settings;
    private final Clock clock;
    private final Producer<String, SpecificRecord> producer;
    private final AnswerWaits answers;
    private final Supplier<TemplateCatalog> templates;
    private final SharedTransactions transactions;
    private final List<AutoCloseable> clients;
    private final Semaphore waitingAsks;
    private final Vertx vertx;
    private final HttpServer server;

    /**
     * A server on the given clients, listening once constructed.
     *
     * @param producer     for {@code /ask} and {@code /feedback}
     * @param transactions for {@code /templates} and {@code /examples}
     * @param clients      closed with the server, after it stops listening
     */
    IngestHttpServer(IngestHttpSettings settings, Clock clock, Producer<String, SpecificRecord> producer,
                     AnswerWaits answers, Supplier<TemplateCatalog> templates, SharedTransactions transactions,
                     List<AutoCloseable> clients) {
        this.settings = settings;
        this.clock = clock;
        this.producer = producer;
        this.answers = answers;
        this.templates = templates;
        this.transactions = transactions;
        this.clients = List.copyOf(clients);
        this.waitingAsks = new Semaphore(settings.maxWaitingAsks());
        // a worker call waits at most the timeout per Kafka call; warn about blocked workers only well past it
        this.vertx = Vertx.vertx(new VertxOptions().setEventLoopPoolSize(1).setWorkerPoolSize(8)
                .setMaxWorkerExecuteTime(Math.max(60, settings.timeout().multipliedBy(4).toSeconds()))
                .setMaxWorkerExecuteTimeUnit(TimeUnit.SECONDS));
        Router router = Router.router(vertx);
        router.route().handler(this::readDeadline);
        settings.token().ifPresent(token -> router.route().handler(ctx -> {
            if (token.admits(ctx.request().getHeader(HttpHeaders.AUTHORIZATION))) {
                ctx.next();
            } else {
                ctx.response().putHeader("WWW-Authenticate", "Bearer");
                respond(ctx, Response.error(401, "a bearer token is required (Authorization: Bearer <token>)"));
            }
        }));
        router.route().handler(BodyHandler.create(false).setBodyLimit(settings.maxBodyBytes()));
        router.route("/templates").handler(ctx -> handle(ctx, this::templates));
        router.route("/examples").handler(ctx -> handle(ctx, this::examples));
        router.route("/ask").handler(ctx -> handle(ctx, this::ask));
        router.route("/feedback").handler(ctx -> handle(ctx, this::feedback));
        router.route().failureHandler(this::failed);
        router.errorHandler(404, ctx -> respond(ctx, Response.error(404, ctx.request().path()
                + ": no such endpoint (POST /templates, /examples, /ask, /feedback)")));
        HttpServerOptions options = new HttpServerOptions()
                .setHost(settings.address().getHostString())
                .setPort(settings.address().getPort())
                // no traffic on a connection for longer than the longest request takes: dropped
                .setIdleTimeout((int) settings.maxAskWait().plus(settings.requestReadTimeout()).toSeconds())
                .setIdleTimeoutUnit(TimeUnit.SECONDS);
        try {
            this.server = vertx.createHttpServer(options).requestHandler(router).listen()
                    .toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
        } catch (ExecutionException | TimeoutException e) {
            vertx.close();
            Throwable cause = e instanceof ExecutionException ? e.getCause() : e;
            throw new UncheckedIOException("ingest HTTP server cannot listen on " + settings.address() + ": " + cause,
                    cause instanceof IOException io ? io : new IOException(cause));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            vertx.close();
            throw new IllegalStateException("interrupted while starting the ingest HTTP server", e);
        }
    }

    /** {@link #start(KafkaClientConfig, IngestHttpSettings, Clock)} with the default limits and no token. */
    public static IngestHttpServer start(KafkaClientConfig kafka, InetSocketAddress address, Clock clock,
                                         Duration timeout) {
        return start(kafka, IngestHttpSettings.defaults(address, timeout), clock);
    }

    /**
     * Checks the topics it writes and their schemas ({@link ConnectionOptions#prepare}), creates its
     * Kafka clients and starts listening.
     */
    public static IngestHttpServer start(KafkaClientConfig kafka, IngestHttpSettings settings, Clock clock) {
        ConnectionOptions.prepare(kafka, List.of(Topics.TASK_TEMPLATES, Topics.EXAMPLES, Topics.REQUESTS,
                Topics.ANSWERS, Topics.FEEDBACK), settings.timeout());
        List<AutoCloseable> clients = new ArrayList<>();
        try {
            TemplateCache templates = new TemplateCache(kafka, settings.timeout());
            clients.add(templates);
            AnswerFollower answers = new AnswerFollower(kafka, settings.timeout());
            clients.add(answers);
            KafkaProducer<String, SpecificRecord> producer = new KafkaProducer<>(
                    kafka.producerProperties("tunestream-ingest-http"), new StringSerializer(),
                    AvroSerdes.serializer(kafka.registry()));
            clients.add(producer);
            String transactionalId = "tunestream-ingest-http-" + UUID.randomUUID();
            SharedTransactions transactions = new SharedTransactions(() -> new KafkaProducer<>(
                    kafka.transactionalProducerProperties("tunestream-ingest-http-tx", transactionalId),
                    new StringSerializer(), AvroSerdes.serializer(kafka.registry())));
            clients.add(transactions);
            return new IngestHttpServer(settings, clock, producer, answers, templates::current, transactions, clients);
        } catch (RuntimeException e) {
            closeAll(clients);
            throw e;
        }
    }

    /** The port it listens on. */
    public int port() {
        return server.actualPort();
    }

    @Override
    public void close() {
        try {
            vertx.close().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException | TimeoutException e) {
            // stopping anyway: the clients are closed below
        } finally {
            closeAll(clients);
        }
    }

    private static void closeAll(List<AutoCloseable> clients) {
        List<AutoCloseable> reversed = new ArrayList<>(clients);
        Collections.reverse(reversed);
        for (AutoCloseable client : reversed) {
            try {
                client.close();
            } catch (Exception e) {
                // closing the others matters more than this one's failure to close
            }
        }
    }

    /** A response: status and JSON body. */
    private record Response(int status, JsonNode body) {
        static Response error(int status, String message) {
            return new Response(status, JSON.createObjectNode().put("error", message));
        }
    }

    /** One request, read on the event loop and handed to a worker. */
    private record Call(String path, Map<String, String> query, String contentType, String body) {
    }

    @FunctionalInterface
    private interface Handler {
        CompletionStage<Response> handle(Call call) throws IOException;
    }

    /** Drops a request whose body has not all arrived in time, with its connection. */
    private void readDeadline(RoutingContext ctx) {
        HttpServerRequest request = ctx.request();
        long timer = vertx.setTimer(settings.requestReadTimeout().toMillis(), id -> {
            if (!request.isEnded()) {
                request.connection().close();
            }
        });
        ctx.addEndHandler(done -> vertx.cancelTimer(timer));
        ctx.next();
    }

    private void handle(RoutingContext ctx, Handler handler) {
        String path = ctx.request().path();
        if (ctx.request().method() != HttpMethod.POST) {
            respond(ctx, Response.error(405, ctx.request().method() + " " + path + ": only POST is supported"));
            return;
        }
        Map<String, String> query = new HashMap<>();
        ctx.queryParams().forEach(e -> query.putIfAbsent(e.getKey(), e.getValue()));
        String body = Objects.requireNonNullElse(ctx.body().asString("UTF-8"), "");
        Call call = new Call(path, query, String.valueOf(ctx.request().getHeader(HttpHeaders.CONTENT_TYPE)), body);
        vertx.executeBlocking(() -> handler.handle(call), false)
                .compose(stage -> Future.fromCompletionStage(stage, vertx.getOrCreateContext()))
                .onComplete(result -> respond(ctx, result.succeeded() ? result.result() : failure(call, result.cause())));
    }

    private static Response failure(Call call, Throwable e) {
        if (e instanceof JsonProcessingException json) {
            return Response.error(400, call.path() + ": not valid JSON: " + json.getOriginalMessage());
        }
        return Response.error(500, call.path() + ": " + e.getMessage());
    }

    private void failed(RoutingContext ctx) {
        int status = ctx.statusCode() > 0 ? ctx.statusCode() : 500;
        String message = status == 413 ? "body larger than " + settings.maxBodyBytes() + " bytes"
                : ctx.failure() != null ? String.valueOf(ctx.failure().getMessage()) : "request failed";
        respond(ctx, Response.error(status, ctx.request().path() + ": " + message));
    }

    private static void respond(RoutingContext ctx, Response response) {
        if (ctx.response().ended() || ctx.response().closed()) {
            return;
        }
        byte[] bytes;
        try {
            bytes = JSON.writeValueAsBytes(response.body());
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("a JSON tree could not be written", e);
        }
        ctx.response().setStatusCode(response.status()).putHeader(HttpHeaders.CONTENT_TYPE, "application/json")
                .end(Buffer.buffer(bytes));
    }

    private static CompletionStage<Response> done(Response response) {
        return CompletableFuture.completedFuture(response);
    }

    private CompletionStage<Response> templates(Call call) {
        List<TaskTemplate> parsed;
        try {
            parsed = TemplateFile.parse("request body", call.body(), call.contentType().contains("json"),
                    clock.millis(), RequestBodies.LIMITS);
        } catch (TemplateFileException e) {
            ObjectNode problems = JSON.createObjectNode();
            e.problems().forEach(problems.putArray("problems")::add);
            return done(new Response(422, problems));
        }
        TemplateRegistration.register(parsed, clock, settings.timeout(),
                records -> transactions.send(Topics.TASK_TEMPLATES.name(), records, Math.max(1, records.size())),
                templates);
        ObjectNode result = JSON.createObjectNode();
        parsed.forEach(t -> result.withArray("registered").add(t.getTask()));
        return done(new Response(200, result));
    }

    private CompletionStage<Response> examples(Call call) throws IOException {
        DatasetSplit split;
        try {
            split = DatasetSplit.valueOf(call.query().getOrDefault("split", "TRAIN").toUpperCase());
        } catch (IllegalArgumentException e) {
            return done(Response.error(400, "split must be TRAIN or VALIDATION, was " + call.query().get("split")));
        }
        JsonlFile.Contents contents = JsonlFile.read("request body", new BufferedReader(new StringReader(call.body())),
                RequestBodies.JSON);
        ExampleIngestion.Checked checked = ExampleIngestion.check(contents, templates.get(), split,
                call.query().get("task"), clock.millis());
        TransactionalSender.Report report = transactions.send(Topics.EXAMPLES.name(), checked.examples(), 500);
        ObjectNode result = JSON.createObjectNode();
        result.put("sent", report.sent());
        result.put("rejected", checked.problems().size());
        checked.problems().stream().map(LineProblem::toString).forEach(result.putArray("problems")::add);
        if (!report.complete()) {
            result.put("not_sent_from_line", report.notSentFrom());
            result.put("error", "sending failed: " + report.failure());
            return done(new Response(500, result));
        }
        return done(new Response(200, result));
    }

    private CompletionStage<Response> ask(Call call) throws JsonProcessingException {
        if (!waitingAsks.tryAcquire()) {
            return done(Response.error(429, "too many asks waiting for their answers (" + settings.maxWaitingAsks()
                    + "); try again later"));
        }
        boolean waiting = false;
        try {
            RequestBodies.Parsed<RequestBodies.Ask> parsed = RequestBodies.ask(call.body(), templates, clock,
                    settings.timeout(), settings.maxAskWait());
            if (!parsed.ok()) {
                return done(Response.error(parsed.status(), parsed.error()));
            }
            InferenceRequest request = parsed.value().request();
            Duration wait = parsed.value().answerWait();
            CompletionStage<Response> answered = AskIngestion.send(producer, answers, request)
                    .orTimeout(wait.toMillis(), TimeUnit.MILLISECONDS)
                    .handle((answer, error) -> {
                        waitingAsks.release();
                        if (error != null) {
                            answers.forget(request.getRequestId());
                        }
                        return answered(request, wait, answer, error);
                    });
            waiting = true;
            return answered;
        } finally {
            if (!waiting) {
                waitingAsks.release();
            }
        }
    }

    private static Response answered(InferenceRequest request, Duration wait, Answer answer, Throwable error) {
        ObjectNode result = JSON.createObjectNode().put("request_id", request.getRequestId())
                .put("task", request.getTask());
        Throwable cause = error instanceof java.util.concurrent.CompletionException ? error.getCause() : error;
        if (cause instanceof TimeoutException) {
            return new Response(504, result.put("error", "no answer within " + wait));
        }
        if (cause != null) {
            return new Response(502, result.put("error", cause.getMessage()));
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

    private CompletionStage<Response> feedback(Call call) throws JsonProcessingException {
        RequestBodies.Parsed<Feedback> parsed = RequestBodies.feedback(call.body(), templates, clock);
        if (!parsed.ok()) {
            return done(Response.error(parsed.status(), parsed.error()));
        }
        Feedback feedback = parsed.value();
        return FeedbackIngestion.send(producer, feedback).handle((metadata, error) -> error != null
                ? Response.error(502, "feedback for request " + feedback.getRequestId() + " could not be sent to "
                        + Topics.FEEDBACK.name() + ": " + error)
                : new Response(200, JSON.createObjectNode().put("recorded", feedback.getVerdict().toString())
                        .put("request_id", feedback.getRequestId())));
    }
}

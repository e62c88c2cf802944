package io.tunestream.serving.ops;

import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import org.apache.kafka.streams.KafkaStreams;

/**
 * The operations endpoints on one port, served by Vert.x:
 * <ul>
 *   <li>{@code /metrics}: Prometheus text exposition of the app's registry;</li>
 *   <li>{@code /health/live}: 200 unless Kafka Streams is in {@code ERROR} or has stopped ({@code PENDING_ERROR},
 *       {@code NOT_RUNNING} after start), or the model is stuck in a cancelled call — a restart is the way out;</li>
 *   <li>{@code /health/ready}: 200 only while Kafka Streams is {@code RUNNING} (stores restored, tasks assigned)
 *       and {@link Health#readinessDetail()} is empty (no input waits for the schema registry); while it is not,
 *       503 with status {@code DEGRADED} and the reason, e.g.
 *       {@code "degraded":"registry unreachable since 2026-01-01T00:00:00Z (waiting: ...)"} (also during a start
 *       that waits for it). Liveness stays up for a registry outage: a restart would not bring the registry
 *       back.</li>
 * </ul>
 * Health bodies are JSON: {@code {"status":"UP","state":"RUNNING"}}.
 *
 * <p>Connections are handled on one event loop and the metrics are rendered on a worker thread, so
 * neither a slow scrape nor a client that sends half a request and stalls keeps {@code /health/live}
 * from answering; an idle connection is closed after {@link Binding#idleTimeout()}. The server
 * owns its Vert.x instance; the owner closes the server.
 */
public final class OpsServer implements AutoCloseable {

    /** Default {@link Binding#idleTimeout()}: longer than any scrape, short enough to shed stalled clients. */
    public static final Duration DEFAULT_IDLE_TIMEOUT = Duration.ofSeconds(10);
    private static final String METRICS_TYPE = "text/plain; version=0.0.4; charset=utf-8";

    /**
     * Where the server listens.
     *
     * @param host        the bind address ({@code 0.0.0.0}: every interface)
     * @param port        0 picks a free port ({@link #port()} says which)
     * @param idleTimeout a connection without traffic this long is closed
     */
    public record Binding(String host, int port, Duration idleTimeout) {
        public Binding {
            Objects.requireNonNull(host, "host");
            if (port < 0 || port > 65535) {
                throw new IllegalArgumentException("port must be between 0 and 65535, was " + port);
            }
            if (idleTimeout.isNegative() || idleTimeout.isZero()) {
                throw new IllegalArgumentException("idle timeout must be positive, was " + idleTimeout);
            }
        }

        /** Every interface, the default idle timeout. */
        public static Binding anyAddress(int port) {
            return new Binding("0.0.0.0", port, DEFAULT_IDLE_TIMEOUT);
        }
    }

    /**
     * What the health endpoints report, each read at every request (on the event loop: keep them quick).
     *
     * @param streams         the state of Kafka Streams
     * @param modelLive       false when the model is stuck (a cancelled call never returned): {@code /health/live}
     *                        then answers 503 whatever the state of Kafka Streams
     * @param readinessDetail why the app is not ready although Kafka Streams runs (e.g. inputs waiting for the
     *                        registry); empty when nothing holds it back
     */
    public record Health(Supplier<KafkaStreams.State> streams, BooleanSupplier modelLive,
                         Supplier<Optional<String>> readinessDetail) {
        public Health {
            Objects.requireNonNull(streams, "streams");
            Objects.requireNonNull(modelLive, "modelLive");
            Objects.requireNonNull(readinessDetail, "readinessDetail");
        }

        /** Health from the state of Kafka Streams alone (model live, nothing holding readiness back). */
        public static Health of(Supplier<KafkaStreams.State> streams) {
            return new Health(streams, () -> true, Optional::empty);
        }

        public Health withModelLive(BooleanSupplier modelLive) {
            return new Health(streams, modelLive, readinessDetail);
        }

        public Health withReadinessDetail(Supplier<Optional<String>> readinessDetail) {
            return new Health(streams, modelLive, readinessDetail);
        }
    }

    private final Vertx vertx;
    private final HttpServer server;

    /**
     * Starts serving at once, on every interface.
     *
     * @param port    0 picks a free port ({@link #port()} says which)
     * @param scrape  the Prometheus text of the metrics
     * @param streams the state of Kafka Streams, read at each health request
     */
    public OpsServer(int port, Supplier<String> scrape, Supplier<KafkaStreams.State> streams) {
        this(Binding.anyAddress(port), scrape, Health.of(streams));
    }

    /**
     * Starts serving at once, on every interface.
     *
     * @param modelLive false when the model is stuck (a cancelled call never returned): {@code /health/live}
     *                  then answers 503 whatever the state of Kafka Streams
     * @param degraded  why the app is degraded (inputs waiting for the registry), empty when it is not
     */
    public OpsServer(int port, Supplier<String> scrape, Supplier<KafkaStreams.State> streams,
                     BooleanSupplier modelLive, Supplier<Optional<String>> degraded) {
        this(Binding.anyAddress(port), scrape, Health.of(streams).withModelLive(modelLive).withReadinessDetail(degraded));
    }

    /**
     * Starts serving at once.
     *
     * @throws UncheckedIOException naming the address when it cannot listen there
     */
    public OpsServer(Binding binding, Supplier<String> scrape, Health health) {
        Objects.requireNonNull(scrape, "scrape");
        vertx = Vertx.vertx(new VertxOptions().setEventLoopPoolSize(1).setWorkerPoolSize(2));
        Router router = Router.router(vertx);
        router.get("/metrics").handler(ctx -> vertx.executeBlocking(scrape::get, false).onComplete(result -> {
            if (result.succeeded()) {
                respond(ctx, 200, METRICS_TYPE, result.result());
            } else {
                respond(ctx, 500, "text/plain; charset=utf-8", "metrics failed: " + result.cause());
            }
        }));
        router.get("/health/live").handler(ctx -> {
            KafkaStreams.State state = health.streams().get();
            health(ctx, state, live(state) && health.modelLive().getAsBoolean());
        });
        router.get("/health/ready").handler(ctx -> ready(ctx, health.streams().get(), health.readinessDetail().get()));
        HttpServerOptions options = new HttpServerOptions().setHost(binding.host()).setPort(binding.port())
                .setIdleTimeout((int) binding.idleTimeout().toMillis()).setIdleTimeoutUnit(TimeUnit.MILLISECONDS);
        try {
            server = vertx.createHttpServer(options).requestHandler(router).listen()
                    .toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
        } catch (ExecutionException | TimeoutException e) {
            vertx.close();
            Throwable cause = e instanceof ExecutionException ? e.getCause() : e;
            throw new UncheckedIOException("ops HTTP server cannot listen on " + binding.host() + ":" + binding.port()
                    + ": " + cause.getMessage(), cause instanceof IOException io ? io : new IOException(cause));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            vertx.close();
            throw new IllegalStateException("interrupted while starting the ops HTTP server", e);
        }
    }

    static boolean live(KafkaStreams.State state) {
        return switch (state) {
            case ERROR, PENDING_ERROR, NOT_RUNNING -> false;
            default -> true;
        };
    }

    public int port() {
        return server.actualPort();
    }

    private static void ready(RoutingContext ctx, KafkaStreams.State state, Optional<String> detail) {
        if (detail.isEmpty()) {
            health(ctx, state, state == KafkaStreams.State.RUNNING);
            return;
        }
        respond(ctx, 503, "application/json", "{\"status\":\"DEGRADED\",\"state\":\"" + state
                + "\",\"degraded\":\"" + json(detail.get()) + "\"}");
    }

    /** {@code text} as the inside of a JSON string. */
    private static String json(String text) {
        StringBuilder escaped = new StringBuilder(text.length());
        for (char c : text.toCharArray()) {
            switch (c) {
                case '"' -> escaped.append("\\\"");
                case '\\' -> escaped.append("\\\\");
                default -> {
                    if (c < 0x20) {
                        escaped.append(String.format("\\u%04x", (int) c));
                    } else {
                        escaped.append(c);
                    }
                }
            }
        }
        return escaped.toString();
    }

    private static void health(RoutingContext ctx, KafkaStreams.State state, boolean up) {
        respond(ctx, up ? 200 : 503, "application/json",
                "{\"status\":\"" + (up ? "UP" : "DOWN") + "\",\"state\":\"" + state + "\"}");
    }

    private static void respond(RoutingContext ctx, int status, String contentType, String body) {
        if (ctx.response().ended() || ctx.response().closed()) {
            return;
        }
        ctx.response().setStatusCode(status).putHeader(HttpHeaders.CONTENT_TYPE, contentType).end(body);
    }

    @Override
    public void close() {
        try {
            vertx.close().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException | TimeoutException e) {
            throw new IllegalStateException("the ops HTTP server did not stop: " + e.getMessage(), e);
        }
    }
}

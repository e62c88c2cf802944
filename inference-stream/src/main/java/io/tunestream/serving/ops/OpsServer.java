package io.tunestream.serving.ops;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import org.apache.kafka.streams.KafkaStreams;

/**
 * The operations endpoints on one port, served by the JDK's HTTP server:
 * <ul>
 *   <li>{@code /metrics}: Prometheus text exposition of the app's registry;</li>
 *   <li>{@code /health/live}: 200 unless Kafka Streams is in {@code ERROR} or has stopped ({@code PENDING_ERROR},
 *       {@code NOT_RUNNING} after start), or the model is stuck in a cancelled call — a restart is the way out;</li>
 *   <li>{@code /health/ready}: 200 only while Kafka Streams is {@code RUNNING} (stores restored, tasks assigned)
 *       and no input waits for the schema registry; while one does, 503 with status {@code DEGRADED} and
 *       the reason, e.g. {@code "degraded":"registry unreachable since 2026-01-01T00:00:00Z (waiting: ...)"}
 *       (also during a start that waits for it). Liveness stays up for a registry outage: a restart would not
 *       bring the registry back.</li>
 * </ul>
 * Health bodies are JSON: {@code {"status":"UP","state":"RUNNING"}}.
 */
public final class OpsServer implements AutoCloseable {

    private final HttpServer server;

    /**
     * Starts serving at once.
     *
     * @param port    0 picks a free port ({@link #port()} says which)
     * @param scrape  the Prometheus text of the metrics
     * @param streams the state of Kafka Streams, read at each health request
     */
    public OpsServer(int port, Supplier<String> scrape, Supplier<KafkaStreams.State> streams) {
        this(port, scrape, streams, () -> true, Optional::empty);
    }

    /**
     * Starts serving at once.
     *
     * @param modelLive false when the model is stuck (a cancelled call never returned): {@code /health/live}
     *                  then answers 503 whatever the state of Kafka Streams
     * @param degraded  why the app is degraded (inputs waiting for the registry), empty when it is not
     */
    public OpsServer(int port, Supplier<String> scrape, Supplier<KafkaStreams.State> streams,
                     BooleanSupplier modelLive, Supplier<Optional<String>> degraded) {
        try {
            server = HttpServer.create(new InetSocketAddress(port), 16);
        } catch (IOException e) {
            throw new UncheckedIOException("ops HTTP server cannot listen on port " + port + ": " + e.getMessage(), e);
        }
        server.createContext("/metrics", exchange -> respond(exchange, 200,
                "text/plain; version=0.0.4; charset=utf-8", scrape.get()));
        server.createContext("/health/live", exchange -> health(exchange, streams.get(),
                live(streams.get()) && modelLive.getAsBoolean()));
        server.createContext("/health/ready", exchange -> ready(exchange, streams.get(), degraded.get()));
        server.start();
    }

    static boolean live(KafkaStreams.State state) {
        return switch (state) {
            case ERROR, PENDING_ERROR, NOT_RUNNING -> false;
            default -> true;
        };
    }

    public int port() {
        return server.getAddress().getPort();
    }

    private static void ready(HttpExchange exchange, KafkaStreams.State state, Optional<String> degraded)
            throws IOException {
        if (degraded.isEmpty()) {
            health(exchange, state, state == KafkaStreams.State.RUNNING);
            return;
        }
        respond(exchange, 503, "application/json", "{\"status\":\"DEGRADED\",\"state\":\"" + state
                + "\",\"degraded\":\"" + json(degraded.get()) + "\"}");
    }

    private static String json(String text) {
        return text.replace("\\", "\\\\").replace("\"", "\\\"");
    }

    private static void health(HttpExchange exchange, KafkaStreams.State state, boolean up) throws IOException {
        respond(exchange, up ? 200 : 503, "application/json",
                "{\"status\":\"" + (up ? "UP" : "DOWN") + "\",\"state\":\"" + state + "\"}");
    }

    private static void respond(HttpExchange exchange, int status, String contentType, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().set("Content-Type", contentType);
        exchange.sendResponseHeaders(status, bytes.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(bytes);
        }
    }

    @Override
    public void close() {
        server.stop(0);
    }
}

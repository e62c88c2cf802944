package io.tunestream.devkit;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URLDecoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A minimal OIDC stand-in in front of the embedded registry, for tests of registry authentication:
 * {@code POST /token} grants the OAuth2 client-credentials flow to the clients it knows (credentials
 * in the form body or as HTTP Basic) and issues random bearer tokens; every other request must carry
 * {@code Authorization: Bearer <a token it issued>} and is then forwarded to the registry, or is
 * refused with 401 without reaching it. Counts what it granted and refused, per client.
 *
 * <p>Not an identity provider: no signatures, no expiry enforcement, loopback only.
 */
public final class RegistryAuthStub implements AutoCloseable {

    private static final List<String> FORWARDED_HEADERS = List.of("Content-Type", "Accept");

    private final HttpServer server;
    private final ExecutorService executor;
    private final URI registry;
    private final Map<String, String> clients;
    private final long expiresInSeconds;
    private final Map<String, String> tokens = new ConcurrentHashMap<>();
    private final Map<String, AtomicInteger> forwarded = new ConcurrentHashMap<>();
    private final AtomicInteger refused = new AtomicInteger();
    private final AtomicInteger tokensIssued = new AtomicInteger();
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private final SecureRandom random = new SecureRandom();

    private RegistryAuthStub(URI registry, Map<String, String> clients, long expiresInSeconds) throws IOException {
        this.registry = registry;
        this.clients = Map.copyOf(clients);
        this.expiresInSeconds = expiresInSeconds;
        this.server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        this.executor = Executors.newFixedThreadPool(4, r -> {
            Thread thread = new Thread(r, "registry-auth-stub");
            thread.setDaemon(true);
            return thread;
        });
        server.setExecutor(executor);
        server.createContext("/token", this::token);
        server.createContext("/", this::forward);
        server.start();
    }

    /**
     * Starts the stub in front of the registry at {@code registryUrl} (its base URL).
     *
     * @param clients client id to client secret
     */
    public static RegistryAuthStub start(String registryUrl, Map<String, String> clients) {
        return start(registryUrl, clients, 300);
    }

    /** As {@link #start(String, Map)}, tokens announced to expire after {@code expiresInSeconds}. */
    public static RegistryAuthStub start(String registryUrl, Map<String, String> clients, long expiresInSeconds) {
        Objects.requireNonNull(registryUrl, "registryUrl");
        try {
            return new RegistryAuthStub(URI.create(registryUrl.replaceAll("/+$", "")), clients, expiresInSeconds);
        } catch (IOException e) {
            throw new PlatformStartException("registry auth stub could not bind a loopback port: " + e, e);
        }
    }

    /** The base URL clients use instead of the registry's. */
    public String registryUrl() {
        return "http://127.0.0.1:" + server.getAddress().getPort();
    }

    /** The token endpoint to configure as {@code apicurio.registry.auth.service.token.endpoint}. */
    public String tokenEndpoint() {
        return registryUrl() + "/token";
    }

    /** Requests forwarded to the registry with a token of {@code clientId}. */
    public int forwardedFor(String clientId) {
        AtomicInteger count = forwarded.get(clientId);
        return count == null ? 0 : count.get();
    }

    /** Registry requests refused: no bearer token, or one this stub did not issue. */
    public int refused() {
        return refused.get();
    }

    /** Tokens issued so far. */
    public int tokensIssued() {
        return tokensIssued.get();
    }

    private void token(HttpExchange exchange) throws IOException {
        try (exchange) {
            Map<String, String> form = form(exchange.getRequestBody());
            String clientId = form.get("client_id");
            String secret = form.get("client_secret");
            String basic = exchange.getRequestHeaders().getFirst("Authorization");
            if (basic != null && basic.startsWith("Basic ")) {
                String[] pair = new String(Base64.getDecoder().decode(basic.substring(6)), StandardCharsets.UTF_8)
                        .split(":", 2);
                clientId = URLDecoder.decode(pair[0], StandardCharsets.UTF_8);
                secret = pair.length > 1 ? URLDecoder.decode(pair[1], StandardCharsets.UTF_8) : null;
            }
            if (!"POST".equals(exchange.getRequestMethod()) || !"client_credentials".equals(form.get("grant_type"))
                    || clientId == null || secret == null || !secret.equals(clients.get(clientId))) {
                respond(exchange, 401, "application/json", "{\"error\":\"invalid_client\"}");
                return;
            }
            byte[] raw = new byte[24];
            random.nextBytes(raw);
            String token = Base64.getUrlEncoder().withoutPadding().encodeToString(raw);
            tokens.put(token, clientId);
            tokensIssued.incrementAndGet();
            respond(exchange, 200, "application/json", "{\"access_token\":\"" + token
                    + "\",\"token_type\":\"Bearer\",\"expires_in\":" + expiresInSeconds + "}");
        }
    }

    private void forward(HttpExchange exchange) throws IOException {
        try (exchange) {
            String authorization = exchange.getRequestHeaders().getFirst("Authorization");
            String clientId = authorization != null && authorization.startsWith("Bearer ")
                    ? tokens.get(authorization.substring(7).strip()) : null;
            if (clientId == null) {
                refused.incrementAndGet();
                respond(exchange, 401, "application/json",
                        "{\"title\":\"Unauthorized\",\"detail\":\"a bearer token of the token endpoint is required\"}");
                return;
            }
            forwarded.computeIfAbsent(clientId, id -> new AtomicInteger()).incrementAndGet();
            byte[] body = exchange.getRequestBody().readAllBytes();
            URI target = registry.resolve(exchange.getRequestURI().getRawPath()
                    + (exchange.getRequestURI().getRawQuery() == null ? "" : "?" + exchange.getRequestURI().getRawQuery()));
            HttpRequest.Builder request = HttpRequest.newBuilder(target).timeout(Duration.ofSeconds(30))
                    .method(exchange.getRequestMethod(), body.length == 0 ? HttpRequest.BodyPublishers.noBody()
                            : HttpRequest.BodyPublishers.ofByteArray(body));
            for (String header : FORWARDED_HEADERS) {
                String value = exchange.getRequestHeaders().getFirst(header);
                if (value != null) {
                    request.header(header, value);
                }
            }
            HttpResponse<byte[]> response;
            try {
                response = http.send(request.build(), HttpResponse.BodyHandlers.ofByteArray());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                respond(exchange, 502, "text/plain", "interrupted");
                return;
            } catch (IOException e) {
                respond(exchange, 502, "text/plain", "registry unreachable: " + e);
                return;
            }
            response.headers().firstValue("Content-Type")
                    .ifPresent(type -> exchange.getResponseHeaders().set("Content-Type", type));
            byte[] answer = response.body();
            exchange.sendResponseHeaders(response.statusCode(), answer.length == 0 ? -1 : answer.length);
            if (answer.length > 0) {
                try (OutputStream out = exchange.getResponseBody()) {
                    out.write(answer);
                }
            }
        }
    }

    private static Map<String, String> form(InputStream in) throws IOException {
        Map<String, String> form = new HashMap<>();
        for (String pair : new String(in.readAllBytes(), StandardCharsets.UTF_8).split("&")) {
            int equals = pair.indexOf('=');
            if (equals > 0) {
                form.put(URLDecoder.decode(pair.substring(0, equals), StandardCharsets.UTF_8),
                        URLDecoder.decode(pair.substring(equals + 1), StandardCharsets.UTF_8));
            }
        }
        return form;
    }

    private static void respond(HttpExchange exchange, int status, String type, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().set("Content-Type", type);
        exchange.sendResponseHeaders(status, bytes.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(bytes);
        }
    }

    @Override
    public void close() {
        server.stop(0);
        executor.shutdownNow();
    }
}

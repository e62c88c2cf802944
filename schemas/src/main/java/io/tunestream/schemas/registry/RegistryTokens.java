package io.tunestream.schemas.registry;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Objects;

/**
 * Access tokens for the registry's REST API by the OAuth2 client-credentials grant ({@link
 * RegistryAuth}), kept until shortly before they expire. Thread-safe. Neither the secret nor a token
 * is ever put in an exception message.
 */
public final class RegistryTokens {

    /** A token is renewed this long before its {@code expires_in} runs out. */
    static final Duration RENEW_BEFORE = Duration.ofSeconds(30);
    private static final Duration DEFAULT_LIFETIME = Duration.ofMinutes(5);
    private static final ObjectMapper JSON = new ObjectMapper();

    private final RegistryAuth auth;
    private final HttpClient http;
    private final Duration timeout;
    private final Clock clock;
    private String token;
    private Instant renewAt = Instant.MIN;

    public RegistryTokens(RegistryAuth auth, HttpClient http, Duration timeout, Clock clock) {
        this.auth = Objects.requireNonNull(auth, "auth");
        this.http = Objects.requireNonNull(http, "http");
        this.timeout = Objects.requireNonNull(timeout, "timeout");
        this.clock = Objects.requireNonNull(clock, "clock");
    }

    /** A valid access token, fetched when none is held or it is about to expire. */
    public synchronized String token() {
        if (token == null || !clock.instant().isBefore(renewAt)) {
            fetch();
        }
        return token;
    }

    /** Forgets the held token (the registry refused it): the next {@link #token()} fetches a new one. */
    public synchronized void invalidate() {
        token = null;
    }

    private void fetch() {
        String form = "grant_type=client_credentials&client_id=" + encode(auth.clientId()) + "&client_secret="
                + encode(auth.clientSecret()) + auth.scope().map(s -> "&scope=" + encode(s)).orElse("");
        HttpRequest request = HttpRequest.newBuilder(auth.tokenEndpoint()).timeout(timeout)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .header("Accept", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(form, StandardCharsets.UTF_8)).build();
        Instant asked = clock.instant();
        HttpResponse<String> response;
        try {
            response = http.send(request, HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new RegistryAuthException("token endpoint " + auth.tokenEndpoint() + " unreachable for client '"
                    + auth.clientId() + "': " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new RegistryAuthException("interrupted while asking " + auth.tokenEndpoint() + " for a token", e);
        }
        if (response.statusCode() != 200) {
            throw new RegistryAuthException("token endpoint " + auth.tokenEndpoint() + " refused client '"
                    + auth.clientId() + "' (HTTP " + response.statusCode() + ")", null);
        }
        JsonNode body;
        try {
            body = JSON.readTree(response.body());
        } catch (IOException e) {
            throw new RegistryAuthException("token endpoint " + auth.tokenEndpoint() + " answered unreadable JSON", e);
        }
        String accessToken = body.path("access_token").asText("");
        if (accessToken.isEmpty()) {
            throw new RegistryAuthException("token endpoint " + auth.tokenEndpoint()
                    + " answered without an access_token", null);
        }
        Duration lifetime = body.has("expires_in") ? Duration.ofSeconds(body.path("expires_in").asLong())
                : DEFAULT_LIFETIME;
        Duration margin = lifetime.compareTo(RENEW_BEFORE.multipliedBy(2)) > 0 ? RENEW_BEFORE : lifetime.dividedBy(2);
        token = accessToken;
        renewAt = asked.plus(lifetime).minus(margin);
    }

    private static String encode(String value) {
        return URLEncoder.encode(value, StandardCharsets.UTF_8);
    }

    /** No token could be had: the endpoint is unreachable, refused the client or answered nonsense. */
    public static final class RegistryAuthException extends RuntimeException {
        RegistryAuthException(String message, Throwable cause) {
            super(message, cause);
        }
    }
}

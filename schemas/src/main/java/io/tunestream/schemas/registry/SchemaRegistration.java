package io.tunestream.schemas.registry;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.tunestream.schemas.TopicSpec;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import org.apache.avro.Schema;

/**
 * Registers the value schema of every topic in the Apicurio Registry (v3 REST API) and puts a
 * compatibility rule on each artifact, so that an incompatible schema is refused by the
 * registry, whoever sends it.
 *
 * <p>One artifact per topic: {@code <topic>-value} in group {@code default}, type AVRO, the
 * schema's JSON as {@link Schema#toString()} writes it (exactly what the serdes configured by
 * {@link RegistryConfig} send, so they find it instead of adding versions). Registering is
 * idempotent: the same schema again returns the existing version; a changed schema becomes a
 * new version only if the rule accepts it. The rule is set before a new version is added.
 */
public final class SchemaRegistration {

    /** The group every Tunestream artifact lives in. */
    public static final String GROUP = "default";

    private static final ObjectMapper JSON = new ObjectMapper();

    private final RegistryConfig registry;
    private final Compatibility compatibility;
    private final HttpClient http;
    private final Duration requestTimeout;
    private final Optional<RegistryTokens> tokens;

    public SchemaRegistration(RegistryConfig registry, Compatibility compatibility, Duration requestTimeout) {
        this.registry = Objects.requireNonNull(registry, "registry");
        this.compatibility = Objects.requireNonNull(compatibility, "compatibility");
        this.requestTimeout = Objects.requireNonNull(requestTimeout, "requestTimeout");
        this.http = HttpClient.newBuilder().connectTimeout(requestTimeout).build();
        this.tokens = registry.auth().map(a -> new RegistryTokens(a, http, requestTimeout, Clock.systemUTC()));
    }

    /** BACKWARD compatibility, 30 s per request. */
    public SchemaRegistration(RegistryConfig registry) {
        this(registry, Compatibility.BACKWARD, Duration.ofSeconds(30));
    }

    /** The artifact id of a topic's value schema (Apicurio's TopicIdStrategy). */
    public static String valueArtifactId(String topic) {
        return topic + "-value";
    }

    /** Registers the value schema of each topic that has one; returns what the registry holds. */
    public List<RegisteredSchema> registerAll(Collection<TopicSpec> topics) {
        List<RegisteredSchema> registered = new ArrayList<>();
        for (TopicSpec topic : topics) {
            if (topic.valueSchema() != null) {
                registered.add(register(valueArtifactId(topic.name()), topic.valueSchema()));
            }
        }
        return List.copyOf(registered);
    }

    /**
     * The value-schema artifacts of {@code topics} that the registry does not hold: what a service
     * checks at start (it does not register; {@code ingest setup} does).
     *
     * @throws SchemaRegistrationException if the registry cannot be reached or refuses to answer
     */
    public List<String> missingArtifacts(Collection<TopicSpec> topics) {
        List<String> missing = new ArrayList<>();
        for (TopicSpec topic : topics) {
            if (topic.valueSchema() != null) {
                String artifactId = valueArtifactId(topic.name());
                String path = "/groups/" + encode(GROUP) + "/artifacts/" + encode(artifactId);
                if (send(artifactId, "GET", path, null, 200, 404).statusCode() == 404) {
                    missing.add(artifactId);
                }
            }
        }
        return List.copyOf(missing);
    }

    /**
     * Makes {@code schema} a version of {@code artifactId} (creating the artifact if needed) under
     * this registration's compatibility rule.
     *
     * @throws SchemaRegistrationException if the registry refuses it ({@link
     *                                     SchemaRegistrationException#isRuleViolation()} for an
     *                                     incompatible schema) or cannot be reached
     */
    public RegisteredSchema register(String artifactId, Schema schema) {
        Objects.requireNonNull(artifactId, "artifactId");
        Objects.requireNonNull(schema, "schema");
        String artifactPath = "/groups/" + encode(GROUP) + "/artifacts/" + encode(artifactId);
        boolean exists = send(artifactId, "GET", artifactPath, null, 200, 404).statusCode() == 200;
        if (exists) {
            // rule first, so the new version (if any) is checked against it
            ensureRule(artifactId, artifactPath);
        }
        RegisteredSchema version = createOrFindVersion(artifactId, schema);
        if (!exists) {
            ensureRule(artifactId, artifactPath);
        }
        return version;
    }

    /** The compatibility level set on an artifact, or {@code null} when it has no such rule. */
    public Compatibility compatibilityOf(String artifactId) {
        String path = "/groups/" + encode(GROUP) + "/artifacts/" + encode(artifactId) + "/rules/COMPATIBILITY";
        HttpResponse<String> response = send(artifactId, "GET", path, null, 200, 404);
        if (response.statusCode() == 404) {
            return null;
        }
        return Compatibility.valueOf(readJson(artifactId, response).path("config").asText());
    }

    private RegisteredSchema createOrFindVersion(String artifactId, Schema schema) {
        ObjectNode body = JSON.createObjectNode();
        body.put("artifactId", artifactId);
        body.put("artifactType", "AVRO");
        ObjectNode content = body.putObject("firstVersion").putObject("content");
        content.put("content", schema.toString());
        content.put("contentType", "application/json");
        HttpResponse<String> response = send(artifactId, "POST",
                "/groups/" + encode(GROUP) + "/artifacts?ifExists=FIND_OR_CREATE_VERSION", body.toString(), 200);
        JsonNode version = readJson(artifactId, response).path("version");
        return new RegisteredSchema(GROUP, artifactId, version.path("version").asText(),
                version.path("globalId").asLong(), version.path("contentId").asLong());
    }

    private void ensureRule(String artifactId, String artifactPath) {
        ObjectNode rule = JSON.createObjectNode();
        rule.put("ruleType", "COMPATIBILITY");
        rule.put("config", compatibility.name());
        Compatibility current = compatibilityOf(artifactId);
        if (current == null) {
            // 409: set by someone else meanwhile; make it ours below
            if (send(artifactId, "POST", artifactPath + "/rules", rule.toString(), 204, 200, 409).statusCode() != 409) {
                return;
            }
        } else if (current == compatibility) {
            return;
        }
        send(artifactId, "PUT", artifactPath + "/rules/COMPATIBILITY", rule.toString(), 200, 204);
    }

    private HttpResponse<String> send(String artifactId, String method, String path, String body, int... accepted) {
        HttpResponse<String> response = sendOnce(artifactId, method, path, body);
        if (response.statusCode() == 401 && tokens.isPresent()) {
            // the token may have been revoked or expired early: one new token, one more try
            tokens.get().invalidate();
            response = sendOnce(artifactId, method, path, body);
        }
        for (int status : accepted) {
            if (response.statusCode() == status) {
                return response;
            }
        }
        throw new SchemaRegistrationException(artifactId, response.statusCode(), "artifact " + artifactId
                + ": registry refused " + method + " " + path + " (HTTP " + response.statusCode() + "): "
                + problem(response.body()), null);
    }

    private HttpResponse<String> sendOnce(String artifactId, String method, String path, String body) {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(registry.apiUrl() + path))
                .timeout(requestTimeout)
                .header("Accept", "application/json")
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody()
                        : HttpRequest.BodyPublishers.ofString(body, StandardCharsets.UTF_8));
        if (body != null) {
            request.header("Content-Type", "application/json");
        }
        if (tokens.isPresent()) {
            String token;
            try {
                token = tokens.get().token();
            } catch (RegistryTokens.RegistryAuthException e) {
                // an unreachable token endpoint is an outage (status 0); a refusal is the client's to fix (401)
                int status = e.getCause() instanceof IOException || e.getCause() instanceof InterruptedException
                        ? 0 : 401;
                throw new SchemaRegistrationException(artifactId, status, "artifact " + artifactId
                        + ": no registry access token: " + e.getMessage(), e);
            }
            request.header("Authorization", "Bearer " + token);
        }
        try {
            return http.send(request.build(), HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new SchemaRegistrationException(artifactId, 0, "artifact " + artifactId + ": registry at "
                    + registry.apiUrl() + " unreachable (" + method + " " + path + "): " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new SchemaRegistrationException(artifactId, 0, "artifact " + artifactId
                    + ": interrupted while calling the registry", e);
        }
    }

    /** The registry's explanation from a problem-details body: detail plus the rule violation causes. */
    private static String problem(String body) {
        try {
            JsonNode problem = JSON.readTree(body);
            StringBuilder text = new StringBuilder(problem.path("detail").asText(problem.path("title").asText(body)));
            for (JsonNode cause : problem.path("causes")) {
                text.append("; ").append(cause.path("description").asText());
                if (!cause.path("context").asText().isEmpty()) {
                    text.append(" at ").append(cause.path("context").asText());
                }
            }
            return text.toString();
        } catch (IOException e) {
            return body;
        }
    }

    private static JsonNode readJson(String artifactId, HttpResponse<String> response) {
        try {
            return JSON.readTree(response.body());
        } catch (IOException e) {
            throw new SchemaRegistrationException(artifactId, response.statusCode(), "artifact " + artifactId
                    + ": registry answered with unreadable JSON: " + response.body(), e);
        }
    }

    private static String encode(String segment) {
        return URLEncoder.encode(segment, StandardCharsets.UTF_8).replace("+", "%20");
    }
}

package io.tunestream.schemas.registry;

import com.microsoft.kiota.ApiException;
import io.apicurio.registry.rest.client.models.ProblemDetails;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.TimeoutException;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.serialization.Deserializer;

/**
 * Decodes record values written by the Apicurio serializers, and tells a record that can never be
 * read (poison: dead-letter it) from a registry that cannot be reached right now (transient: wait).
 *
 * <p>A Kafka {@code Deserializer} can only succeed or throw, and both a registry outage and a bad
 * record throw; a consumer that dead-letters every exception sends valid records to the DLQ whenever
 * its schema cache is cold during an outage. So every failure is classified here:
 * <ul>
 *   <li>no Apicurio header (magic byte 0 and a schema id): poison, without asking anyone;</li>
 *   <li>the registry answered 404 for the record's schema id: poison (the registry is reachable and
 *       does not know the id);</li>
 *   <li>the registry answered 408, 429 or 5xx, the connection failed or timed out, or the registry
 *       does not answer a health probe now: {@link RegistryUnavailableException};</li>
 *   <li>anything else (the schema was found, the bytes do not decode, or a record of another type):
 *       poison, once a probe shows the registry reachable and a second decode fails again (the first
 *       failure may have been a connection cut while the registry came back); unreachable, transient.</li>
 * </ul>
 * The probe runs only when decoding failed, so it costs nothing on the normal path.
 *
 * <p>Thread-safe as the Apicurio deserializer is; the owner closes it.
 *
 * @param <T> the generated record class
 */
public final class RecordDecoder<T extends SpecificRecord> implements AutoCloseable {

    /** Apicurio's wire format: magic byte 0, then a 4- or 8-byte schema id, then the Avro binary. */
    private static final byte MAGIC_BYTE = 0;
    private static final int MIN_HEADER_BYTES = 1 + 4;
    private static final Duration PROBE_TIMEOUT = Duration.ofSeconds(3);

    private final Class<T> type;
    private final Deserializer<T> deserializer;
    private final RegistryProbe probe;

    RecordDecoder(Class<T> type, Deserializer<T> deserializer, RegistryProbe probe) {
        this.type = Objects.requireNonNull(type, "type");
        this.deserializer = Objects.requireNonNull(deserializer, "deserializer");
        this.probe = Objects.requireNonNull(probe, "probe");
    }

    /** A decoder of {@code type} records through the registry of {@code registry}. */
    public static <T extends SpecificRecord> RecordDecoder<T> of(Class<T> type, RegistryConfig registry) {
        return new RecordDecoder<>(type, AvroSerdes.deserializer(type, registry), RegistryProbe.http(registry));
    }

    /**
     * Decodes {@code value} read from {@code topic}.
     *
     * @return the record ({@code null} for a tombstone), or why it can never be read
     * @throws RegistryUnavailableException when the registry cannot be reached now; try again later
     */
    public Decoded<T> decode(String topic, Headers headers, byte[] value) {
        if (value == null) {
            return new Decoded.Value<>(null);
        }
        if (value.length < MIN_HEADER_BYTES || value[0] != MAGIC_BYTE) {
            String what = value.length == 0 ? "an empty value"
                    : value.length < MIN_HEADER_BYTES ? value.length + " bytes"
                    : "first byte " + value[0];
            return new Decoded.Poison<>("not an Apicurio-serialized " + type.getSimpleName() + " (" + what
                    + ", expected magic byte 0 and a schema id)",
                    new IllegalArgumentException("no Apicurio header"));
        }
        try {
            return new Decoded.Value<>(deserializer.deserialize(topic, headers, value));
        } catch (RuntimeException e) {
            Decoded<T> first = classify(topic, e);
            if (first instanceof Decoded.Poison<T> poison && registryStatus(e).isEmpty()) {
                // the registry answers now, but the failure may still have been the network's (a
                // connection cut while the registry restarted): only bytes that fail again are poison
                try {
                    return new Decoded.Value<>(deserializer.deserialize(topic, headers, value));
                } catch (RuntimeException again) {
                    return classify(topic, again);
                }
            }
            return first;
        }
    }

    private Decoded<T> classify(String topic, RuntimeException e) {
        Optional<Integer> status = registryStatus(e);
        if (status.isPresent() && isTransientStatus(status.get())) {
            throw new RegistryUnavailableException("registry answered HTTP " + status.get() + " while reading a "
                    + type.getSimpleName() + " from " + topic + ": " + reason(e), e);
        }
        if (status.isPresent() && status.get() == 404) {
            return new Decoded.Poison<>("the registry does not know the record's schema id: " + reason(e), e);
        }
        Optional<String> down = probe.unavailable();
        if (down.isPresent() || hasNetworkCause(e)) {
            throw new RegistryUnavailableException("registry unreachable while reading a " + type.getSimpleName()
                    + " from " + topic + " (" + down.orElse("connection failed, registry answers again") + "): "
                    + reason(e), e);
        }
        return new Decoded.Poison<>("cannot read a " + type.getSimpleName() + " from " + topic + ": " + reason(e), e);
    }

    private static boolean isTransientStatus(int status) {
        return status == 408 || status == 429 || status >= 500;
    }

    /** The HTTP status of the registry's answer in {@code e}'s causes, if the failure was one. */
    private static Optional<Integer> registryStatus(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof ApiException api && api.getResponseStatusCode() > 0) {
                return Optional.of(api.getResponseStatusCode());
            }
        }
        return Optional.empty();
    }

    /** Whether the failure came from the network (the registry's client), not from the bytes. */
    private static boolean hasNetworkCause(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof java.net.ConnectException || t instanceof java.net.SocketTimeoutException
                    || t instanceof java.net.NoRouteToHostException || t instanceof java.net.UnknownHostException
                    || t instanceof TimeoutException) {
                return true;
            }
        }
        return false;
    }

    /**
     * The exception's message followed by its causes', so a dead-letter header says what was wrong;
     * the registry's own errors (whose message is only their class name) by title and detail.
     */
    public static String reason(Throwable exception) {
        var text = new StringBuilder();
        for (Throwable t = exception; t != null && text.length() < 2000; t = t.getCause() == t ? null : t.getCause()) {
            if (!text.isEmpty()) {
                text.append(" <- ");
            }
            if (t instanceof ProblemDetails problem) {
                text.append("registry: ").append(problem.getTitle()).append(" (").append(problem.getDetail())
                        .append(')');
            } else {
                text.append(t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage());
            }
        }
        return text.length() > 2000 ? text.substring(0, 2000) : text.toString();
    }

    @Override
    public void close() {
        deserializer.close();
    }

    /** Asks the registry whether it answers now. */
    interface RegistryProbe {

        /** Empty when the registry answers; otherwise what is wrong. */
        Optional<String> unavailable();

        /** {@code GET <api>/system/info} with a short timeout. */
        static RegistryProbe http(RegistryConfig registry) {
            HttpClient client = HttpClient.newBuilder().connectTimeout(PROBE_TIMEOUT).build();
            URI info = URI.create(registry.apiUrl() + "/system/info");
            return () -> {
                try {
                    HttpResponse<Void> response = client.send(
                            HttpRequest.newBuilder(info).timeout(PROBE_TIMEOUT).GET().build(),
                            HttpResponse.BodyHandlers.discarding());
                    return response.statusCode() < 500 ? Optional.empty()
                            : Optional.of(info + " answered HTTP " + response.statusCode());
                } catch (IOException e) {
                    return Optional.of(info + " unreachable: " + e);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return Optional.of(info + " probe interrupted");
                }
            };
        }
    }
}

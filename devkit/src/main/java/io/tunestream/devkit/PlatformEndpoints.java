package io.tunestream.devkit;

import java.util.Objects;

/**
 * Where a running local platform can be reached: the Kafka bootstrap servers and the
 * Apicurio Registry base URL (e.g. {@code http://127.0.0.1:8080}, without the API path).
 *
 * <p>Tests receive one as a parameter from {@code LocalPlatformExtension}; the local
 * launcher prints it.
 */
public record PlatformEndpoints(String bootstrapServers, String registryUrl) {
    public PlatformEndpoints {
        Objects.requireNonNull(bootstrapServers, "bootstrapServers");
        Objects.requireNonNull(registryUrl, "registryUrl");
    }

    /** The registry's v3 REST API root, as the Apicurio serdes expect it in {@code apicurio.registry.url}. */
    public String registryApiUrl() {
        return registryUrl + "/apis/registry/v3";
    }
}

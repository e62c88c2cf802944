package io.tunestream.devkit;

import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * How to start an {@link EmbeddedRegistry}. Validated on construction.
 *
 * @param port               the HTTP port on 127.0.0.1; 0 picks a free one
 * @param home               the unpacked Apicurio Registry distribution; empty: the one devkit's
 *                           build unpacked (recorded in {@code tunestream-devkit.properties})
 * @param logDirectory       the server's directory: its output ({@code apicurio-registry.log}) and its
 *                           H2 database ({@code registry-db/}, reused when it exists, so a kept
 *                           directory keeps its schemas and global ids); empty: a temporary directory,
 *                           deleted on close unless the start failed
 * @param startTimeout       how long to wait for {@code /apis/registry/v3/system/info} to answer
 * @param maxHeap            the child JVM's {@code -Xmx} value, e.g. {@code 256m}
 * @param serverProperties   further Quarkus/Apicurio settings, passed as {@code -Dname=value};
 *                           they override the devkit's defaults
 */
public record EmbeddedRegistryConfig(
        int port,
        Optional<Path> home,
        Optional<Path> logDirectory,
        Duration startTimeout,
        String maxHeap,
        Map<String, String> serverProperties) {

    /** Six seconds on an idle laptop core; far more when the test JVMs share two cores. */
    public static final Duration DEFAULT_START_TIMEOUT = Duration.ofSeconds(120);
    public static final String DEFAULT_MAX_HEAP = "256m";

    public EmbeddedRegistryConfig {
        LoopbackPorts.requireValid(port, "port");
        Objects.requireNonNull(home, "home");
        Objects.requireNonNull(logDirectory, "logDirectory");
        Objects.requireNonNull(startTimeout, "startTimeout");
        if (startTimeout.isNegative() || startTimeout.isZero()) {
            throw new IllegalArgumentException("startTimeout must be positive, was " + startTimeout);
        }
        Objects.requireNonNull(maxHeap, "maxHeap");
        if (!maxHeap.matches("[0-9]+[kKmMgG]?")) {
            throw new IllegalArgumentException("maxHeap must be a JVM size such as 256m, was '" + maxHeap + "'");
        }
        serverProperties = Map.copyOf(Objects.requireNonNull(serverProperties, "serverProperties"));
    }

    /** A free port, the build's distribution, a temporary log directory, 256 MB of heap. */
    public static EmbeddedRegistryConfig defaults() {
        return new EmbeddedRegistryConfig(0, Optional.empty(), Optional.empty(), DEFAULT_START_TIMEOUT, DEFAULT_MAX_HEAP, Map.of());
    }

    public EmbeddedRegistryConfig withPort(int newPort) {
        return new EmbeddedRegistryConfig(newPort, home, logDirectory, startTimeout, maxHeap, serverProperties);
    }

    public EmbeddedRegistryConfig withHome(Path newHome) {
        return new EmbeddedRegistryConfig(port, Optional.of(newHome), logDirectory, startTimeout, maxHeap, serverProperties);
    }

    public EmbeddedRegistryConfig withLogDirectory(Path directory) {
        return new EmbeddedRegistryConfig(port, home, Optional.of(directory), startTimeout, maxHeap, serverProperties);
    }

    public EmbeddedRegistryConfig withStartTimeout(Duration timeout) {
        return new EmbeddedRegistryConfig(port, home, logDirectory, timeout, maxHeap, serverProperties);
    }

    public EmbeddedRegistryConfig withMaxHeap(String heap) {
        return new EmbeddedRegistryConfig(port, home, logDirectory, startTimeout, heap, serverProperties);
    }

    /** A copy with one more server setting (e.g. {@code apicurio.rest.deletion.group.enabled=false}). */
    public EmbeddedRegistryConfig withServerProperty(String name, String value) {
        Map<String, String> properties = new LinkedHashMap<>(serverProperties);
        properties.put(Objects.requireNonNull(name, "name"), Objects.requireNonNull(value, "value"));
        return new EmbeddedRegistryConfig(port, home, logDirectory, startTimeout, maxHeap, properties);
    }
}

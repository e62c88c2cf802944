package io.tunestream.devkit;

import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * How to start an {@link EmbeddedKafka} broker. Validated on construction.
 *
 * @param port              the client (PLAINTEXT) port on 127.0.0.1; 0 picks a free one
 * @param controllerPort    the KRaft controller port on 127.0.0.1; 0 picks a free one
 * @param dataDirectory     where the broker keeps its logs and metadata; empty: a temporary
 *                          directory, deleted on close. A given directory is kept, and reused
 *                          (with its cluster id) when it was formatted before.
 * @param messageMaxBytes   the broker's {@code message.max.bytes}: the largest record batch it
 *                          accepts. Producers and consumers must raise {@code max.request.size}
 *                          and {@code max.partition.fetch.bytes} to match.
 * @param startTimeout      how long the broker may take to start (its {@code server.max.startup.time.ms})
 *                          and then to answer a describe-cluster call
 * @param brokerProperties  further broker settings; they override the devkit's defaults
 * @param security          empty: one PLAINTEXT listener, no authorizer; present: the secured
 *                          broker of {@link BrokerSecurity} (SASL_SSL, SCRAM, TLS, ACLs)
 */
public record EmbeddedKafkaConfig(
        int port,
        int controllerPort,
        Optional<Path> dataDirectory,
        int messageMaxBytes,
        Duration startTimeout,
        Map<String, String> brokerProperties,
        Optional<BrokerSecurity> security) {

    /** Big enough for a p-tuning adapter or a batch of prompts in one record. */
    public static final int DEFAULT_MESSAGE_MAX_BYTES = 16 * 1024 * 1024;
    public static final Duration DEFAULT_START_TIMEOUT = Duration.ofSeconds(60);

    public EmbeddedKafkaConfig {
        LoopbackPorts.requireValid(port, "port");
        LoopbackPorts.requireValid(controllerPort, "controllerPort");
        if (port != 0 && port == controllerPort) {
            throw new IllegalArgumentException("port and controllerPort must differ, both were " + port);
        }
        Objects.requireNonNull(dataDirectory, "dataDirectory");
        if (messageMaxBytes < 1024) {
            throw new IllegalArgumentException("messageMaxBytes must be at least 1024, was " + messageMaxBytes);
        }
        Objects.requireNonNull(startTimeout, "startTimeout");
        if (startTimeout.isNegative() || startTimeout.isZero()) {
            throw new IllegalArgumentException("startTimeout must be positive, was " + startTimeout);
        }
        brokerProperties = Map.copyOf(Objects.requireNonNull(brokerProperties, "brokerProperties"));
        Objects.requireNonNull(security, "security");
    }

    /** A PLAINTEXT broker. */
    public EmbeddedKafkaConfig(int port, int controllerPort, Optional<Path> dataDirectory, int messageMaxBytes,
                               Duration startTimeout, Map<String, String> brokerProperties) {
        this(port, controllerPort, dataDirectory, messageMaxBytes, startTimeout, brokerProperties, Optional.empty());
    }

    /** A copy that starts the secured broker with {@code brokerSecurity}'s certificates and super user. */
    public EmbeddedKafkaConfig withSecurity(BrokerSecurity brokerSecurity) {
        return new EmbeddedKafkaConfig(port, controllerPort, dataDirectory, messageMaxBytes, startTimeout,
                brokerProperties, Optional.of(brokerSecurity));
    }

    /** Free ports, a temporary data directory, 16 MB records, 60 s to start. */
    public static EmbeddedKafkaConfig defaults() {
        return new EmbeddedKafkaConfig(0, 0, Optional.empty(), DEFAULT_MESSAGE_MAX_BYTES, DEFAULT_START_TIMEOUT, Map.of());
    }

    public EmbeddedKafkaConfig withPort(int newPort) {
        return new EmbeddedKafkaConfig(newPort, controllerPort, dataDirectory, messageMaxBytes, startTimeout, brokerProperties, security);
    }

    public EmbeddedKafkaConfig withControllerPort(int newControllerPort) {
        return new EmbeddedKafkaConfig(port, newControllerPort, dataDirectory, messageMaxBytes, startTimeout, brokerProperties, security);
    }

    public EmbeddedKafkaConfig withDataDirectory(Path directory) {
        return new EmbeddedKafkaConfig(port, controllerPort, Optional.of(directory), messageMaxBytes, startTimeout, brokerProperties, security);
    }

    public EmbeddedKafkaConfig withMessageMaxBytes(int bytes) {
        return new EmbeddedKafkaConfig(port, controllerPort, dataDirectory, bytes, startTimeout, brokerProperties, security);
    }

    public EmbeddedKafkaConfig withStartTimeout(Duration timeout) {
        return new EmbeddedKafkaConfig(port, controllerPort, dataDirectory, messageMaxBytes, timeout, brokerProperties, security);
    }

    /** A copy with one more broker setting (e.g. {@code auto.create.topics.enable=false}). */
    public EmbeddedKafkaConfig withBrokerProperty(String name, String value) {
        Map<String, String> properties = new LinkedHashMap<>(brokerProperties);
        properties.put(Objects.requireNonNull(name, "name"), Objects.requireNonNull(value, "value"));
        return new EmbeddedKafkaConfig(port, controllerPort, dataDirectory, messageMaxBytes, startTimeout, properties, security);
    }
}

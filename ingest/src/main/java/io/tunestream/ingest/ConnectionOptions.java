package io.tunestream.ingest;

import io.tunestream.schemas.AccessTable;
import io.tunestream.schemas.TopicSpec;
import io.tunestream.schemas.kafka.KafkaClientConfig;
import io.tunestream.schemas.kafka.KafkaClientSettings;
import io.tunestream.schemas.kafka.KafkaPreflight;
import io.tunestream.schemas.registry.RegistryConfig;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Option;

/** Where Kafka and the registry are, and how to connect to Kafka; shared by every command. */
public final class ConnectionOptions {

    @Option(names = "--bootstrap-servers", paramLabel = "HOST:PORT",
            defaultValue = "${env:TUNESTREAM_BOOTSTRAP_SERVERS:-localhost:9092}",
            description = "Kafka bootstrap servers (env TUNESTREAM_BOOTSTRAP_SERVERS; default: ${DEFAULT-VALUE}).")
    String bootstrapServers;

    @Option(names = "--registry-url", paramLabel = "URL",
            defaultValue = "${env:TUNESTREAM_REGISTRY_URL:-http://localhost:8080}",
            description = "Apicurio Registry base URL (env TUNESTREAM_REGISTRY_URL; default: ${DEFAULT-VALUE}).")
    String registryUrl;

    @Option(names = "--kafka-config", paramLabel = "FILE", defaultValue = "${env:TUNESTREAM_KAFKA_CONFIG}",
            description = "Kafka client properties (security.protocol, sasl.*, ssl.*, sasl.username with "
                    + "sasl.password.file, …) for every client (env TUNESTREAM_KAFKA_CONFIG; TUNESTREAM_KAFKA_SECURITY_PROTOCOL, "
                    + "TUNESTREAM_KAFKA_SASL_USERNAME, … override single keys).")
    Path kafkaConfig;

    /** The client config these options and the environment describe (validated: a bad setting names its key). */
    public KafkaClientConfig kafka() {
        Map<String, String> env = new HashMap<>(System.getenv());
        env.remove(KafkaClientSettings.CONFIG_FILE_ENV);
        if (kafkaConfig != null) {
            env.put(KafkaClientSettings.CONFIG_FILE_ENV, kafkaConfig.toString());
        }
        // registry credentials from TUNESTREAM_REGISTRY_AUTH_* (ingest setup: the admin identity's)
        return new KafkaClientConfig(bootstrapServers, RegistryConfig.fromEnvironment(registryUrl, env),
                KafkaClientSettings.load(Map.of(), env));
    }

    /**
     * Checks that the topics a command uses exist, allow what the ingest principal needs there
     * ({@link AccessTable} INGEST rows), and have their value schemas registered. Commands create
     * nothing: {@code ingest setup}, run as the admin principal, does.
     *
     * @throws KafkaPreflight.KafkaPreflightException naming the principal and what is missing
     */
    public static void prepare(KafkaClientConfig kafka, List<TopicSpec> topics, Duration timeout) {
        KafkaPreflight.check(kafka, AccessTable.topicOperations(AccessTable.Role.INGEST,
                AccessTable.Names.defaults(), topics.stream().map(TopicSpec::name).toList()), timeout);
        KafkaPreflight.checkSchemas(kafka.registry(), topics);
    }
}

package io.tunestream.ingest;

import io.tunestream.schemas.TopicSpec;
import io.tunestream.schemas.TopicsAdmin;
import io.tunestream.schemas.kafka.KafkaClientConfig;
import io.tunestream.schemas.registry.RegistryConfig;
import io.tunestream.schemas.registry.SchemaRegistration;
import java.time.Duration;
import java.util.List;
import org.apache.kafka.clients.admin.Admin;
import picocli.CommandLine.Option;

/** Where Kafka and the registry are; shared by every command. */
public final class ConnectionOptions {

    @Option(names = "--bootstrap-servers", paramLabel = "HOST:PORT",
            defaultValue = "${env:TUNESTREAM_BOOTSTRAP_SERVERS:-localhost:9092}",
            description = "Kafka bootstrap servers (env TUNESTREAM_BOOTSTRAP_SERVERS; default: ${DEFAULT-VALUE}).")
    String bootstrapServers;

    @Option(names = "--registry-url", paramLabel = "URL",
            defaultValue = "${env:TUNESTREAM_REGISTRY_URL:-http://localhost:8080}",
            description = "Apicurio Registry base URL (env TUNESTREAM_REGISTRY_URL; default: ${DEFAULT-VALUE}).")
    String registryUrl;

    /** The client config these options describe (validated). */
    public KafkaClientConfig kafka() {
        return new KafkaClientConfig(bootstrapServers, RegistryConfig.forRegistry(registryUrl));
    }

    /**
     * Creates the topics a command uses if missing and registers their value schemas (with the
     * BACKWARD rule), so a command works on a fresh platform.
     */
    public static void prepare(KafkaClientConfig kafka, List<TopicSpec> topics, Duration timeout) {
        try (Admin admin = Admin.create(kafka.adminProperties())) {
            new TopicsAdmin(admin, TopicsAdmin.Layout.catalogue(), timeout).ensure(topics);
        }
        new SchemaRegistration(kafka.registry()).registerAll(topics);
    }
}

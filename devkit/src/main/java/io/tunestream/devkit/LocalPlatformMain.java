package io.tunestream.devkit;

import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Runs a {@link LocalPlatform} until Ctrl-C, for local development:
 * <pre>./mvnw -B -q -pl devkit compile exec:java -Dexec.args="--kafka-port 9092 --registry-port 8080"</pre>
 * Prints the endpoints once both are ready; stops both cleanly on Ctrl-C (SIGINT/SIGTERM).
 */
@Command(name = "local-platform", mixinStandardHelpOptions = true,
        description = "Starts a single-node Kafka broker and an Apicurio Registry on 127.0.0.1 and runs until Ctrl-C.")
public final class LocalPlatformMain implements Callable<Integer> {
    private static final String LOGBACK_CONFIGURATION = "logback.configurationFile";

    @Option(names = "--kafka-port", defaultValue = "9092", description = "Kafka client port, 0 for a free one (default: ${DEFAULT-VALUE}).")
    int kafkaPort;

    @Option(names = "--controller-port", defaultValue = "0", description = "KRaft controller port, 0 for a free one (default: ${DEFAULT-VALUE}).")
    int controllerPort;

    @Option(names = "--registry-port", defaultValue = "8080", description = "Apicurio Registry HTTP port, 0 for a free one (default: ${DEFAULT-VALUE}).")
    int registryPort;

    @Option(names = "--data-dir", description = "Directory for the broker's data and the registry's database and log, kept across runs (default: temporary, deleted on exit).")
    Path dataDirectory;

    @Option(names = "--message-max-bytes", defaultValue = "" + EmbeddedKafkaConfig.DEFAULT_MESSAGE_MAX_BYTES,
            description = "Broker message.max.bytes (default: ${DEFAULT-VALUE}).")
    int messageMaxBytes;

    @Option(names = "--registry-start-timeout", defaultValue = "PT2M", description = "How long to wait for the registry, ISO-8601 (default: ${DEFAULT-VALUE}).")
    Duration registryStartTimeout;

    public static void main(String[] args) {
        // Before the first logger exists: Kafka at WARN, unless the user chose a configuration.
        if (System.getProperty(LOGBACK_CONFIGURATION) == null) {
            System.setProperty(LOGBACK_CONFIGURATION, "tunestream-devkit/logback-local-platform.xml");
        }
        System.exit(new CommandLine(new LocalPlatformMain()).execute(args));
    }

    @Override
    public Integer call() throws InterruptedException {
        EmbeddedKafkaConfig kafkaConfig = EmbeddedKafkaConfig.defaults()
                .withPort(kafkaPort)
                .withControllerPort(controllerPort)
                .withMessageMaxBytes(messageMaxBytes);
        EmbeddedRegistryConfig registryConfig = EmbeddedRegistryConfig.defaults()
                .withPort(registryPort)
                .withStartTimeout(registryStartTimeout);
        if (dataDirectory != null) {
            kafkaConfig = kafkaConfig.withDataDirectory(dataDirectory.resolve("kafka"));
            registryConfig = registryConfig.withLogDirectory(dataDirectory.resolve("registry"));
        }
        LocalPlatform platform = LocalPlatform.start(kafkaConfig, registryConfig);
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            System.out.println("Stopping the local platform...");
            platform.close();
            stopped.countDown();
        }, "tunestream-local-platform-stop"));
        PlatformEndpoints endpoints = platform.endpoints();
        System.out.println("Kafka bootstrap servers: " + endpoints.bootstrapServers());
        System.out.println("Apicurio Registry:       " + endpoints.registryUrl() + " (API " + endpoints.registryApiUrl() + ")");
        System.out.println("Press Ctrl-C to stop.");
        stopped.await();
        return 0;
    }
}

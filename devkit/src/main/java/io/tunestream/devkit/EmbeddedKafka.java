package io.tunestream.devkit;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import kafka.server.KafkaConfig;
import kafka.server.KafkaRaftServer;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.DescribeClusterOptions;
import org.apache.kafka.clients.admin.ScramCredentialInfo;
import org.apache.kafka.clients.admin.ScramMechanism;
import org.apache.kafka.clients.admin.UserScramCredentialUpsertion;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.utils.Time;
import org.apache.kafka.common.utils.Utils;
import org.apache.kafka.metadata.properties.MetaPropertiesEnsemble;
import org.apache.kafka.metadata.storage.Formatter;
import org.apache.kafka.server.common.MetadataVersion;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A single-node Kafka broker (KRaft, combined broker and controller roles) running in this
 * JVM, listening on 127.0.0.1. Internal topics (consumer offsets, transaction state, share
 * state) use replication factor 1 so that transactions and exactly-once Kafka Streams work.
 *
 * <p>{@link #start} formats the storage, starts the server and returns once the broker
 * answers a describe-cluster call. {@link #close} shuts it down, waits for it, and deletes
 * the data directory when the devkit created it.
 *
 * <p>For fault tests, {@link #stop} shuts the broker down and {@link #restart} starts it again on
 * the same ports and data directory, so clients reconnect to the same address and find their
 * topics, records, committed offsets and transactions where they left them.
 */
public final class EmbeddedKafka implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(EmbeddedKafka.class);
    private static final int NODE_ID = 1;
    private static final String BROKER_LISTENER = "PLAINTEXT";
    private static final String CONTROLLER_LISTENER = "CONTROLLER";
    private static final String SECURED_LISTENER = "SASL_SSL";

    private final KafkaConfig kafkaConfig;
    private final Duration startTimeout;
    private final String bootstrapServers;
    private final Path dataDirectory;
    private final boolean deleteDataOnClose;
    private final Optional<BrokerSecurity> security;
    /** The running server; null while {@link #stop stopped}. */
    private KafkaRaftServer server;
    private boolean closed;

    private EmbeddedKafka(KafkaRaftServer server, KafkaConfig kafkaConfig, Duration startTimeout, String bootstrapServers,
                          Path dataDirectory, boolean deleteDataOnClose, Optional<BrokerSecurity> security) {
        this.server = server;
        this.kafkaConfig = kafkaConfig;
        this.startTimeout = startTimeout;
        this.bootstrapServers = bootstrapServers;
        this.dataDirectory = dataDirectory;
        this.deleteDataOnClose = deleteDataOnClose;
        this.security = security;
    }

    /** Starts a broker with free ports, a temporary data directory and the default settings. */
    public static EmbeddedKafka start() {
        return start(EmbeddedKafkaConfig.defaults());
    }

    /**
     * Starts a broker and waits until it serves requests.
     *
     * @throws PlatformStartException naming the address, data directory and cause when the
     *                                broker cannot start; nothing is left running
     */
    public static EmbeddedKafka start(EmbeddedKafkaConfig config) {
        if (config.port() != 0) {
            LoopbackPorts.requireFree(config.port(), "Kafka broker");
        }
        if (config.controllerPort() != 0) {
            LoopbackPorts.requireFree(config.controllerPort(), "Kafka controller");
        }
        config.dataDirectory()
                .filter(directory -> Files.exists(directory) && !Files.isDirectory(directory))
                .ifPresent(file -> {
                    throw new PlatformStartException("Kafka broker data directory " + file.toAbsolutePath()
                            + " is a file, not a directory");
                });
        int port = LoopbackPorts.resolve(config.port());
        int controllerPort = config.controllerPort() != 0 ? config.controllerPort() : freePortOtherThan(port);
        String bootstrapServers = LoopbackPorts.HOST + ":" + port;
        boolean temporary = config.dataDirectory().isEmpty();
        Path dataDirectory = config.dataDirectory().map(Path::toAbsolutePath).orElseGet(EmbeddedKafka::createTemporaryDirectory);

        KafkaRaftServer server = null;
        try {
            config.security().ifPresent(BrokerSecurity::ensureMaterial);
            KafkaConfig kafkaConfig = new KafkaConfig(brokerProperties(config, port, controllerPort, dataDirectory), false);
            formatStorage(kafkaConfig, dataDirectory, config.security());
            server = new KafkaRaftServer(kafkaConfig, Time.SYSTEM);
            server.startup();
            awaitReady(adminClientProperties(bootstrapServers, config.security()), config.startTimeout());
            LOG.info("Kafka broker ready on {} ({}; data in {})", bootstrapServers, config.security()
                    .map(s -> "SASL_SSL " + BrokerSecurity.MECHANISM + ", ACLs, super user User:" + s.superUser()
                            + ", certificates in " + s.directory())
                    .orElse("PLAINTEXT"), dataDirectory);
            return new EmbeddedKafka(server, kafkaConfig, config.startTimeout(), bootstrapServers, dataDirectory, temporary,
                    config.security());
        } catch (RuntimeException e) {
            stopQuietly(server, e);
            if (temporary) {
                deleteQuietly(dataDirectory, e);
            }
            throw new PlatformStartException("Kafka broker failed to start on " + bootstrapServers
                    + " (controller port " + controllerPort + ", data directory " + dataDirectory + "): "
                    + describe(e), e);
        }
    }

    /** {@code host:port} of the broker, for {@code bootstrap.servers}. */
    public String bootstrapServers() {
        return bootstrapServers;
    }

    public Path dataDirectory() {
        return dataDirectory;
    }

    /** The secured broker's certificates and super user; empty for a PLAINTEXT broker. */
    public Optional<BrokerSecurity> security() {
        return security;
    }

    /**
     * Kafka client properties of the admin principal (the super user on a secured broker):
     * bootstrap servers and, when secured, SASL_SSL with its credentials. Holds a secret: never log it.
     */
    public Map<String, Object> adminClientProperties() {
        return adminClientProperties(bootstrapServers, security);
    }

    private static Map<String, Object> adminClientProperties(String bootstrapServers, Optional<BrokerSecurity> security) {
        Map<String, Object> properties = new LinkedHashMap<>();
        security.ifPresent(s -> properties.putAll(s.kafkaClientProperties(s.superUser(), s.superUserPassword())));
        properties.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        return properties;
    }

    /**
     * Creates (or renews, with the password kept in its file) the SCRAM user {@code name} on this secured broker, as
     * the super user, and returns its Tunestream client settings ({@code sasl.username},
     * {@code sasl.password.file}, truststore; see {@link BrokerSecurity#clientSettings}). The user
     * has no ACL yet: grant it what its role needs.
     *
     * @throws IllegalStateException on a PLAINTEXT broker, or when the broker refuses or does not answer
     */
    public Map<String, String> createScramUser(String name, Duration timeout) {
        BrokerSecurity secured = security.orElseThrow(() -> new IllegalStateException(
                "the broker on " + bootstrapServers + " is not secured: it has no SCRAM users"));
        BrokerSecurity.requireUserName(name);
        // a kept password file is reused: a restarted platform's clients then log in with either the old or
        // the re-salted credential, whichever the broker has applied
        Path passwordFile = secured.passwordFile(name);
        String password = Files.exists(passwordFile) ? BrokerSecurity.readSecret(passwordFile) : BrokerSecurity.randomSecret();
        Map<String, Object> admin = new LinkedHashMap<>(adminClientProperties());
        admin.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, (int) timeout.toMillis());
        admin.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, (int) timeout.toMillis());
        try (Admin client = Admin.create(admin)) {
            client.alterUserScramCredentials(List.of(new UserScramCredentialUpsertion(name,
                            new ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 4096), password)))
                    .all().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
            BrokerSecurity.writeSecret(secured.passwordFile(name), password);
            awaitCredential(client, name, timeout);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while creating SCRAM user " + name, e);
        } catch (ExecutionException | TimeoutException e) {
            throw new IllegalStateException("SCRAM user " + name + " could not be created on " + bootstrapServers
                    + ": " + describe(e), e);
        } catch (IOException e) {
            throw new UncheckedIOException("SCRAM user " + name + " created but its password file "
                    + secured.passwordFile(name) + " could not be written", e);
        }
        return secured.clientSettings(name);
    }

    /** Whether the broker runs: started and not {@link #stop stopped}. */
    public synchronized boolean isRunning() {
        return server != null;
    }

    /**
     * Shuts the broker down (a controlled shutdown: logs flushed, clients see connections refused)
     * and keeps its ports and data directory for {@link #restart}. Idempotent.
     *
     * @throws IllegalStateException when the broker is closed
     */
    public synchronized void stop() {
        requireOpen();
        if (server == null) {
            return;
        }
        server.shutdown();
        server.awaitShutdown();
        server = null;
        LOG.info("Kafka broker on {} stopped (data kept in {} for a restart)", bootstrapServers, dataDirectory);
    }

    /**
     * Starts a {@link #stop stopped} broker again with the same settings, ports and data directory,
     * and returns once it answers a describe-cluster call. Does nothing when it runs.
     *
     * @throws IllegalStateException  when the broker is closed
     * @throws PlatformStartException naming the address and cause when it cannot start; it stays stopped
     */
    public synchronized void restart() {
        requireOpen();
        if (server != null) {
            return;
        }
        KafkaRaftServer restarted = null;
        try {
            restarted = new KafkaRaftServer(kafkaConfig, Time.SYSTEM);
            restarted.startup();
            awaitReady(adminClientProperties(), startTimeout);
        } catch (RuntimeException e) {
            stopQuietly(restarted, e);
            throw new PlatformStartException("Kafka broker failed to restart on " + bootstrapServers
                    + " (data directory " + dataDirectory + "): " + describe(e), e);
        }
        server = restarted;
        LOG.info("Kafka broker restarted on {} (data in {})", bootstrapServers, dataDirectory);
    }

    private void requireOpen() {
        if (closed) {
            throw new IllegalStateException("Kafka broker on " + bootstrapServers + " is closed");
        }
    }

    /** Shuts the broker down, waits for it to stop and deletes a temporary data directory. Idempotent. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (server != null) {
            server.shutdown();
            server.awaitShutdown();
            server = null;
        }
        if (deleteDataOnClose) {
            try {
                Utils.delete(dataDirectory.toFile());
            } catch (IOException e) {
                throw new UncheckedIOException("Kafka broker stopped but its data directory " + dataDirectory
                        + " could not be deleted", e);
            }
        }
        LOG.info("Kafka broker on {} stopped", bootstrapServers);
    }

    /**
     * The controller commits the credential; the broker applies it a moment later. Returns once the
     * broker describes it (it answers from the metadata it applied), so the user can log in.
     */
    private static void awaitCredential(Admin client, String name, Duration timeout)
            throws InterruptedException, ExecutionException, TimeoutException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            try {
                client.describeUserScramCredentials(List.of(name)).description(name)
                        .get(timeout.toMillis(), TimeUnit.MILLISECONDS);
                return;
            } catch (ExecutionException e) {
                if (!(e.getCause() instanceof org.apache.kafka.common.errors.ResourceNotFoundException)
                        || System.nanoTime() > deadline) {
                    throw e;
                }
            }
            Thread.sleep(20);
        }
    }

    static Map<String, String> brokerProperties(EmbeddedKafkaConfig config, int port, int controllerPort, Path dataDirectory) {
        String host = LoopbackPorts.HOST;
        Map<String, String> properties = new LinkedHashMap<>();
        properties.put("process.roles", "broker,controller");
        properties.put("node.id", String.valueOf(NODE_ID));
        // A static single-voter quorum: the voter set lives in the config, not in the metadata
        // log, so a kept data directory can be restarted on other ports.
        properties.put("controller.quorum.voters", NODE_ID + "@" + host + ":" + controllerPort);
        properties.put("controller.listener.names", CONTROLLER_LISTENER);
        properties.put("listeners", BROKER_LISTENER + "://" + host + ":" + port + "," + CONTROLLER_LISTENER + "://" + host + ":" + controllerPort);
        properties.put("advertised.listeners", BROKER_LISTENER + "://" + host + ":" + port);
        properties.put("inter.broker.listener.name", BROKER_LISTENER);
        properties.put("listener.security.protocol.map", BROKER_LISTENER + ":PLAINTEXT," + CONTROLLER_LISTENER + ":PLAINTEXT");
        properties.put("log.dirs", dataDirectory.toString());
        // One node: every internal topic has a single replica.
        properties.put("offsets.topic.replication.factor", "1");
        properties.put("transaction.state.log.replication.factor", "1");
        properties.put("transaction.state.log.min.isr", "1");
        properties.put("share.coordinator.state.topic.replication.factor", "1");
        properties.put("share.coordinator.state.topic.min.isr", "1");
        // Fewer internal partitions than the production 50: they are created on first use,
        // and creating 50 of them is most of a test's first second.
        properties.put("offsets.topic.num.partitions", "5");
        properties.put("transaction.state.log.num.partitions", "5");
        properties.put("share.coordinator.state.topic.num.partitions", "5");
        properties.put("group.initial.rebalance.delay.ms", "0");
        properties.put("message.max.bytes", String.valueOf(config.messageMaxBytes()));
        // Bounds the broker's own wait for the controller during startup (default: forever).
        properties.put("server.max.startup.time.ms", String.valueOf(config.startTimeout().toMillis()));
        // A small machine shared by many test JVMs: few threads, a small log-cleaner buffer
        // (the default allocates 128 MB of heap up front).
        properties.put("num.network.threads", "2");
        properties.put("num.io.threads", "2");
        properties.put("background.threads", "2");
        properties.put("num.recovery.threads.per.data.dir", "1");
        properties.put("log.cleaner.threads", "1");
        properties.put("log.cleaner.dedupe.buffer.size", String.valueOf(4 * 1024 * 1024));
        config.security().ifPresent(security -> properties.putAll(security.brokerProperties(SECURED_LISTENER,
                CONTROLLER_LISTENER, host, port, controllerPort)));
        properties.putAll(config.brokerProperties());
        return properties;
    }

    private static void formatStorage(KafkaConfig kafkaConfig, Path dataDirectory, Optional<BrokerSecurity> security) {
        String directory = dataDirectory.toString();
        // A kept data directory is formatted once; later starts reuse its cluster id.
        Optional<String> existingClusterId;
        try {
            existingClusterId = new MetaPropertiesEnsemble.Loader()
                    .addLogDirs(List.of(directory))
                    .load()
                    .clusterId();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + MetaPropertiesEnsemble.META_PROPERTIES_NAME + " in " + directory, e);
        }
        ByteArrayOutputStream output = new ByteArrayOutputStream();
        Formatter formatter = new Formatter()
                .setPrintStream(new PrintStream(output, true, StandardCharsets.UTF_8))
                .setNodeId(NODE_ID)
                .setClusterId(existingClusterId.orElseGet(() -> Uuid.randomUuid().toString()))
                .setDirectories(List.of(directory))
                .setMetadataLogDirectory(kafkaConfig.metadataLogDir())
                .setControllerListenerName(CONTROLLER_LISTENER)
                .setReleaseVersion(MetadataVersion.latestProduction())
                .setIgnoreFormatted(true);
        // KIP-900: the super user's credential is in the first metadata, before any request arrives
        security.ifPresent(s -> formatter.setScramArguments(List.of(s.scramBootstrapArgument())));
        try {
            formatter.run();
        } catch (Exception e) {
            throw new IllegalStateException("formatting the storage failed: " + describe(e)
                    + formatterOutput(output), e);
        }
        LOG.debug("Formatted {}: {}", directory, output.toString(StandardCharsets.UTF_8).strip());
    }

    private static String formatterOutput(ByteArrayOutputStream output) {
        String text = output.toString(StandardCharsets.UTF_8).strip();
        return text.isEmpty() ? "" : " (formatter said: " + text.replace(System.lineSeparator(), " ") + ")";
    }

    private static void awaitReady(Map<String, Object> clientProperties, Duration timeout) {
        Map<String, Object> adminConfig = new LinkedHashMap<>(clientProperties);
        adminConfig.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, (int) Math.min(Integer.MAX_VALUE, timeout.toMillis()));
        adminConfig.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, (int) Math.min(Integer.MAX_VALUE, timeout.toMillis()));
        try (Admin admin = Admin.create(adminConfig)) {
            admin.describeCluster(new DescribeClusterOptions().timeoutMs((int) Math.min(Integer.MAX_VALUE, timeout.toMillis())))
                    .nodes()
                    .get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for the broker to answer", e);
        } catch (ExecutionException e) {
            throw new IllegalStateException("the broker did not answer a describe-cluster call within " + timeout
                    + ": " + describe(e.getCause()), e.getCause());
        } catch (TimeoutException e) {
            throw new IllegalStateException("the broker did not answer a describe-cluster call within " + timeout, e);
        }
    }

    private static int freePortOtherThan(int port) {
        int candidate = LoopbackPorts.pickFree();
        return candidate != port ? candidate : LoopbackPorts.pickFree();
    }

    private static Path createTemporaryDirectory() {
        try {
            return Files.createTempDirectory("tunestream-kafka-");
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot create a temporary data directory for the Kafka broker", e);
        }
    }

    private static void stopQuietly(KafkaRaftServer server, RuntimeException failure) {
        if (server == null) {
            return;
        }
        try {
            server.shutdown();
            server.awaitShutdown();
        } catch (RuntimeException e) {
            failure.addSuppressed(e);
        }
    }

    private static void deleteQuietly(Path directory, RuntimeException failure) {
        try {
            Utils.delete(directory.toFile());
        } catch (IOException e) {
            failure.addSuppressed(e);
        }
    }

    /** The innermost message worth reading: Kafka wraps causes several levels deep. */
    static String describe(Throwable failure) {
        Throwable cause = failure;
        while (cause.getCause() != null && cause.getCause() != cause) {
            cause = cause.getCause();
        }
        String message = cause.getMessage() != null ? cause.getMessage() : cause.getClass().getName();
        if (cause == failure || failure.getMessage() == null || failure.getMessage().contains(message)) {
            return failure.getMessage() != null ? failure.getMessage() : message;
        }
        return failure.getMessage() + ": " + message;
    }
}

package io.tunestream.local;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.tunestream.devkit.BrokerSecurity;
import io.tunestream.devkit.EmbeddedKafkaConfig;
import io.tunestream.devkit.EmbeddedRegistryConfig;
import io.tunestream.devkit.LocalPlatform;
import io.tunestream.ingest.CliContext;
import io.tunestream.ingest.IngestCli;
import io.tunestream.ingest.template.TemplateFile;
import io.tunestream.ingest.template.TemplateRegistration;
import io.tunestream.model.onnx.RuntimeConfig;
import io.tunestream.schemas.AccessTable;
import io.tunestream.schemas.AccessTable.Role;
import io.tunestream.schemas.Topics;
import io.tunestream.schemas.kafka.AccessGrants;
import io.tunestream.schemas.kafka.KafkaClientConfig;
import io.tunestream.schemas.kafka.KafkaClientSettings;
import io.tunestream.schemas.kafka.KafkaPreflight.KafkaPreflightException;
import io.tunestream.serving.ServingApp;
import io.tunestream.serving.ServingConfig;
import io.tunestream.serving.model.ModelBatchAnswerer;
import io.tunestream.trainer.loop.TrainerLoop;
import io.tunestream.trainer.loop.TrainerMetrics;
import io.tunestream.trainer.loop.TrainerTopics;
import io.tunestream.trainer.run.ModelTaskRunner;
import io.tunestream.trainer.run.SigningTaskRunner;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.errors.TopicAuthorizationException;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The platform on the secured broker (SASL_SSL with SCRAM-SHA-512, TLS, StandardAuthorizer): each
 * service as its own principal with the {@link AccessTable}'s ACLs, and what is refused, refused
 * at start with a message naming the principal or resource.
 */
class SecuredPlatformIT {

    private static final Duration TIMEOUT = Duration.ofSeconds(30);

    @TempDir
    static Path directory;
    static LocalPlatform platform;
    static PlatformPrincipals principals;

    @BeforeAll
    static void start() {
        long started = System.nanoTime();
        platform = LocalPlatform.start(EmbeddedKafkaConfig.defaults()
                        .withSecurity(BrokerSecurity.in(directory.resolve("certificates"))),
                EmbeddedRegistryConfig.defaults());
        principals = PlatformPrincipals.setUp(platform.kafka(), platform.endpoints(), AccessTable.Names.defaults(),
                directory.resolve("clients"), TIMEOUT);
        // as the ingest principal, which may write task-templates
        TemplateRegistration.register(principals.role(Role.INGEST), TemplateFile.read(home().resolve("data/templates.yaml"),
                System.currentTimeMillis()), Clock.systemUTC(), TIMEOUT);
        System.out.printf("secured platform with users and ACLs ready in %d ms%n",
                TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started));
    }

    @AfterAll
    static void stop() {
        if (platform != null) {
            platform.close();
        }
    }

    private static Path home() {
        return Path.of(System.getProperty("tunestream.home", "..")).toAbsolutePath();
    }

    private static BrokerSecurity security() {
        return platform.kafka().security().orElseThrow();
    }

    /** The adapter signing key pair, as ./tunestream local keeps it: the trainer signs, serving trusts it. */
    private static LocalSigningKey signingKey() {
        return LocalSigningKey.in(directory.resolve("keys"));
    }

    /** Serving settings with {@code clientSettings} as its {@code kafka.*} keys. */
    private static Map<String, String> servingSettings(Map<String, String> clientSettings, Path stateDir) {
        Map<String, String> settings = new HashMap<>();
        settings.put("bootstrap.servers", platform.endpoints().bootstrapServers());
        settings.put("registry.url", platform.endpoints().registryUrl());
        settings.put("model.dir", home().resolve("models/demo-gpt2").toString());
        settings.put("state.dir", stateDir.toString());
        settings.put("http.port", "0");
        settings.put("kafka.consumer.session.timeout.ms", "10000");
        settings.put("adapters.trusted.keys", signingKey().trustedKeysSetting());
        clientSettings.forEach((k, v) -> settings.put("kafka." + k, v));
        return settings;
    }

    private record Run(int exitCode, String out, String err) {
    }

    private static Run ingest(Path kafkaConfig, String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        List<String> all = new java.util.ArrayList<>(List.of(args));
        all.addAll(List.of("--bootstrap-servers", platform.endpoints().bootstrapServers(),
                "--registry-url", platform.endpoints().registryUrl(), "--kafka-config", kafkaConfig.toString()));
        int exit = IngestCli.commandLine(new CliContext(new PrintWriter(out, true), new PrintWriter(err, true),
                Clock.systemUTC())).execute(all.toArray(String[]::new));
        return new Run(exit, out.toString(), err.toString());
    }

    private static Set<String> threadNames() {
        return Thread.getAllStackTraces().keySet().stream().filter(Thread::isAlive).map(Thread::getName)
                .collect(Collectors.toSet());
    }

    /** Threads a failed start would leave behind: Kafka clients, stream threads, the model executor. */
    private static Set<String> leftovers(Set<String> before) {
        Set<String> now = threadNames();
        now.removeAll(before);
        return now.stream().filter(n -> n.contains("kafka") || n.contains("StreamThread") || n.contains("tunestream-model")
                || n.contains("producer") || n.contains("adminclient")).collect(Collectors.toSet());
    }

    /** Asks the squad question as the ingest principal, waiting up to {@code timeout} for the answer. */
    private static Run ask(String timeout) {
        return ingest(principals.files().get(Role.INGEST), "ask", "--task", "squad",
                "--field", "context=Kamiro lives in Talenburg.", "--field", "question=Where does Kamiro live?",
                "--timeout", timeout);
    }

    /** The first {@code lines} lines of the squad training set, in a file whose name makes them TRAIN examples. */
    private static Path squadTrainingSlice(Path dir, int lines) throws IOException {
        List<String> slice;
        try (var all = Files.lines(home().resolve("data/squad/train.jsonl"))) {
            slice = all.limit(lines).toList();
        }
        assertThat(slice).hasSize(lines);
        return Files.write(dir.resolve("train-slice.jsonl"), slice);
    }

    /**
     * Issue 15's first required test: serving, trainer and ingest, each as its own principal, answer a request and
     * publish an adapter. The squad template keeps the default trigger (minNewExamples 32), so 40 TRAIN examples
     * start a run at once; trainer and serving load the same model (demo-gpt2), so serving accepts the trainer's
     * fingerprint, and it applies v1 only because the SigningTaskRunner signs it with the key serving trusts.
     */
    @Test
    void servingTrainerAndIngestShouldRunAsTheirPrincipalsAnswerARequestAndPublishASignedAdapter(@TempDir Path state)
            throws Exception {
        Clock clock = Clock.systemUTC();
        Path model = home().resolve("models/demo-gpt2");
        long adaptersBefore = endOffsets(List.of(Topics.ADAPTERS.name())).values().stream().mapToLong(Long::longValue).sum();
        try (ModelBatchAnswerer answerer = ModelBatchAnswerer.load(model, RuntimeConfig.cpu(1));
             ServingApp serving = new ServingApp(ServingConfig.fromMap(servingSettings(
                     security().clientSettings("serving"), state.resolve("serving"))), answerer,
                     new PrometheusMeterRegistry(PrometheusConfig.DEFAULT));
             TrainerLoop trainer = new TrainerLoop(principals.role(Role.TRAINER), "tunestream-trainer",
                     Duration.ofMillis(200), TrainerTopics.standard(),
                     // a few steps: the test is about who may publish and apply, not about the adapter's quality
                     () -> new SigningTaskRunner(ModelTaskRunner.load(model, RuntimeConfig.cpu(1), 5, clock),
                             signingKey().signer()),
                     new TrainerMetrics(new SimpleMeterRegistry()), clock).start()) {
            Run plain = ask("PT90S");

            assertThat(plain.exitCode()).as("ask: %s", plain.err()).isZero();
            assertThat(plain.out()).isNotBlank();
            assertThat(plain.err()).contains("task squad, no adapter (plain template)");
            assertThat(serving.state().isRunningOrRebalancing()).isTrue();
            Awaitility.await().atMost(Duration.ofSeconds(60)).until(trainer::isReady);

            Run examples = ingest(principals.files().get(Role.INGEST), "examples",
                    squadTrainingSlice(state, 40).toString());

            assertThat(examples.exitCode()).as("examples: %s", examples.err()).isZero();
            Awaitility.await("the trainer publishes v1 to adapters").atMost(Duration.ofSeconds(60))
                    .pollInterval(Duration.ofMillis(500))
                    .until(() -> endOffsets(List.of(Topics.ADAPTERS.name())).values().stream()
                            .mapToLong(Long::longValue).sum() > adaptersBefore);
            assertThat(trainer.failure()).isEmpty();
            // serving applies v1 a moment after it is published: ask until an answer names it
            Run adapted = Awaitility.await("an answer with adapter version 1").atMost(Duration.ofSeconds(30))
                    .pollInterval(Duration.ofMillis(500))
                    .until(() -> ask("PT10S"), run -> run.exitCode() == 0 && !run.err().contains("no adapter"));
            assertThat(adapted.err()).contains("task squad, adapter version 1,");
            assertThat(adapted.out()).isNotBlank();
            assertThat(trainer.failure()).isEmpty();
            assertThat(serving.state().isRunningOrRebalancing()).isTrue();
        }
    }

    /** The end offsets of every partition of {@code topics}, read as the admin principal. */
    private static Map<TopicPartition, Long> endOffsets(List<String> topics) throws Exception {
        try (Admin admin = Admin.create(principals.admin().adminProperties())) {
            Map<TopicPartition, org.apache.kafka.clients.admin.OffsetSpec> latest = new HashMap<>();
            admin.describeTopics(topics).allTopicNames().get(15, TimeUnit.SECONDS).values().forEach(d ->
                    d.partitions().forEach(p -> latest.put(new TopicPartition(d.name(), p.partition()),
                            org.apache.kafka.clients.admin.OffsetSpec.latest())));
            return admin.listOffsets(latest).all().get(15, TimeUnit.SECONDS).entrySet().stream()
                    .collect(Collectors.toMap(Map.Entry::getKey, e -> e.getValue().offset()));
        }
    }

    @Test
    void theIngestPrincipalShouldBeRefusedOnAdaptersAndAnswersAndWriteNothing() throws Exception {
        List<String> forbidden = List.of(Topics.ADAPTERS.name(), Topics.ANSWERS.name());
        Map<TopicPartition, Long> before = endOffsets(forbidden);
        Map<String, Object> properties = new LinkedHashMap<>(principals.role(Role.INGEST).producerProperties("ingest-refused"));
        properties.put("key.serializer", ByteArraySerializer.class.getName());
        properties.put("value.serializer", ByteArraySerializer.class.getName());
        properties.put("max.block.ms", 10_000);
        properties.put("delivery.timeout.ms", 10_000);
        properties.put("request.timeout.ms", 5_000);
        for (String topic : forbidden) {
            try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(properties)) {
                Throwable refused = catchThrowable(() -> producer.send(new ProducerRecord<>(topic,
                        "squad".getBytes(StandardCharsets.UTF_8), "forged".getBytes(StandardCharsets.UTF_8)))
                        .get(15, TimeUnit.SECONDS));
                assertThat(refused).as(topic).isInstanceOf(ExecutionException.class)
                        .cause().isInstanceOf(TopicAuthorizationException.class)
                        .hasMessageContaining(topic);
            }
        }
        assertThat(endOffsets(forbidden)).isEqualTo(before);
    }

    @Test
    void aWrongPasswordShouldStopServingAtStartNamingThePrincipal(@TempDir Path state) throws IOException {
        Path wrong = Files.writeString(state.resolve("wrong.password"), "not-the-password");
        Map<String, String> client = new LinkedHashMap<>(security().clientSettings("serving"));
        client.put("sasl.password.file", wrong.toString());
        Set<String> before = threadNames();

        KafkaPreflightException failure = catchThrowableOfType(KafkaPreflightException.class, () -> new ServingApp(
                ServingConfig.fromMap(servingSettings(client, state.resolve("serving"))), null,
                new PrometheusMeterRegistry(PrometheusConfig.DEFAULT)));

        assertThat(failure).hasMessageContaining("Kafka refused to authenticate User:serving")
                .hasMessageContaining("SASL_SSL");
        assertThat(failure.getMessage()).doesNotContain("not-the-password");
        Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> leftovers(before).isEmpty());
    }

    @Test
    void anUntrustedCertificateShouldStopIngestAtStartNamingThePrincipal() throws IOException {
        BrokerSecurity other = BrokerSecurity.in(directory.resolve("other-certificates")).ensureMaterial();
        Map<String, String> client = new LinkedHashMap<>(security().clientSettings("ingest"));
        client.put("ssl.truststore.location", other.truststore().toString());
        client.put("ssl.truststore.password.file", other.truststorePasswordFile().toString());
        java.util.Properties file = new java.util.Properties();
        file.putAll(client);
        Path config = directory.resolve("untrusting.properties");
        try (var writer = Files.newBufferedWriter(config)) {
            file.store(writer, null);
        }

        Run run = ingest(config, "answers", "--max", "1", "--idle-timeout", "PT5S");

        assertThat(run.exitCode()).isNotZero();
        assertThat(run.err()).contains("Kafka refused to authenticate User:ingest").contains("SSL handshake failed");
    }

    @Test
    void aMissingAclShouldStopServingAtStartNamingTheResource(@TempDir Path state) throws Exception {
        Map<String, String> client = platform.kafka().createScramUser("serving-partial", TIMEOUT);
        try (Admin admin = Admin.create(principals.admin().adminProperties())) {
            List<AclBinding> granted = AccessGrants.grant(admin, Role.SERVING, "User:serving-partial",
                    AccessTable.Names.defaults(), TIMEOUT);
            admin.deleteAcls(granted.stream().filter(b -> b.pattern().name().equals(Topics.ADAPTERS.name())
                    && b.entry().operation() == AclOperation.READ).map(AclBinding::toFilter).toList())
                    .all().get(15, TimeUnit.SECONDS);
            // the broker applies the deletion a moment after the controller commits it
            Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> admin.describeAcls(
                    new org.apache.kafka.common.acl.AclBindingFilter(new org.apache.kafka.common.resource.ResourcePatternFilter(
                            org.apache.kafka.common.resource.ResourceType.TOPIC, Topics.ADAPTERS.name(),
                            org.apache.kafka.common.resource.PatternType.LITERAL),
                            new org.apache.kafka.common.acl.AccessControlEntryFilter("User:serving-partial", null,
                                    AclOperation.READ, org.apache.kafka.common.acl.AclPermissionType.ANY)))
                    .values().get(15, TimeUnit.SECONDS).isEmpty());
        }
        Set<String> before = threadNames();

        KafkaPreflightException failure = catchThrowableOfType(KafkaPreflightException.class, () -> new ServingApp(
                ServingConfig.fromMap(servingSettings(client, state)), null,
                new PrometheusMeterRegistry(PrometheusConfig.DEFAULT)));

        assertThat(failure).hasMessageContaining("Kafka preflight failed for User:serving-partial")
                .hasMessageContaining("not authorized: READ on topic adapters");
        Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> leftovers(before).isEmpty());
    }

    @Test
    void ingestSetupAsTheAdminShouldGrantARoleFromTheTable() throws Exception {
        Run setup = ingest(principals.files().get(Role.ADMIN), "setup", "--grant", "keda=User:keda-operator");

        assertThat(setup.exitCode()).as(setup.err()).isZero();
        assertThat(setup.out()).contains("User:keda-operator   granted  3 ACLs (keda)");
        try (Admin admin = Admin.create(principals.admin().adminProperties())) {
            var acls = admin.describeAcls(new org.apache.kafka.common.acl.AclBindingFilter(
                    org.apache.kafka.common.resource.ResourcePatternFilter.ANY,
                    new org.apache.kafka.common.acl.AccessControlEntryFilter("User:keda-operator", null,
                            AclOperation.ANY, org.apache.kafka.common.acl.AclPermissionType.ANY)))
                    .values().get(15, TimeUnit.SECONDS);
            assertThat(acls).extracting(b -> b.entry().operation()).containsOnly(AclOperation.DESCRIBE).hasSize(3);
        }
    }

    @Test
    void theIngestPrincipalShouldNotRunSetup() {
        Run setup = ingest(principals.files().get(Role.INGEST), "setup", "--timeout", "PT10S");

        assertThat(setup.exitCode()).isNotZero();
        assertThat(setup.err()).contains("setup failed").contains("Authorization");
    }

    @Test
    void servingShouldStopRatherThanReplaceItsThreadsWhenItsWriteAclIsRevoked(@TempDir Path state) throws Exception {
        Map<String, String> client = platform.kafka().createScramUser("serving-revoked", TIMEOUT);
        AccessTable.Names names = new AccessTable.Names("", "serving-revoked-app", "", "");
        Map<String, String> settings = servingSettings(client, state);
        settings.put("application.id", names.servingApplicationId());
        try (Admin admin = Admin.create(principals.admin().adminProperties());
             ModelBatchAnswerer answerer = ModelBatchAnswerer.load(home().resolve("models/demo-gpt2"), RuntimeConfig.cpu(1))) {
            List<AclBinding> granted = AccessGrants.grant(admin, Role.SERVING, "User:serving-revoked", names, TIMEOUT);
            try (ServingApp serving = new ServingApp(ServingConfig.fromMap(settings), answerer,
                    new PrometheusMeterRegistry(PrometheusConfig.DEFAULT))) {
                Awaitility.await().atMost(Duration.ofSeconds(60))
                        .until(() -> serving.state() == org.apache.kafka.streams.KafkaStreams.State.RUNNING);
                admin.deleteAcls(granted.stream().filter(b -> b.pattern().name().equals(Topics.ANSWERS.name()))
                        .map(AclBinding::toFilter).toList()).all().get(15, TimeUnit.SECONDS);
                // a request the app must answer, which it may no longer write
                Run ask = ingest(principals.files().get(Role.INGEST), "ask", "--task", "squad", "--field", "context=c",
                        "--field", "question=q", "--timeout", "PT1S");
                assertThat(ask.err()).as("the request is sent, its answer cannot be").contains(" sent, waiting up to ");

                Awaitility.await().atMost(Duration.ofSeconds(60))
                        .until(() -> serving.state() == org.apache.kafka.streams.KafkaStreams.State.ERROR);
            }
        }
    }

    @Test
    void printedClientFilesShouldHoldNoSecret() throws IOException {
        for (Path file : principals.files().values()) {
            String text = Files.readString(file);
            assertThat(text).contains("sasl.password.file").doesNotContain("sasl.password=")
                    .doesNotContain("ssl.truststore.password=");
            assertThat(KafkaClientSettings.fromFile(file, file.toString()).protocol()).isEqualTo("SASL_SSL");
        }
        assertThat(principals.files()).containsKeys(Role.SERVING, Role.TRAINER, Role.INGEST, Role.KEDA, Role.ADMIN);
    }
}

package io.tunestream.local;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.tunestream.devkit.BrokerSecurity;
import io.tunestream.devkit.EmbeddedKafkaConfig;
import io.tunestream.devkit.EmbeddedRegistryConfig;
import io.tunestream.devkit.LocalPlatform;
import io.tunestream.devkit.PlatformEndpoints;
import io.tunestream.ingest.template.TemplateFile;
import io.tunestream.ingest.template.TemplateRegistration;
import io.tunestream.model.onnx.ExecutionProvider;
import io.tunestream.model.onnx.RuntimeConfig;
import io.tunestream.schemas.TaskTemplate;
import io.tunestream.schemas.AccessTable;
import io.tunestream.schemas.kafka.KafkaClientConfig;
import io.tunestream.serving.ServingApp;
import io.tunestream.serving.ServingConfig;
import io.tunestream.serving.model.ModelBatchAnswerer;
import io.tunestream.trainer.loop.TrainerLoop;
import io.tunestream.trainer.loop.TrainerMetrics;
import io.tunestream.trainer.loop.TrainerTopics;
import io.tunestream.trainer.run.ModelTaskRunner;
import io.tunestream.trainer.run.SigningTaskRunner;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The whole platform in one JVM, for a laptop: an embedded KRaft broker and an Apicurio Registry,
 * every topic and schema, the task templates of {@code data/templates.yaml}, the serving app on the
 * default model and the trainer loop. Everything binds to 127.0.0.1 and stops on Ctrl-C, in the
 * reverse order of starting.
 *
 * <p>This is the composition root of {@code ./tunestream local}; the services' own mains (serving,
 * the Quarkus trainer) are what a deployment runs.
 */
@Command(name = "tunestream local", mixinStandardHelpOptions = true,
        description = "Runs broker, registry, serving and trainer on 127.0.0.1 until Ctrl-C.")
public final class LocalTunestream implements Callable<Integer> {

    // not static: main chooses the logback configuration before the first logger exists
    private final Logger log = LoggerFactory.getLogger(LocalTunestream.class);

    @Option(names = "--kafka-port", defaultValue = "9092", description = "Kafka port, 0 for a free one (default: ${DEFAULT-VALUE}).")
    int kafkaPort;

    @Option(names = "--registry-port", defaultValue = "8080", description = "Apicurio Registry port, 0 for a free one (default: ${DEFAULT-VALUE}).")
    int registryPort;

    @Option(names = "--serving-port", defaultValue = "8081", description = "Serving metrics and health port (default: ${DEFAULT-VALUE}).")
    int servingPort;

    @Option(names = "--model-dir", defaultValue = "models/demo-gpt2", description = "Model to serve and tune (default: ${DEFAULT-VALUE}).")
    Path modelDir;

    @Option(names = "--templates", defaultValue = "data/templates.yaml", description = "Task templates registered at start (default: ${DEFAULT-VALUE}).")
    Path templates;

    @Option(names = "--data-dir", description = "Broker data and service state, kept across runs "
            + "(default: .tunestream, or .tunestream-secure with --secure).")
    Path dataDir;

    @Option(names = "--secure", description = "Secured broker on its own data dir: SASL_SSL (SCRAM-SHA-512, TLS) with "
            + "ACLs; one user per service with least privilege; client settings written to <data-dir>/clients.")
    boolean secure;

    @Option(names = "--execution-provider", defaultValue = "CPU", description = "CPU or CUDA (default: ${DEFAULT-VALUE}).")
    ExecutionProvider provider;

    @Option(names = "--batch-size", defaultValue = "8", description = "Largest serving batch (default: ${DEFAULT-VALUE}).")
    int batchSize;

    @Option(names = "--no-trainer", description = "Serve only; do not run the trainer.")
    boolean noTrainer;

    public static void main(String[] args) {
        System.exit(new CommandLine(new LocalTunestream()).execute(args));
    }

    @Override
    public Integer call() throws IOException, InterruptedException {
        // Everything started is closed on the way out, last started first.
        Deque<AutoCloseable> started = new ArrayDeque<>();
        CountDownLatch stop = stopOnExit(started);
        Running running = start(started);
        printBanner(running);
        stop.await();
        return 0;
    }

    /** What {@link #start} brought up, for the banner and for commands that drive the platform (the demo). */
    record Running(PlatformEndpoints endpoints, PlatformPrincipals principals, List<TaskTemplate> templates,
                   ServingApp serving) {
    }

    /** A latch released by the JVM's shutdown (Ctrl-C), after closing everything in {@code started}. */
    CountDownLatch stopOnExit(Deque<AutoCloseable> started) {
        CountDownLatch stop = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            stop.countDown();
            closeAll(started);
        }, "tunestream-local-stop"));
        return stop;
    }

    /** The data directory: --data-dir, else the default of the mode. */
    Path dataDirectory() {
        return dataDir != null ? dataDir : Path.of(secure ? ".tunestream-secure" : ".tunestream");
    }

    /**
     * Starts broker, registry, topics and schemas, the templates, serving and (unless --no-trainer) the
     * trainer, pushing each onto {@code started} (the caller closes them, last first).
     */
    Running start(Deque<AutoCloseable> started) throws IOException, InterruptedException {
        if (!Files.isDirectory(modelDir)) {
            throw new CommandLine.ParameterException(new CommandLine(this),
                    "--model-dir " + modelDir.toAbsolutePath() + " is not a directory");
        }
        if (!Files.isRegularFile(templates)) {
            throw new CommandLine.ParameterException(new CommandLine(this),
                    "--templates " + templates.toAbsolutePath() + " is not a file");
        }
        Path data = dataDirectory();
        EmbeddedKafkaConfig kafkaConfig = EmbeddedKafkaConfig.defaults().withPort(kafkaPort)
                .withDataDirectory(data.resolve("kafka"));
        if (secure) {
            kafkaConfig = kafkaConfig.withSecurity(BrokerSecurity.in(data.resolve("certificates")));
        }
        LocalPlatform platform = LocalPlatform.start(kafkaConfig,
                EmbeddedRegistryConfig.defaults().withPort(registryPort).withLogDirectory(data.resolve("registry")));
        started.push(platform);
        PlatformEndpoints endpoints = platform.endpoints();
        // setup as the admin principal first: the services only check their topics, schemas and ACLs
        PlatformPrincipals principals = PlatformPrincipals.setUp(platform.kafka(), endpoints,
                AccessTable.Names.defaults(), data.resolve("clients"), Duration.ofSeconds(30));
        log.info("topics and schemas ready; Kafka principals: {}", principals.roles().entrySet().stream()
                .map(e -> e.getKey() + " " + e.getValue().client().describe()).sorted().toList());
        KafkaClientConfig ingest = principals.role(AccessTable.Role.INGEST);
        List<TaskTemplate> taskTemplates = TemplateFile.read(templates, System.currentTimeMillis());
        TemplateRegistration.register(ingest, taskTemplates, Clock.systemUTC(), Duration.ofSeconds(30));
        log.info("registered {} task templates from {}", taskTemplates.size(), templates);

        RuntimeConfig runtime = new RuntimeConfig(provider, 0, 0, 0, 0);
        ModelBatchAnswerer answerer = ModelBatchAnswerer.load(modelDir, runtime);
        started.push(answerer);
        Map<String, String> servingSettings = new HashMap<>();
        servingSettings.put("bootstrap.servers", endpoints.bootstrapServers());
        servingSettings.put("registry.url", endpoints.registryUrl());
        servingSettings.put("model.dir", modelDir.toString());
        servingSettings.put("execution.provider", provider.name());
        servingSettings.put("batch.max.size", Integer.toString(batchSize));
        servingSettings.put("state.dir", data.resolve("serving").toString());
        platform.kafka().security().ifPresent(s -> s.clientSettings(PlatformPrincipals.userName(AccessTable.Role.SERVING))
                .forEach((key, value) -> servingSettings.put("kafka." + key, value)));
        servingSettings.put("http.port", Integer.toString(servingPort));
        // adapters verified as in production: the local trainer signs with a key pair kept in the data dir
        LocalSigningKey signingKey = LocalSigningKey.in(data.resolve("keys"));
        servingSettings.put("adapters.trusted.keys", signingKey.trustedKeysSetting());
        ServingApp serving = new ServingApp(ServingConfig.fromMap(servingSettings), answerer,
                new PrometheusMeterRegistry(PrometheusConfig.DEFAULT));
        started.push(serving);

        if (!noTrainer) {
            Clock clock = Clock.systemUTC();
            TrainerLoop trainer = new TrainerLoop(principals.role(AccessTable.Role.TRAINER), "tunestream-trainer", Duration.ofMillis(500),
                    TrainerTopics.standard(),
                    () -> new SigningTaskRunner(ModelTaskRunner.load(modelDir, runtime, 20_000, clock),
                            signingKey.signer()),
                    new TrainerMetrics(new SimpleMeterRegistry()), clock).start();
            started.push(trainer);
        }

        return new Running(endpoints, principals, taskTemplates, serving);
    }

    /** Where everything runs and what to try next. */
    void printBanner(Running running) {
        PlatformEndpoints endpoints = running.endpoints();
        PlatformPrincipals principals = running.principals();
        List<TaskTemplate> taskTemplates = running.templates();
        ServingApp serving = running.serving();
        System.out.printf("""

                Tunestream is running on this machine.
                  Kafka bootstrap servers  %s
                  Apicurio Registry        %s
                  serving                  model %s, metrics http://127.0.0.1:%d/metrics, health /health/ready
                  trainer                  %s
                  tasks                    %s (from %s)

                %sIn another terminal:
                  %s./tunestream ingest ask --task squad --field context="Kamiro lives in Talenburg." --field question="Where does Kamiro live?"
                  ./tunestream ingest examples data/squad/train.jsonl      # the trainer tunes squad and publishes an adapter
                  ./tunestream ingest requests data/squad/validation.jsonl --output answers.jsonl
                  ./tunestream ingest answers                               # follow every answer

                Ctrl-C stops everything.
                """, endpoints.bootstrapServers() + (secure ? " (SASL_SSL, SCRAM-SHA-512, ACLs)" : ""),
                endpoints.registryUrl(), modelDir, serving.opsPort(),
                noTrainer ? "off" : "on (publishes adapters when a run beats the serving version)",
                taskTemplates.stream().map(TaskTemplate::getTask).toList(), templates, clientFiles(principals),
                secure ? "export TUNESTREAM_KAFKA_CONFIG=" + principals.files().get(AccessTable.Role.INGEST) + "\n  " : "");
    }

    /** The client-settings files handed out per principal, for the banner (empty when not secured). */
    private static String clientFiles(PlatformPrincipals principals) {
        if (principals.files().isEmpty()) {
            return "";
        }
        StringBuilder text = new StringBuilder("Kafka client settings per principal (TUNESTREAM_KAFKA_CONFIG / --kafka-config):\n");
        principals.files().entrySet().stream().sorted(Map.Entry.comparingByKey()).forEach(e -> text.append(
                String.format("  %-24s %s (%s)%n", e.getKey().name().toLowerCase(java.util.Locale.ROOT),
                        e.getValue(), principals.role(e.getKey()).client().principal())));
        return text.append(System.lineSeparator()).toString();
    }

    private void closeAll(Deque<AutoCloseable> started) {
        while (!started.isEmpty()) {
            AutoCloseable next = started.pop();
            try {
                next.close();
            } catch (Exception e) {
                log.warn("closing {} failed", next.getClass().getSimpleName(), e);
            }
        }
    }
}

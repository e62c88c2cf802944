package io.tunestream.trainer.service;

import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import io.tunestream.schemas.adapters.AdapterSigner;
import io.tunestream.schemas.kafka.KafkaClientConfig;
import io.tunestream.schemas.kafka.KafkaClientSettings;
import io.tunestream.schemas.registry.RegistryConfig;
import io.tunestream.schemas.http.BearerToken;
import io.tunestream.trainer.TrainerSettings;
import io.tunestream.trainer.api.GroupTaskOwners;
import io.tunestream.trainer.api.TaskOwners;
import io.tunestream.trainer.loop.RunPhase;
import io.tunestream.trainer.loop.TrainerLoop;
import io.tunestream.trainer.loop.TrainerMetrics;
import io.tunestream.trainer.loop.TrainerTopics;
import io.tunestream.trainer.run.ModelTaskRunner;
import io.tunestream.trainer.run.SigningTaskRunner;
import io.tunestream.trainer.run.TaskRunner;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Map;
import java.util.Optional;
import org.apache.kafka.clients.admin.Admin;
import org.jboss.logging.Logger;

/**
 * The Quarkus shell around the trainer core: validates the configuration and starts the
 * {@link TrainerLoop} at start-up (the model loads on the loop's thread, so start-up does not wait
 * for it: readiness does), stops it at shutdown.
 */
@ApplicationScoped
public class TrainerService {

    private static final Logger LOG = Logger.getLogger(TrainerService.class);

    private final TrainerConfig config;
    private final MeterRegistry registry;
    private volatile TrainerLoop loop;
    private volatile Optional<BearerToken> apiToken = Optional.empty();
    private volatile Admin admin;
    private volatile TaskOwners owners;

    public TrainerService(TrainerConfig config, MeterRegistry registry) {
        this.config = config;
        this.registry = registry;
    }

    void onStart(@Observes StartupEvent event) {
        TrainerSettings settings = settings(config);
        // TUNESTREAM_KAFKA_CONFIG and TUNESTREAM_KAFKA_SECURITY_PROTOCOL, _SASL_*, _SSL_*: as serving and ingest read them
        KafkaClientConfig kafka = new KafkaClientConfig(settings.bootstrapServers(), registry(config),
                KafkaClientSettings.load(Map.of(), System.getenv()));
        LOG.infof("trainer starting: Kafka %s, registry %s, model %s on %s, group %s, replica %s", kafka.describe(),
                kafka.registry().describe(), settings.modelDir(), settings.executionProvider(), settings.groupId(),
                settings.replicaId());
        apiToken = apiToken(config);
        if (apiToken.isEmpty()) {
            LOG.warn("no API token (TUNESTREAM_TRAINER_API_TOKEN_FILE or TUNESTREAM_TRAINER_API_TOKEN): the REST API at"
                    + " /api accepts every request");
        }
        admin = Admin.create(kafka.adminProperties());
        owners = new GroupTaskOwners(admin, config.apiTimeout());
        Clock clock = Clock.systemUTC();
        Optional<AdapterSigner> signer = signer(config);
        if (signer.isPresent()) {
            LOG.infof("adapter versions signed with key '%s'", signer.get().keyId());
        } else {
            LOG.warn("no adapter signing key (tunestream.adapters-signing-key): versions are published unsigned,"
                    + " and a serving app verifying signatures refuses them");
        }
        loop = new TrainerLoop(kafka, settings.loop().withKeptVersions(config.keptVersions()), new TrainerTopics(settings.topicPrefix()),
                () -> signed(ModelTaskRunner.load(settings.modelDir(), settings.runtime(), settings.maxStepsPerRun(),
                        clock), signer),
                new TrainerMetrics(registry), clock, RunPhase.Listener.NONE).start();
    }

    void onStop(@Observes ShutdownEvent event) {
        TrainerLoop running = loop;
        if (running != null) {
            running.close();
        }
        Admin client = admin;
        if (client != null) {
            client.close(java.time.Duration.ofSeconds(5));
        }
    }

    /** The loop, once started. */
    public TrainerLoop loop() {
        return loop;
    }

    /** The token the REST API requires, read at start; empty: the API is open. */
    public Optional<BearerToken> apiToken() {
        return apiToken;
    }

    /** Who owns which task, from the group (an admin client the service closes at shutdown). */
    public TaskOwners owners() {
        TaskOwners lookup = owners;
        if (lookup == null) {
            throw new io.tunestream.trainer.api.ApiError(503, "UNAVAILABLE", null, "the trainer has not started yet");
        }
        return lookup;
    }

    /** How long an API request waits for the loop. */
    public java.time.Duration apiTimeout() {
        return config.apiTimeout();
    }

    /**
     * The API's token from {@code tunestream.api-token} or {@code tunestream.api-token-file} (read now, so an
     * unreadable or empty file stops the start); both set stops it too.
     */
    static Optional<BearerToken> apiToken(TrainerConfig config) {
        Optional<String> token = config.apiToken().filter(t -> !t.isBlank());
        Optional<String> file = config.apiTokenFile().filter(f -> !f.isBlank());
        if (token.isPresent() && file.isPresent()) {
            throw new IllegalArgumentException("set tunestream.api-token (TUNESTREAM_TRAINER_API_TOKEN) or "
                    + "tunestream.api-token-file (TUNESTREAM_TRAINER_API_TOKEN_FILE), not both");
        }
        return token.map(BearerToken::of).or(() -> file.map(f -> BearerToken.fromFile(Path.of(f))));
    }

    /** The registry client of the {@code tunestream.registry-*} settings (secrets resolved: do not log it). */
    static RegistryConfig registry(TrainerConfig config) {
        Map<String, String> settings = new java.util.HashMap<>();
        config.registryAutoRegister().ifPresent(v -> settings.put(RegistryConfig.AUTO_REGISTER, v));
        config.registryAuthTokenEndpoint().ifPresent(v -> settings.put(RegistryConfig.TOKEN_ENDPOINT, v));
        config.registryAuthClientId().ifPresent(v -> settings.put(RegistryConfig.CLIENT_ID, v));
        config.registryAuthClientSecret().ifPresent(v -> settings.put(RegistryConfig.CLIENT_SECRET, v));
        config.registryAuthClientSecretFile().ifPresent(v -> settings.put(RegistryConfig.CLIENT_SECRET_FILE, v));
        config.registryAuthScope().ifPresent(v -> settings.put(RegistryConfig.SCOPE, v));
        return RegistryConfig.fromSettings(config.registryUrl(), settings);
    }

    /**
     * The signer of the configured key, read now so a missing or bad key file stops the start; empty when
     * neither the key nor its id is set.
     */
    static Optional<AdapterSigner> signer(TrainerConfig config) {
        Optional<String> key = config.adaptersSigningKey().filter(k -> !k.isBlank());
        Optional<String> keyId = config.adaptersSigningKeyId().filter(k -> !k.isBlank());
        if (key.isEmpty() && keyId.isEmpty()) {
            return Optional.empty();
        }
        if (key.isEmpty() || keyId.isEmpty()) {
            throw new IllegalArgumentException("set both tunestream.adapters-signing-key (TUNESTREAM_ADAPTERS_SIGNING_KEY)"
                    + " and tunestream.adapters-signing-key-id (TUNESTREAM_ADAPTERS_SIGNING_KEY_ID), or neither; only "
                    + (key.isPresent() ? "the key" : "the key id") + " is set");
        }
        return Optional.of(AdapterSigner.fromFile(keyId.get(), Path.of(key.get())));
    }

    private static TaskRunner signed(ModelTaskRunner runner, Optional<AdapterSigner> signer) {
        return signer.<TaskRunner>map(s -> new SigningTaskRunner(runner, s)).orElse(runner);
    }

    /** The core's settings from the Quarkus configuration, validated. */
    static TrainerSettings settings(TrainerConfig config) {
        Path modelDir = config.home().map(home -> Path.of(home).resolve(config.modelDir()))
                .orElse(Path.of(config.modelDir()));
        return new TrainerSettings(config.bootstrapServers(), config.registryUrl(), modelDir,
                TrainerSettings.provider(config.executionProvider()), config.cudaDeviceId(), config.threads(),
                config.groupId(), config.pollTimeout(), config.maxStepsPerRun(), config.topicsPrefix().orElse(""),
                config.maxExamplesPerTask(), config.retryBackoffMax(), replicaId(config, System.getenv()),
                config.parallelRuns(), config.sessionTimeout(), config.transactionTimeout());
    }

    /** The configured replica id, else the pod name ({@code HOSTNAME}), else the one replica {@code 0}. */
    static String replicaId(TrainerConfig config, Map<String, String> env) {
        if (config.replicaId().isPresent()) {
            return config.replicaId().get();
        }
        String host = env.get("HOSTNAME");
        if (host != null && !host.isBlank()) {
            return host;
        }
        LOG.infof("neither TUNESTREAM_TRAINER_REPLICA_ID nor HOSTNAME is set: replica id %s (one replica only)",
                io.tunestream.trainer.loop.LoopSettings.DEFAULT_REPLICA_ID);
        return io.tunestream.trainer.loop.LoopSettings.DEFAULT_REPLICA_ID;
    }
}

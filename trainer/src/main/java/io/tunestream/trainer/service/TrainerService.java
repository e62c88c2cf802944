package io.tunestream.trainer.service;

import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import io.tunestream.schemas.kafka.KafkaClientConfig;
import io.tunestream.schemas.kafka.KafkaClientSettings;
import io.tunestream.schemas.registry.RegistryConfig;
import io.tunestream.trainer.TrainerSettings;
import io.tunestream.trainer.loop.RunPhase;
import io.tunestream.trainer.loop.TrainerLoop;
import io.tunestream.trainer.loop.TrainerMetrics;
import io.tunestream.trainer.loop.TrainerTopics;
import io.tunestream.trainer.run.ModelTaskRunner;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Map;
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

    public TrainerService(TrainerConfig config, MeterRegistry registry) {
        this.config = config;
        this.registry = registry;
    }

    void onStart(@Observes StartupEvent event) {
        TrainerSettings settings = settings(config);
        // TUNESTREAM_KAFKA_CONFIG and TUNESTREAM_KAFKA_SECURITY_PROTOCOL, _SASL_*, _SSL_*: as serving and ingest read them
        KafkaClientConfig kafka = new KafkaClientConfig(settings.bootstrapServers(),
                RegistryConfig.forRegistry(settings.registryUrl()), KafkaClientSettings.load(Map.of(), System.getenv()));
        LOG.infof("trainer starting: Kafka %s, registry %s, model %s on %s, group %s, replica %s", kafka.describe(),
                settings.registryUrl(), settings.modelDir(), settings.executionProvider(), settings.groupId(),
                settings.replicaId());
        Clock clock = Clock.systemUTC();
        loop = new TrainerLoop(kafka, settings.loop(), new TrainerTopics(settings.topicPrefix()),
                () -> ModelTaskRunner.load(settings.modelDir(), settings.runtime(), settings.maxStepsPerRun(), clock),
                new TrainerMetrics(registry), clock, RunPhase.Listener.NONE).start();
    }

    void onStop(@Observes ShutdownEvent event) {
        TrainerLoop running = loop;
        if (running != null) {
            running.close();
        }
    }

    /** The loop, once started. */
    public TrainerLoop loop() {
        return loop;
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

package io.tunestream.trainer.service;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import java.time.Duration;
import java.util.Optional;

/**
 * The trainer's configuration ({@code tunestream.*} in application.properties, where each key is
 * mapped to its {@code TUNESTREAM_*} environment variable, as the serving app reads them).
 * Validated at start by {@link io.tunestream.trainer.TrainerSettings}.
 */
@ConfigMapping(prefix = "tunestream")
public interface TrainerConfig {

    /** Kafka bootstrap servers ({@code TUNESTREAM_BOOTSTRAP_SERVERS}). */
    String bootstrapServers();

    /** Apicurio Registry base URL or v3 API URL ({@code TUNESTREAM_REGISTRY_URL}). */
    String registryUrl();

    /** Directory of the frozen model ({@code TUNESTREAM_MODEL_DIR}); a relative one is resolved against {@link #home()}. */
    String modelDir();

    /**
     * The Tunestream checkout or install root ({@code TUNESTREAM_HOME}; the build passes it to every
     * test JVM as {@code tunestream.home}); relative model directories are resolved against it, or
     * against the working directory when it is not set.
     */
    Optional<String> home();

    /** CPU or CUDA ({@code TUNESTREAM_EXECUTION_PROVIDER}). */
    @WithDefault("CPU")
    String executionProvider();

    /** CUDA device ordinal ({@code TUNESTREAM_CUDA_DEVICE_ID}). */
    @WithDefault("0")
    int cudaDeviceId();

    /** ONNX Runtime intra-op threads, 0 for one per core ({@code TUNESTREAM_THREADS}). */
    @WithDefault("0")
    int threads();

    /** Consumer group and prefix of client and transactional ids ({@code TUNESTREAM_TRAINER_GROUP_ID}). */
    @WithDefault("tunestream-trainer")
    String groupId();

    /** Longest wait of one poll ({@code TUNESTREAM_TRAINER_POLL_TIMEOUT}). */
    @WithDefault("PT0.5S")
    Duration pollTimeout();

    /** Safety bound on optimizer steps in one run ({@code TUNESTREAM_TRAINER_MAX_STEPS_PER_RUN}). */
    @WithDefault("2000")
    long maxStepsPerRun();

    /**
     * Newest examples kept in memory per task and split, TRAIN and VALIDATION
     * ({@code TUNESTREAM_TRAINER_MAX_EXAMPLES_PER_TASK}); older ones stay on the topic.
     */
    @WithDefault("10000")
    int maxExamplesPerTask();

    /**
     * Longest wait between two attempts to read on after a transient failure, the registry unreachable
     * or a write not acknowledged ({@code TUNESTREAM_TRAINER_RETRY_BACKOFF_MAX}).
     */
    @WithDefault("PT10S")
    Duration retryBackoffMax();

    /**
     * This replica's stable name ({@code TUNESTREAM_TRAINER_REPLICA_ID}): its static group membership
     * ({@code group.instance.id}) and the suffix of its transactional ids. Default: {@code HOSTNAME} (the
     * StatefulSet pod name, e.g. {@code trainer-0}), else {@code 0}. Two running replicas must never share it.
     */
    Optional<String> replicaId();

    /** Runs of different tasks one replica trains at once ({@code TUNESTREAM_TRAINER_PARALLEL_RUNS}). */
    @WithDefault("1")
    int parallelRuns();

    /**
     * How long the group waits for a silent replica before giving its tasks to the others
     * ({@code TUNESTREAM_TRAINER_SESSION_TIMEOUT}); a replica restarted within it keeps its tasks.
     */
    @WithDefault("PT30S")
    Duration sessionTimeout();

    /**
     * How long the broker keeps a transaction of a replica that died open before aborting it
     * ({@code TUNESTREAM_TRAINER_TRANSACTION_TIMEOUT}): until then read_committed readers of its topics and the
     * new owner of its tasks wait; a restarted replica aborts it at once.
     */
    @WithDefault("PT60S")
    Duration transactionTimeout();

    /** Put in front of every topic name ({@code TUNESTREAM_TOPICS_PREFIX}). */
    Optional<String> topicsPrefix();

    /**
     * The Ed25519 private key every published adapter version is signed with
     * ({@code TUNESTREAM_ADAPTERS_SIGNING_KEY}: a PKCS#8 PEM or raw 32-byte file); set together with
     * {@link #adaptersSigningKeyId()}. Unset: versions are published unsigned (a warning at start), and a
     * serving app verifying signatures refuses them.
     */
    Optional<String> adaptersSigningKey();

    /** The id serving trusts the matching public key under ({@code TUNESTREAM_ADAPTERS_SIGNING_KEY_ID}). */
    Optional<String> adaptersSigningKeyId();

    /** Whether serializers register missing schemas ({@code TUNESTREAM_REGISTRY_AUTO_REGISTER}; default false). */
    Optional<String> registryAutoRegister();

    /** OIDC token endpoint of a registry requiring authentication ({@code TUNESTREAM_REGISTRY_AUTH_TOKEN_ENDPOINT}). */
    Optional<String> registryAuthTokenEndpoint();

    /** The trainer's registry client id ({@code TUNESTREAM_REGISTRY_AUTH_CLIENT_ID}). */
    Optional<String> registryAuthClientId();

    /** Its secret ({@code TUNESTREAM_REGISTRY_AUTH_CLIENT_SECRET}); or the file below. */
    Optional<String> registryAuthClientSecret();

    /** A file holding the secret ({@code TUNESTREAM_REGISTRY_AUTH_CLIENT_SECRET_FILE}). */
    Optional<String> registryAuthClientSecretFile();

    /** Scope asked for with the token ({@code TUNESTREAM_REGISTRY_AUTH_SCOPE}). */
    Optional<String> registryAuthScope();

    /**
     * Adapter versions kept per task on {@code adapter-history} for rollback ({@code TUNESTREAM_TRAINER_KEPT_VERSIONS});
     * older ones are tombstoned when a version is published.
     */
    @WithDefault("10")
    int keptVersions();

    /**
     * The bearer token every request of the REST API must carry ({@code TUNESTREAM_TRAINER_API_TOKEN}); or the file
     * below. Neither: the API is open (a warning at start).
     */
    Optional<String> apiToken();

    /** A file holding the API's bearer token ({@code TUNESTREAM_TRAINER_API_TOKEN_FILE}; prefer it, e.g. a Secret). */
    Optional<String> apiTokenFile();

    /** Longest an API request waits for the loop's answer before a 503 ({@code TUNESTREAM_TRAINER_API_TIMEOUT}). */
    @WithDefault("PT10S")
    Duration apiTimeout();
}

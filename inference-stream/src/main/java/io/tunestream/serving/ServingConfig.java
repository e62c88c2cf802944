package io.tunestream.serving;

import io.tunestream.model.onnx.RuntimeConfig;
import io.tunestream.schemas.kafka.KafkaClientSettings;

import io.tunestream.serving.topology.BatchingSettings;
import io.tunestream.serving.topology.ServingTopics;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.function.Function;

/**
 * Configuration of the serving app: a properties file, then environment variables
 * ({@code TUNESTREAM_} + the key in upper case with dots as underscores, e.g.
 * {@code TUNESTREAM_BATCH_MAX_SIZE}) override it. Validated when loaded; an error names the key and
 * its environment variable. Keys starting with {@code kafka.} are passed to Kafka Streams without
 * the prefix (e.g. {@code kafka.max.poll.interval.ms}).
 *
 * @param bootstrapServers         {@code bootstrap.servers}: Kafka bootstrap servers (required)
 * @param registryUrl              {@code registry.url}: Apicurio Registry base URL or v3 API URL (required)
 * @param modelDir                 {@code model.dir}: directory of the served model (default {@code models/demo-gpt2})
 * @param executionProvider        {@code execution.provider}: {@code CPU} (default) or {@code CUDA}
 * @param cudaDeviceId             {@code cuda.device.id}: CUDA device ordinal (default 0)
 * @param threads                  {@code threads}: ONNX Runtime intra-op threads (default 0: one per core)
 * @param parallelDecodeRows       {@code decode.parallel.rows}: decoding steps of fewer rows run on one thread, larger
 *                                 ones and prefills on {@code threads} (default 16; 0: every step on {@code threads})
 * @param modelWorkers             {@code model.workers}: threads running batches next to the stream threads (default 1)
 * @param maxBatchSize             {@code batch.max.size}: rows per model call (default 8)
 * @param maxWait                  {@code batch.max.wait.ms}: longest a request waits for its batch (default 50)
 * @param maxBatchesPerPunctuation {@code batch.max.per.punctuation}: batches run per punctuation (default 2)
 * @param maxBatchesInFlight       {@code batch.max.in.flight}: batches per partition handed to the model and not yet
 *                                 answered (default 2: the next one waits while one runs)
 * @param keepAdapterVersions      {@code adapters.keep.versions}: recent versions kept per task for pins (default 5)
 * @param maxPromptChars           {@code request.max.prompt.chars}: longest request fields, in characters (default 65536)
 * @param applicationId            {@code application.id}: Kafka Streams application id (default {@code tunestream-serving})
 * @param stateDir                 {@code state.dir}: Kafka Streams state directory (default {@code <tmp>/tunestream-serving})
 * @param streamThreads            {@code stream.threads}: Kafka Streams threads (default 1)
 * @param httpPort                 {@code http.port}: port of /metrics, /health/live, /health/ready (default 8081; 0 picks one)
 * @param topicPrefix              {@code topics.prefix}: put in front of every topic name (default empty)
 * @param kafka                    {@code kafka.*}: further Kafka Streams properties, security ones included
 *                                 ({@code kafka.security.protocol}, {@code kafka.sasl.*}, {@code kafka.ssl.*}; see
 *                                 {@link KafkaClientSettings}), which every client of the app gets, its admin client too
 */
public record ServingConfig(String bootstrapServers, String registryUrl, Path modelDir, String executionProvider, int cudaDeviceId,
                            int threads, int parallelDecodeRows, int modelWorkers, int maxBatchSize, Duration maxWait, int maxBatchesPerPunctuation,
                            int maxBatchesInFlight,
                            int keepAdapterVersions, int maxPromptChars, String applicationId, Path stateDir,
                            int streamThreads, int httpPort, String topicPrefix, Map<String, String> kafka) {

    public static final String ENV_PREFIX = "TUNESTREAM_";
    private static final String KAFKA_PREFIX = "kafka.";
    private static final Set<String> KEYS = Set.of("bootstrap.servers", "registry.url", "model.dir",
            "execution.provider", "cuda.device.id", "threads", "decode.parallel.rows", "model.workers", "batch.max.size", "batch.max.wait.ms",
            "batch.max.per.punctuation", "batch.max.in.flight",
            "adapters.keep.versions", "request.max.prompt.chars", "application.id", "state.dir", "stream.threads",
            "http.port", "topics.prefix");

    public ServingConfig {
        Objects.requireNonNull(modelDir, "modelDir");
        Objects.requireNonNull(maxWait, "maxWait");
        Objects.requireNonNull(stateDir, "stateDir");
        kafka = Map.copyOf(kafka);
        KafkaClientSettings.of(kafka); // checked at start: a bad security setting names its key
    }

    /** The client settings every Kafka client of the app shares (security resolved: do not log them). */
    public KafkaClientSettings kafkaClient() {
        return KafkaClientSettings.of(kafka);
    }

    /** The environment variables this config reads, one per key. */
    static Set<String> environmentVariables() {
        return KEYS.stream().map(ServingConfig::envName).collect(java.util.stream.Collectors.toUnmodifiableSet());
    }

    /** Environment variable that overrides {@code key}. */
    public static String envName(String key) {
        return ENV_PREFIX + key.toUpperCase(Locale.ROOT).replace('.', '_').replace('-', '_');
    }

    /**
     * Reads {@code file} (if given), applies the overrides found in {@code env}, validates.
     *
     * @throws IllegalArgumentException naming the key (and its environment variable) of a bad or missing value
     */
    public static ServingConfig load(Optional<Path> file, Map<String, String> env) {
        var values = new LinkedHashMap<String, String>();
        Optional.ofNullable(env.get(KafkaClientSettings.CONFIG_FILE_ENV)).filter(f -> !f.isBlank())
                .ifPresent(f -> KafkaClientSettings.readProperties(Path.of(f), KafkaClientSettings.CONFIG_FILE_ENV)
                        .forEach((k, v) -> values.put(KAFKA_PREFIX + k, v)));
        file.ifPresent(f -> values.putAll(readProperties(f)));
        for (String key : KafkaClientSettings.ENVIRONMENT_KEYS) {
            String override = env.get(KafkaClientSettings.envName(key));
            if (override != null) {
                values.put(KAFKA_PREFIX + key, override);
            }
        }
        for (String key : KEYS) {
            String override = env.get(envName(key));
            if (override != null) {
                values.put(key, override);
            }
        }
        return fromMap(values);
    }

    private static Map<String, String> readProperties(Path file) {
        var properties = new Properties();
        try (java.io.Reader reader = Files.newBufferedReader(file)) {
            properties.load(reader);
        } catch (IOException e) {
            throw new IllegalArgumentException("config file " + file + " cannot be read: " + e.getMessage(), e);
        }
        var map = new HashMap<String, String>();
        properties.stringPropertyNames().forEach(k -> map.put(k, properties.getProperty(k).trim()));
        return map;
    }

    /** Validates {@code values} (keys as in the file). */
    public static ServingConfig fromMap(Map<String, String> values) {
        for (String key : values.keySet()) {
            if (!KEYS.contains(key) && !key.startsWith(KAFKA_PREFIX)) {
                throw new IllegalArgumentException("config key '" + key + "' is unknown; known keys: "
                        + new java.util.TreeSet<>(KEYS) + " and kafka.*");
            }
        }
        var kafka = new HashMap<String, String>();
        values.forEach((k, v) -> {
            if (k.startsWith(KAFKA_PREFIX)) {
                kafka.put(k.substring(KAFKA_PREFIX.length()), v);
            }
        });
        var r = new Values(values);
        String provider = r.get("execution.provider", "CPU", v -> {
            String upper = v.toUpperCase(Locale.ROOT);
            if (!upper.equals("CPU") && !upper.equals("CUDA")) {
                throw new IllegalArgumentException("must be CPU or CUDA");
            }
            return upper;
        });
        Path modelDir = r.get("model.dir", "models/demo-gpt2", v -> {
            Path p = Path.of(v);
            if (!Files.isDirectory(p)) {
                throw new IllegalArgumentException("is not a directory (absolute: " + p.toAbsolutePath() + ")");
            }
            return p;
        });
        int maxBatchSize = r.integer("batch.max.size", 8, 1);
        int maxWaitMs = r.integer("batch.max.wait.ms", 50, 0);
        return new ServingConfig(
                r.get("bootstrap.servers", null, Values::nonBlank),
                r.get("registry.url", null, Values::httpUrl),
                modelDir,
                provider,
                r.integer("cuda.device.id", 0, 0),
                r.integer("threads", 0, 0),
                r.integer("decode.parallel.rows", RuntimeConfig.DEFAULT_PARALLEL_DECODE_ROWS, 0),
                r.integer("model.workers", 1, 1),
                maxBatchSize,
                Duration.ofMillis(maxWaitMs),
                r.integer("batch.max.per.punctuation", 2, 1),
                r.integer("batch.max.in.flight", 2, 1),
                r.integer("adapters.keep.versions", 5, 1),
                r.integer("request.max.prompt.chars", 64 * 1024, 1),
                r.get("application.id", "tunestream-serving", Values::nonBlank),
                r.get("state.dir", Path.of(System.getProperty("java.io.tmpdir"), "tunestream-serving").toString(),
                        Values::nonBlank).transform(Path::of),
                r.integer("stream.threads", 1, 1),
                r.get("http.port", "8081", v -> {
                    int port = Integer.parseInt(v);
                    if (port < 0 || port > 65535) {
                        throw new IllegalArgumentException("must be a port between 0 and 65535");
                    }
                    return port;
                }),
                r.get("topics.prefix", "", v -> v),
                kafka);
    }

    /** The batching settings the topology runs with (punctuation every quarter of the max wait). */
    public BatchingSettings batching() {
        return new BatchingSettings(maxBatchSize, maxWait, Duration.ofMillis(Math.max(1, maxWait.toMillis() / 4)),
                maxBatchesPerPunctuation, keepAdapterVersions, maxPromptChars, maxBatchesInFlight);
    }

    public ServingTopics topics() {
        return ServingTopics.prefixed(topicPrefix);
    }

    /** Reads typed values of keys, with errors naming the key and its environment variable. */
    private record Values(Map<String, String> values) {

        <T> T get(String key, String defaultValue, Function<String, T> parse) {
            String raw = values.getOrDefault(key, defaultValue);
            if (raw == null) {
                throw new IllegalArgumentException("config '" + key + "' (env " + envName(key) + ") is required");
            }
            try {
                return parse.apply(raw);
            } catch (RuntimeException e) {
                String why = e instanceof NumberFormatException ? "must be an integer" : e.getMessage();
                throw new IllegalArgumentException("config '" + key + "' (env " + envName(key) + "): " + why
                        + ", was '" + raw + "'", e);
            }
        }

        int integer(String key, int defaultValue, int min) {
            return get(key, Integer.toString(defaultValue), v -> {
                int value = Integer.parseInt(v.trim());
                if (value < min) {
                    throw new IllegalArgumentException("must be >= " + min);
                }
                return value;
            });
        }

        static String nonBlank(String v) {
            if (v.isBlank()) {
                throw new IllegalArgumentException("must not be blank");
            }
            return v;
        }

        static String httpUrl(String v) {
            if (!v.startsWith("http://") && !v.startsWith("https://")) {
                throw new IllegalArgumentException("must be an http(s) URL such as http://localhost:8080");
            }
            return v;
        }
    }
}

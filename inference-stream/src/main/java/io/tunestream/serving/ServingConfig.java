package io.tunestream.serving;

import io.tunestream.schemas.adapters.AdapterVerifier;
import io.tunestream.schemas.kafka.KafkaClientSettings;
import io.tunestream.schemas.registry.RegistryConfig;
import io.tunestream.model.generate.PromptLookup;
import io.tunestream.model.onnx.RuntimeConfig;

import io.tunestream.serving.topology.BatchingSettings;
import io.tunestream.serving.topology.ServingTopics;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import io.smallrye.config.PropertiesConfigSource;
import io.smallrye.config.SmallRyeConfig;
import io.smallrye.config.SmallRyeConfigBuilder;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import org.eclipse.microprofile.config.spi.ConfigSource;
import java.util.function.Function;

/**
 * Configuration of the serving app, read with SmallRye Config: a properties file, then environment variables
 * ({@code TUNESTREAM_} + the key in upper case with dots as underscores, e.g.
 * {@code TUNESTREAM_BATCH_MAX_SIZE}) override it; unknown file keys are refused. Validated when loaded; an error names the key and
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
 * @param decodeChunkSteps         {@code decode.chunk.steps}: decoding steps a session run, tokens chosen inside ONNX
 *                                 Runtime (a decode-chunk loop graph; at least 2), or 0 for one step a run (default
 *                                 {@value #DEFAULT_CPU_CHUNK_STEPS} on CPU, {@value #DEFAULT_CUDA_CHUNK_STEPS} on CUDA,
 *                                 where the KV cache then stays on the device for a whole chunk)
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
 * @param httpBindAddress          {@code http.bind.address}: address the ops endpoints listen on (default {@code 0.0.0.0},
 *                                 every interface; e.g. {@code 127.0.0.1} to keep them on the host)
 * @param topicPrefix              {@code topics.prefix}: put in front of every topic name (default empty)
 * @param batchTimeout             {@code batch.timeout.ms}: a batch still running this long is cancelled and its
 *                                 requests answered TIMEOUT (default 30000)
 * @param cancelGrace              {@code batch.cancel.grace.ms}: a cancelled model call not returned this long after
 *                                 makes /health/live fail (default 10000)
 * @param requestMaxAge            {@code request.max.age.ms}: older requests are answered EXPIRED (default 0: off)
 * @param maxBufferedRequests      {@code buffer.max.requests}: buffered requests per partition above which the
 *                                 stream thread holds input back (default 1000; at least batch.max.size)
 * @param bufferFullMaxWait        {@code buffer.full.max.wait.ms}: longest hold per record while over it (default
 *                                 1000, at most 5000: well under the transaction timeout)
 * @param dedupeWindow             {@code dedupe.window.ms}: a request id answered this recently is not answered
 *                                 again (default 600000; 0: off)
 * @param batchRetries             {@code batch.retries}: retries of a transient model failure (out of memory: split
 *                                 the batch) before error answers (default 2)
 * @param modelQueueCapacity       {@code model.queue.capacity}: batches waiting for a model worker; when full a
 *                                 batch stays buffered and is tried again (default 16)
 * @param prefixCacheBytes         {@code prefix.cache.bytes}: bound of the prefix cache, the keys and values of each
 *                                 task's shared prompt start computed once per template and adapter version (default
 *                                 {@link #DEFAULT_PREFIX_CACHE_BYTES}; 0: off); Caffeine (W-TinyLFU) evicts
 * @param adapterCacheBytes        {@code adapters.cache.bytes}: bound of the adapter tables decoded for the model (default
 *                                 {@link #DEFAULT_ADAPTER_CACHE_BYTES}; 0: decode each row's table anew); the adapters
 *                                 store keeps every version's record, Caffeine (W-TinyLFU) evicts tables
 * @param promptLookup             {@code decode.lookup.tokens} (default {@value #DEFAULT_LOOKUP_TOKENS}; 0: off) and
 *                                 {@code decode.lookup.ngram} (default {@value #DEFAULT_LOOKUP_NGRAM}): prompt-lookup
 *                                 decoding of a batch down to one greedy row, drafts of up to that many tokens after the
 *                                 last n (falling back to fewer) tokens of its prompt and answer, checked in one model run
 *                                 each; the same tokens either way
 * @param adapterVerifier          {@code adapters.verify.signatures} (default true), {@code adapters.trusted.keys}
 *                                 ({@code keyId=path} entries, comma-separated: Ed25519 public keys, PEM or raw;
 *                                 required while verification is on), {@code adapters.accept.unsigned} (default
 *                                 false; migration only): which adapter signatures serving trusts
 * @param registry                 the registry client: {@code registry.url} with {@code registry.auto.register} (default
 *                                 false: setup registers schemas) and, for a registry requiring OIDC,
 *                                 {@code registry.auth.token.endpoint}, {@code registry.auth.client.id},
 *                                 {@code registry.auth.client.secret} or {@code registry.auth.client.secret.file},
 *                                 {@code registry.auth.scope} (see {@link RegistryConfig#fromSettings})
 * @param kafka                    {@code kafka.*}: further Kafka Streams properties, security ones included
 *                                 ({@code kafka.security.protocol}, {@code kafka.sasl.*}, {@code kafka.ssl.*}; see
 *                                 {@link KafkaClientSettings}), which every client of the app gets, its admin client too
 */
public record ServingConfig(String bootstrapServers, String registryUrl, Path modelDir, String executionProvider, int cudaDeviceId,
                            int threads, int parallelDecodeRows, int decodeChunkSteps, int modelWorkers, int maxBatchSize, Duration maxWait, int maxBatchesPerPunctuation,
                            int maxBatchesInFlight,
                            int keepAdapterVersions, int maxPromptChars, String applicationId, Path stateDir,
                            int streamThreads, int httpPort, String httpBindAddress, String topicPrefix, Duration batchTimeout,
                            Duration cancelGrace, Duration requestMaxAge, int maxBufferedRequests,
                            Duration bufferFullMaxWait, Duration dedupeWindow, int batchRetries,
                            int modelQueueCapacity, long prefixCacheBytes, long adapterCacheBytes, PromptLookup promptLookup,
                            AdapterVerifier adapterVerifier, RegistryConfig registry,
                            Map<String, String> kafka) {

    public static final String ENV_PREFIX = "TUNESTREAM_";
    /** Default bound of the prefix cache: 64 MiB, some 8000 positions of demo-gpt2's keys and values (8 KiB a position). */
    public static final long DEFAULT_PREFIX_CACHE_BYTES = 64L << 20;
    /**
     * Default bound of the decoded adapter tables: 128 MiB, the 10-token tables of 12 000 demo-gpt2 tasks (10 KiB
     * each), some 170 10-token deep prompts of GPT-2 small (737 kB), or 80 tables of a 7B model (100 × 4096 floats).
     */
    public static final long DEFAULT_ADAPTER_CACHE_BYTES = 128L << 20;
    /** Draft tokens of prompt lookup: {@link PromptLookup#DEFAULT}, the fastest measured (BENCHMARKS.md). */
    public static final int DEFAULT_LOOKUP_TOKENS = 4;
    /** Tokens prompt lookup matches first: {@link PromptLookup#DEFAULT}. */
    public static final int DEFAULT_LOOKUP_NGRAM = 2;
    /** Chunks on CPU: GenerationBenchmark's chunked decoding against the in-place steps (BENCHMARKS.md). */
    public static final int DEFAULT_CPU_CHUNK_STEPS = 0;
    /** Chunks on CUDA: the KV cache crosses the PCIe bus once a chunk instead of twice a step. */
    public static final int DEFAULT_CUDA_CHUNK_STEPS = 16;
    private static final int KAFKA_FILE_ORDINAL = 50;
    private static final int FILE_ORDINAL = 100;
    private static final int ENV_ORDINAL = 300;
    private static final String KAFKA_PREFIX = "kafka.";
    private static final Set<String> KEYS = java.util.stream.Stream.concat(RegistryConfig.SETTING_KEYS.stream(), Set.of("bootstrap.servers", "registry.url", "model.dir",
            "execution.provider", "cuda.device.id", "threads", "decode.parallel.rows", "decode.chunk.steps", "model.workers", "batch.max.size", "batch.max.wait.ms",
            "batch.max.per.punctuation", "batch.max.in.flight",
            "adapters.keep.versions", "request.max.prompt.chars", "application.id", "state.dir", "stream.threads",
            "http.port", "http.bind.address", "topics.prefix", "batch.timeout.ms", "batch.cancel.grace.ms", "request.max.age.ms",
            "buffer.max.requests", "buffer.full.max.wait.ms", "dedupe.window.ms", "batch.retries",
            "model.queue.capacity", "prefix.cache.bytes", "adapters.cache.bytes", "decode.lookup.tokens", "decode.lookup.ngram",
            "adapters.verify.signatures", "adapters.trusted.keys",
            "adapters.accept.unsigned").stream()).collect(java.util.stream.Collectors.toUnmodifiableSet());

    public ServingConfig {
        Objects.requireNonNull(modelDir, "modelDir");
        Objects.requireNonNull(maxWait, "maxWait");
        Objects.requireNonNull(stateDir, "stateDir");
        Objects.requireNonNull(httpBindAddress, "httpBindAddress");
        Objects.requireNonNull(adapterVerifier, "adapterVerifier");
        Objects.requireNonNull(registry, "registry");
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
     * Reads {@code file} (if given), applies the overrides found in {@code env}, validates. SmallRye Config
     * reads the file and layers the sources: the environment (ordinal 300) over the file (ordinal 100).
     *
     * @throws IllegalArgumentException naming the key (and its environment variable) of a bad or missing value
     */
    public static ServingConfig load(Optional<Path> file, Map<String, String> env) {
        var sources = new ArrayList<ConfigSource>();
        // the shared Kafka client file (TUNESTREAM_KAFKA_CONFIG): under the app's own file, which may override it
        var kafkaFile = new HashMap<String, String>();
        Optional.ofNullable(env.get(KafkaClientSettings.CONFIG_FILE_ENV)).filter(f -> !f.isBlank())
                .ifPresent(f -> KafkaClientSettings.readProperties(Path.of(f), KafkaClientSettings.CONFIG_FILE_ENV)
                        .forEach((k, v) -> kafkaFile.put(KAFKA_PREFIX + k, v)));
        sources.add(new PropertiesConfigSource(kafkaFile, KafkaClientSettings.CONFIG_FILE_ENV, KAFKA_FILE_ORDINAL));
        if (file.isPresent()) {
            try {
                sources.add(new PropertiesConfigSource(file.get().toUri().toURL(), FILE_ORDINAL));
            } catch (IOException e) {
                throw new IllegalArgumentException("config file " + file.get() + " cannot be read: " + e.getMessage(),
                        e);
            }
        }
        // only the variables of known keys: the environment holds other programs' variables too
        var overrides = new HashMap<String, String>();
        for (String key : KEYS) {
            String override = env.get(envName(key));
            if (override != null) {
                overrides.put(key, override);
            }
        }
        for (String key : KafkaClientSettings.ENVIRONMENT_KEYS) {
            String override = env.get(KafkaClientSettings.envName(key));
            if (override != null) {
                overrides.put(KAFKA_PREFIX + key, override);
            }
        }
        sources.add(new PropertiesConfigSource(overrides, "environment (" + ENV_PREFIX + "*)", ENV_ORDINAL));
        return from(sources);
    }

    /** Validates {@code values} (keys as in the file). */
    public static ServingConfig fromMap(Map<String, String> values) {
        return from(List.of(new PropertiesConfigSource(values, "map", FILE_ORDINAL)));
    }

    private static ServingConfig from(List<ConfigSource> sources) {
        for (ConfigSource source : sources) {
            for (String key : source.getPropertyNames()) {
                if (!KEYS.contains(key) && !key.startsWith(KAFKA_PREFIX)) {
                    throw new IllegalArgumentException("config key '" + key + "' is unknown; known keys: "
                            + new java.util.TreeSet<>(KEYS) + " and kafka.*");
                }
            }
        }
        // no default sources (system properties, environment by SmallRye's own naming) and no ${} expansion
        SmallRyeConfig config = new SmallRyeConfigBuilder().withSources(sources).build();
        var kafka = new HashMap<String, String>();
        for (String name : config.getPropertyNames()) {
            if (name.startsWith(KAFKA_PREFIX)) {
                kafka.put(name.substring(KAFKA_PREFIX.length()), config.getValue(name, String.class).trim());
            }
        }
        var r = new Values(config);
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
                r.get("decode.chunk.steps", Integer.toString(provider.equals("CUDA") ? DEFAULT_CUDA_CHUNK_STEPS
                        : DEFAULT_CPU_CHUNK_STEPS), v -> {
                    int steps;
                    try {
                        steps = Integer.parseInt(v.trim());
                    } catch (NumberFormatException e) {
                        throw new IllegalArgumentException("must be an integer", e);
                    }
                    if (steps < 0 || steps == 1) {
                        throw new IllegalArgumentException("must be 0 (one step a run) or at least 2");
                    }
                    return steps;
                }),
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
                r.get("http.bind.address", "0.0.0.0", Values::nonBlank),
                r.get("topics.prefix", "", v -> v),
                Duration.ofMillis(r.integer("batch.timeout.ms", 30_000, 1)),
                Duration.ofMillis(r.integer("batch.cancel.grace.ms", 10_000, 1)),
                Duration.ofMillis(r.integer("request.max.age.ms", 0, 0)),
                r.get("buffer.max.requests", "1000", v -> {
                    int value = Integer.parseInt(v.trim());
                    if (value < maxBatchSize) {
                        throw new IllegalArgumentException("must be >= " + maxBatchSize + " (batch.max.size)");
                    }
                    return value;
                }),
                Duration.ofMillis(r.get("buffer.full.max.wait.ms", "1000", v -> {
                    int ms = Integer.parseInt(v.trim());
                    if (ms < 0 || ms > BatchingSettings.MAX_BUFFER_FULL_WAIT.toMillis()) {
                        throw new IllegalArgumentException("must be between 0 and "
                                + BatchingSettings.MAX_BUFFER_FULL_WAIT.toMillis()
                                + " (well under the transaction timeout)");
                    }
                    return ms;
                })),
                Duration.ofMillis(r.integer("dedupe.window.ms", 600_000, 0)),
                r.integer("batch.retries", 2, 0),
                r.integer("model.queue.capacity", 16, 1),
                r.get("prefix.cache.bytes", Long.toString(DEFAULT_PREFIX_CACHE_BYTES), v -> {
                    long bytes = Long.parseLong(v.trim());
                    if (bytes < 0) {
                        throw new IllegalArgumentException("must be >= 0 (0 turns the prefix cache off)");
                    }
                    return bytes;
                }),
                r.get("adapters.cache.bytes", Long.toString(DEFAULT_ADAPTER_CACHE_BYTES), v -> {
                    long bytes = Long.parseLong(v.trim());
                    if (bytes < 0) {
                        throw new IllegalArgumentException("must be >= 0 (0 decodes each row's adapter table anew)");
                    }
                    return bytes;
                }),
                new PromptLookup(r.integer("decode.lookup.tokens", DEFAULT_LOOKUP_TOKENS, 0),
                        r.integer("decode.lookup.ngram", DEFAULT_LOOKUP_NGRAM, 1)),
                adapterVerifier(r),
                registry(r, config),
                kafka);
    }

    /** The registry client settings, checked now (a missing secret file stops the start, naming its key). */
    private static RegistryConfig registry(Values r, SmallRyeConfig config) {
        String url = r.get("registry.url", null, Values::httpUrl);
        var settings = new HashMap<String, String>();
        for (String key : RegistryConfig.SETTING_KEYS) {
            config.getOptionalValue(key, String.class).ifPresent(v -> settings.put(key, v));
        }
        return RegistryConfig.fromSettings(url, settings);
    }

    /** Reads the signature settings and the trusted key files now, so a missing or bad key stops the start. */
    private static AdapterVerifier adapterVerifier(Values r) {
        boolean verify = r.get("adapters.verify.signatures", "true", Values::bool);
        boolean acceptUnsigned = r.get("adapters.accept.unsigned", "false", Values::bool);
        if (!verify) {
            return AdapterVerifier.off();
        }
        return r.get("adapters.trusted.keys", null, v -> {
            var files = AdapterVerifier.parseTrustedKeys(v);
            if (files.isEmpty()) {
                throw new IllegalArgumentException("names no key (keyId=path,...); set adapters.verify.signatures"
                        + "=false to turn verification off");
            }
            return AdapterVerifier.trustingFiles(files, acceptUnsigned);
        });
    }

    /**
     * The batching settings the topology runs with (punctuation every quarter of the max wait, at most every
     * quarter of the batch timeout).
     *
     * @param maxAnswerBytes the answers topic's record limit
     */
    public BatchingSettings batching(int maxAnswerBytes) {
        long punctuate = Math.max(1, Math.min(maxWait.toMillis(), batchTimeout.toMillis()) / 4);
        return new BatchingSettings(maxBatchSize, maxWait, Duration.ofMillis(punctuate), maxBatchesPerPunctuation,
                keepAdapterVersions, maxPromptChars, maxBatchesInFlight, batchTimeout, cancelGrace, requestMaxAge,
                maxBufferedRequests, bufferFullMaxWait, dedupeWindow, batchRetries, maxAnswerBytes);
    }

    /** {@link #batching(int)} with Kafka's default 1 MiB answer limit. */
    public BatchingSettings batching() {
        return batching(BatchingSettings.DEFAULT_MAX_ANSWER_BYTES);
    }

    public ServingTopics topics() {
        return ServingTopics.prefixed(topicPrefix);
    }

    /**
     * Reads typed values of keys from SmallRye Config (its converters parse numbers), with errors naming the
     * key and its environment variable.
     */
    private record Values(SmallRyeConfig config) {

        <T> T get(String key, String defaultValue, Function<String, T> parse) {
            String raw = config.getOptionalValue(key, String.class).map(String::trim).orElse(defaultValue);
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
                int value;
                try {
                    value = config.convert(v, Integer.class);
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException("must be an integer", e);
                }
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

        static boolean bool(String v) {
            return switch (v.trim().toLowerCase(Locale.ROOT)) {
                case "true" -> true;
                case "false" -> false;
                default -> throw new IllegalArgumentException("must be true or false");
            };
        }

        static String httpUrl(String v) {
            if (!v.startsWith("http://") && !v.startsWith("https://")) {
                throw new IllegalArgumentException("must be an http(s) URL such as http://localhost:8080");
            }
            return v;
        }
    }
}

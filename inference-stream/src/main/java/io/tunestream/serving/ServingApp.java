package io.tunestream.serving;

import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.kafka.KafkaStreamsMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.tunestream.model.onnx.ExecutionProvider;
import io.tunestream.model.onnx.RuntimeConfig;
import io.tunestream.schemas.AccessTable;
import io.tunestream.schemas.TopicSpec;
import io.tunestream.schemas.Topics;
import io.tunestream.schemas.kafka.KafkaPreflight;
import io.tunestream.schemas.kafka.KafkaClientConfig;
import io.tunestream.schemas.registry.RegistryConfig;
import io.tunestream.schemas.registry.RegistryUnavailableException;
import io.tunestream.serving.batch.BatchAnswerer;
import io.tunestream.serving.batch.ModelLiveness;
import io.tunestream.serving.model.ModelBatchAnswerer;
import io.tunestream.serving.ops.DecodeWaits;
import io.tunestream.serving.ops.OpsServer;
import io.tunestream.serving.ops.ServingMetrics;
import io.tunestream.serving.serde.ServingSerdes;
import io.tunestream.serving.topology.GlobalDeadLetters;
import io.tunestream.serving.topology.InputRecovery;
import io.tunestream.serving.topology.ServingTopics;
import io.tunestream.serving.topology.ServingTopology;
import io.tunestream.serving.topology.StopSignal;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.config.TopicConfig;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The serving app: Kafka Streams running {@link ServingTopology} with the model runtime, plus the
 * operations endpoints. {@code main} takes an optional properties file (see {@link ServingConfig});
 * environment variables override it.
 *
 * <p>Batches run on a small model executor ({@code model.workers} threads), so the stream threads keep
 * polling and committing during generation. Shutdown (SIGTERM, or {@link #close()}) stops taking
 * requests, commits what is answered, and hands the batch in flight back: its requests stay in the
 * changelogged buffer and are answered by the next start (or by the instance that takes the partitions
 * over), exactly once.
 *
 * <p>Inputs are decoded in the topology, so a schema registry outage is waited out, never turned into
 * dead letters: requests wait in a changelogged queue per partition, global store updates (also their
 * restoration at start, so a start during an outage waits in {@code KafkaStreams.start}) wait on the
 * global thread; readiness says "degraded" meanwhile. Records that can never be read go to the
 * dead-letter topic: requests inside the stream transaction, global records through this app's own
 * idempotent producer.
 */
public final class ServingApp implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(ServingApp.class);
    static final Duration CLOSE_TIMEOUT = Duration.ofSeconds(60);
    /** How long a global dead letter may take to be acknowledged before the write is tried again. */
    static final Duration DEAD_LETTER_TIMEOUT = Duration.ofSeconds(30);
    private static final Duration PREFLIGHT_TIMEOUT = Duration.ofSeconds(30);

    private final KafkaStreams streams;
    private final OpsServer ops;
    private final KafkaStreamsMetrics streamsMetrics;
    private final AtomicBoolean closing = new AtomicBoolean();
    private final ExecutorService modelExecutor;
    private final StopSignal stop = new StopSignal();
    private final ServingSerdes serdes;
    private final Producer<byte[], byte[]> deadLetterProducer;

    /**
     * Starts the app around {@code answerer} (which the caller owns and closes after this app).
     *
     * @param config   validated configuration
     * @param answerer the model, or a stand-in
     * @param registry the meter registry /metrics exposes
     */
    public ServingApp(ServingConfig config, BatchAnswerer answerer, PrometheusMeterRegistry registry) {
        var metrics = new ServingMetrics(registry);
        var topics = config.topics();
        var registryConfig = config.registry();
        LOG.info("registry {}", registryConfig.describe());
        var signatures = config.adapterVerifier();
        if (signatures.enabled()) {
            LOG.info("adapter signatures verified against trusted keys {}{}", new java.util.TreeSet<>(
                    signatures.trustedKeys().keySet()), signatures.acceptUnsigned() ? " (unsigned accepted: migration)" : "");
        } else {
            LOG.warn("adapter signature verification is off (adapters.verify.signatures=false)");
        }
        int maxAnswerBytes = checkPlatform(config, topics);
        // after the platform check: a start refused for the platform's sake says so before touching the model
        answerer.prefixCache().ifPresent(metrics::bindPrefixCache);
        answerer.adapterTableCache().ifPresent(metrics::bindAdapterTables);
        var workerIds = new AtomicInteger();
        // bounded: a batch the queue refuses stays buffered and is tried again at the next punctuation
        modelExecutor = new ThreadPoolExecutor(config.modelWorkers(), config.modelWorkers(), 0, TimeUnit.MILLISECONDS,
                new ArrayBlockingQueue<>(config.modelQueueCapacity()), r -> {
            var thread = new Thread(r, "tunestream-model-" + workerIds.incrementAndGet());
            thread.setDaemon(true);
            return thread;
        });
        var liveness = new ModelLiveness(Clock.systemUTC(), config.cancelGrace());
        metrics.bindLiveness(liveness);
        var waits = new DecodeWaits(Clock.systemUTC());
        var client = new KafkaClientConfig(config.bootstrapServers(), registryConfig, config.kafkaClient());
        deadLetterProducer = new KafkaProducer<>(client.producerProperties(config.applicationId() + "-global-dlq"),
                new ByteArraySerializer(), new ByteArraySerializer());
        serdes = ServingSerdes.apicurio(registryConfig);
        var recovery = new InputRecovery(GlobalDeadLetters.producer(deadLetterProducer, DEAD_LETTER_TIMEOUT), waits,
                stop);
        var topology = ServingTopology.build(topics, serdes, config.batching(maxAnswerBytes), answerer, modelExecutor,
                metrics, liveness, Clock.systemUTC(), recovery, config.adapterVerifier());
        streams = new KafkaStreams(topology, streamsProperties(config, metrics));
        String principal = config.kafkaClient().principal();
        streams.setUncaughtExceptionHandler(e -> {
            if (isAccessFailure(e)) {
                // a replaced thread would fail the same way, forever: stop and say why
                LOG.error("stream thread failed: Kafka refused {} ({}); stopping the app", principal, e.toString(), e);
                return org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse
                        .SHUTDOWN_CLIENT;
            }
            LOG.error("stream thread failed; replacing it", e);
            return org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse
                    .REPLACE_THREAD;
        });
        streamsMetrics = new KafkaStreamsMetrics(streams);
        streamsMetrics.bindTo(registry);
        new JvmMemoryMetrics().bindTo(registry);
        ops = new OpsServer(new OpsServer.Binding(config.httpBindAddress(), config.httpPort(),
                OpsServer.DEFAULT_IDLE_TIMEOUT), registry::scrape, OpsServer.Health.of(streams::state)
                .withModelLive(liveness).withReadinessDetail(waits::degraded));
        streams.start();
        LOG.info("serving {} (model {}, fingerprint {}) from {} to {}; batches of up to {} rows, max wait {} ms; "
                        + "ops on port {}; Kafka {} over {}", config.applicationId(), config.modelDir(),
                answerer.model().fingerprint(), topics.requests(), topics.answers(), config.maxBatchSize(),
                config.maxWait().toMillis(), ops.port(), config.bootstrapServers(), config.kafkaClient().describe());
    }

    /**
     * Checks that the topics the app reads and writes exist and allow what it needs to its
     * principal ({@link AccessTable} SERVING rows), and that their schemas are registered. The app
     * creates nothing: {@code ingest setup}, run as the admin principal, does.
     *
     * @return the largest answer record that can be sent: the answers topic's {@code max.message.bytes}, or the
     *         producer's {@code max.request.size} if smaller
     * @throws KafkaPreflight.KafkaPreflightException naming the principal and what is missing
     */
    private static int checkPlatform(ServingConfig config, ServingTopics topics) {
        var specs = List.of(
                Topics.REQUESTS.withName(topics.requests()), Topics.ANSWERS.withName(topics.answers()),
                Topics.TASK_TEMPLATES.withName(topics.templates()), Topics.ADAPTERS.withName(topics.adapters()),
                Topics.REQUESTS_DEAD_LETTER.withName(topics.deadLetter()));
        var client = new KafkaClientConfig(config.bootstrapServers(), config.registry(),
                config.kafkaClient());
        LOG.info("checking Kafka {} for {}", client.describe(), config.applicationId());
        var names = new AccessTable.Names(config.topicPrefix(), config.applicationId(), "", "");
        var required = AccessTable.topicOperations(AccessTable.Role.SERVING, names,
                specs.stream().map(TopicSpec::name).toList());
        KafkaPreflight.check(client, required, PREFLIGHT_TIMEOUT);
        try {
            KafkaPreflight.checkSchemas(client.registry(), specs);
        } catch (RegistryUnavailableException e) {
            // an outage is not a missing schema: start, and let the inputs wait for the registry
            LOG.warn("{}: {}; starting anyway, inputs wait for the registry", config.applicationId(), e.getMessage());
        }
        try (Admin admin = Admin.create(client.adminProperties())) {
            int topicLimit = answersTopicLimit(admin, topics.answers());
            int producerLimit = Integer.parseInt(config.kafka().getOrDefault("producer.max.request.size",
                    config.kafka().getOrDefault("max.request.size", Integer.toString(1024 * 1024))).trim());
            int limit = Math.min(topicLimit, producerLimit);
            LOG.info("answers are fitted to {} bytes (topic {} max.message.bytes {}, producer max.request.size {})",
                    limit, topics.answers(), topicLimit, producerLimit);
            return limit;
        }
    }


    /** An authentication or authorization failure somewhere in {@code failure}'s causes. */
    static boolean isAccessFailure(Throwable failure) {
        for (Throwable cause = failure; cause != null; cause = cause.getCause() == cause ? null : cause.getCause()) {
            if (cause instanceof org.apache.kafka.common.errors.AuthorizationException
                    || cause instanceof org.apache.kafka.common.errors.AuthenticationException) {
                return true;
            }
        }
        return false;
    }

    private static int answersTopicLimit(Admin admin, String answers) {
        var resource = new ConfigResource(ConfigResource.Type.TOPIC, answers);
        try {
            Config topicConfig = admin.describeConfigs(List.of(resource)).all().get(30, TimeUnit.SECONDS)
                    .get(resource);
            return Integer.parseInt(topicConfig.get(TopicConfig.MAX_MESSAGE_BYTES_CONFIG).value());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while reading the config of topic " + answers, e);
        } catch (ExecutionException | TimeoutException e) {
            throw new IllegalStateException("cannot read max.message.bytes of topic " + answers + ": "
                    + e.getMessage(), e);
        }
    }

    /** The Kafka Streams properties of {@code config}: exactly-once, small poll wait. */
    public static Properties streamsProperties(ServingConfig config, ServingMetrics metrics) {
        var client = new KafkaClientConfig(config.bootstrapServers(), config.registry(),
                config.kafkaClient());
        var props = new Properties();
        props.putAll(client.streamsProperties(config.applicationId()));
        props.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
        props.put(StreamsConfig.STATE_DIR_CONFIG, config.stateDir().toString());
        props.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, config.streamThreads());
        // wall-clock punctuation is checked between polls: a short poll keeps the max wait honest
        props.put(StreamsConfig.POLL_MS_CONFIG, Math.max(1, Math.min(100, config.maxWait().toMillis() / 4)));
        props.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, 100);
        props.put(StreamsConfig.PROCESSING_EXCEPTION_HANDLER_GLOBAL_ENABLED_CONFIG, true);
        // the service's kafka.* settings, secrets resolved, win over the defaults above
        props.putAll(config.kafkaClient().properties());
        return props;
    }

    public KafkaStreams.State state() {
        return streams.state();
    }

    /**
     * The global adapters store (every accepted version kept, {@link io.tunestream.serving.adapters.AdapterStore}'s
     * layout), read-only; queryable once the app is running.
     */
    public org.apache.kafka.streams.state.ReadOnlyKeyValueStore<String, io.tunestream.schemas.AdapterVersion> adapters() {
        return streams.store(org.apache.kafka.streams.StoreQueryParameters.fromNameAndType(
                io.tunestream.serving.topology.ServingTopology.ADAPTER_STORE,
                org.apache.kafka.streams.state.QueryableStoreTypes.keyValueStore()));
    }

    public int opsPort() {
        return ops.port();
    }

    /** Stops taking requests, commits what is answered, hands the batch in flight back, stops the endpoints. */
    @Override
    public void close() {
        if (!closing.compareAndSet(false, true)) {
            return;
        }
        // a global store update waiting for the registry ends its wait; it is read again at the next start
        stop.stop();
        boolean closed = streams.close(CLOSE_TIMEOUT);
        if (!closed) {
            LOG.warn("Kafka Streams did not close within {}; uncommitted batches will run again on restart",
                    CLOSE_TIMEOUT);
        }
        // batches still on the executor were handed back when their tasks closed
        modelExecutor.shutdownNow();
        streamsMetrics.close();
        deadLetterProducer.close(CLOSE_TIMEOUT);
        serdes.close();
        ops.close();
    }

    public static void main(String[] args) throws InterruptedException {
        Optional<Path> file = args.length > 0 ? Optional.of(Path.of(args[0])) : Optional.empty();
        ServingConfig config = ServingConfig.load(file, System.getenv());
        var runtime = new RuntimeConfig(ExecutionProvider.valueOf(config.executionProvider()), config.cudaDeviceId(), 0,
                config.threads(), 0).withParallelDecodeRows(config.parallelDecodeRows())
                .withDecodeChunkSteps(config.decodeChunkSteps());
        var registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        var done = new CountDownLatch(1);
        try (ModelBatchAnswerer answerer = ModelBatchAnswerer.load(config.modelDir(), runtime,
                config.prefixCacheBytes(), config.adapterCacheBytes(), config.promptLookup());
             ServingApp app = new ServingApp(config, answerer, registry)) {
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                LOG.info("shutting down: committing what is answered, handing the batch in flight back");
                app.close();
                done.countDown();
            }, "serving-shutdown"));
            done.await();
        }
    }
}

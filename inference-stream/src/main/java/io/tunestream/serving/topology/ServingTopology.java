package io.tunestream.serving.topology;

import io.tunestream.schemas.AdapterVersion;
import io.tunestream.schemas.TaskTemplate;
import io.tunestream.schemas.adapters.AdapterCheck;
import io.tunestream.schemas.adapters.AdapterVerifier;
import io.tunestream.serving.adapters.AdapterStoreUpdater;
import io.tunestream.serving.batch.BatchAnswerer;
import io.tunestream.serving.batch.ModelLiveness;
import io.tunestream.serving.batch.RetryingAnswerer;
import io.tunestream.serving.ops.ServingMetrics;
import io.tunestream.serving.serde.AvroBinarySerde;
import io.tunestream.serving.serde.ServingSerdes;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.Executor;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.state.Stores;

/**
 * Builds the serving topology:
 * <pre>
 *   task-templates ──▶ [templates]   (global store, checked templates)
 *   adapters       ──▶ [adapters]    (global store, checked adapters, recent versions per task)
 *   requests ──▶ request-decoder ──▶ request-batcher ──▶ answers
 *                 │ decode · wait      │ validate · buffer · batch · answer
 *                 │                    ├─ [request-buffer] (persistent, changelogged)
 *                 │                    ├─ [answered-ids]   (persistent, changelogged: ids answered within the dedupe window)
 *                 │                    └──▶ requests-dlq (ids too long to answer: a pointer and the reason)
 *                 ├─ [pending-requests] (persistent, changelogged: raw records waiting for the registry)
 *                 └──▶ requests-dlq (records that can never be read)
 * </pre>
 * Every source reads bytes: values are decoded in the processors and the global store updaters, where a
 * registry outage is waited out ({@link RequestDecoder}, {@link GlobalRecordReader}) instead of turning
 * valid records into dead letters. Records that can never be read go to the dead-letter topic: requests
 * through the dead-letter sink (in the task's transaction), global records through
 * {@link InputRecovery#globalDeadLetters()}. No deserialization exception handler is needed.
 */
public final class ServingTopology {

    public static final String TEMPLATE_STORE = "templates";
    public static final String ADAPTER_STORE = "adapters";
    public static final String BUFFER_STORE = "request-buffer";
    public static final String ANSWERED_STORE = "answered-ids";
    public static final String PENDING_STORE = "pending-requests";
    public static final String DECODER = "request-decoder";
    public static final String BATCHER = "request-batcher";
    public static final String ANSWERS_SINK = "answers-sink";
    /** The decoder's dead letters: records that can never be read, as they arrived. */
    public static final String DEAD_LETTER_SINK = "dead-letter-sink";
    /** The batcher's dead letters: requests whose id is too long to key an answer. */
    public static final String UNANSWERABLE_SINK = "unanswerable-sink";

    private ServingTopology() {
    }

    /**
     * @param modelExecutor where batches run; {@code Runnable::run} runs them on the stream thread (tests)
     */
    public static Topology build(ServingTopics topics, ServingSerdes serdes, BatchingSettings settings,
                                 BatchAnswerer answerer, Executor modelExecutor, ServingMetrics metrics,
                                 Clock clock, InputRecovery recovery) {
        return build(topics, serdes, settings, answerer, modelExecutor, metrics,
                new ModelLiveness(clock, settings.cancelGrace()), clock, recovery);
    }

    /**
     * @param modelExecutor where batches run; {@code Runnable::run} runs them on the stream thread (tests)
     * @param liveness      told about cancelled batches; {@code /health/live} reads it
     * @param recovery      where the global stores' dead letters go, the registry waits, the stop signal
     */
    public static Topology build(ServingTopics topics, ServingSerdes serdes, BatchingSettings settings,
                                 BatchAnswerer answerer, Executor modelExecutor, ServingMetrics metrics,
                                 ModelLiveness liveness, Clock clock, InputRecovery recovery) {
        return build(topics, serdes, settings, answerer, modelExecutor, metrics, liveness, clock, recovery,
                AdapterVerifier.off());
    }

    /**
     * @param signatures checks every adapter's signature before it is stored ({@link AdapterVerifier#off()}:
     *                   none, what the overloads without it use)
     */
    public static Topology build(ServingTopics topics, ServingSerdes serdes, BatchingSettings settings,
                                 BatchAnswerer answerer, Executor modelExecutor, ServingMetrics metrics,
                                 ModelLiveness liveness, Clock clock, InputRecovery recovery,
                                 AdapterVerifier signatures) {
        var retrying = new RetryingAnswerer(answerer, settings.batchRetries(), Duration.ofMillis(100), metrics);
        var storeTemplates = new AvroBinarySerde<>(TaskTemplate.class, TaskTemplate.getClassSchema());
        var storeAdapters = new AvroBinarySerde<>(AdapterVersion.class, AdapterVersion.getClassSchema());
        var check = new AdapterCheck(answerer.model().fingerprint(), answerer.model().hiddenSize(),
                answerer.model().decoder());
        var topology = new Topology();
        // global stores have their source topic as changelog: no logging of their own. Kafka Streams
        // restores them by running these updaters again, so the checks and the waiting apply at start too
        topology.addGlobalStore(
                Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(TEMPLATE_STORE), Serdes.String(),
                        storeTemplates).withLoggingDisabled(),
                "templates-source", Serdes.ByteArray().deserializer(), Serdes.ByteArray().deserializer(),
                topics.templates(), "templates-updater",
                () -> new TemplateStoreUpdater(TEMPLATE_STORE, new GlobalRecordReader<>(TEMPLATE_STORE,
                        serdes.templates(), topics.deadLetter(), recovery.globalDeadLetters(), recovery.waits(),
                        metrics, recovery.stop()), metrics, answerer.model().hasBos()));
        topology.addGlobalStore(
                Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(ADAPTER_STORE), Serdes.String(),
                        storeAdapters).withLoggingDisabled(),
                "adapters-source", Serdes.ByteArray().deserializer(), Serdes.ByteArray().deserializer(),
                topics.adapters(), "adapters-updater",
                () -> new AdapterStoreUpdater(ADAPTER_STORE, new GlobalRecordReader<>(ADAPTER_STORE,
                        serdes.adapters(), topics.deadLetter(), recovery.globalDeadLetters(), recovery.waits(),
                        metrics, recovery.stop()), check, signatures, settings.keepAdapterVersions(), metrics));
        topology.addSource("requests-source", Serdes.ByteArray().deserializer(), Serdes.ByteArray().deserializer(),
                topics.requests());
        topology.addProcessor(DECODER, () -> new RequestDecoder(PENDING_STORE, serdes.requests(), BATCHER,
                DEAD_LETTER_SINK, topics.deadLetter(), recovery.waits(), metrics, clock), "requests-source");
        topology.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(PENDING_STORE),
                Serdes.String(), new PendingRequest.PendingSerde()).withCachingDisabled(), DECODER);
        topology.addSink(DEAD_LETTER_SINK, topics.deadLetter(), Serdes.ByteArray().serializer(),
                Serdes.ByteArray().serializer(), DECODER);
        topology.addProcessor(BATCHER, () -> new RequestBatcher(BUFFER_STORE, ANSWERED_STORE, TEMPLATE_STORE,
                ADAPTER_STORE, settings, retrying, modelExecutor, metrics, liveness, clock), DECODER);
        // caching off: the batcher reads its own writes through iterators and counts on every delete landing
        topology.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(BUFFER_STORE),
                Serdes.String(), new BufferedRequest.BufferSerde()).withCachingDisabled(), BATCHER);
        // request ids answered within the dedupe window (changelogged, so a new owner knows them too)
        topology.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(ANSWERED_STORE),
                Serdes.String(), Serdes.Long()).withCachingDisabled(), BATCHER);
        topology.addSink(ANSWERS_SINK, topics.answers(), Serdes.String().serializer(), serdes.answers(), BATCHER);
        // requests that cannot be answered at all (an id too long to key an answer): a pointer and the reason
        topology.addSink(UNANSWERABLE_SINK, topics.deadLetter(), Serdes.String().serializer(),
                Serdes.ByteArray().serializer(), BATCHER);
        return topology;
    }
}

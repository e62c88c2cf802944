package io.tunestream.serving.topology;

import io.tunestream.schemas.AdapterVersion;
import io.tunestream.schemas.InferenceRequest;
import io.tunestream.schemas.TaskTemplate;
import io.tunestream.serving.adapters.AdapterCheck;
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
 *   requests ──▶ request-batcher ──▶ answers
 *                 │ validate · buffer · batch · answer    └──▶ requests-dlq (ids too long to answer)
 *                 ├─ [request-buffer] (persistent, changelogged)
 *                 └─ [answered-ids]   (persistent, changelogged: ids answered within the dedupe window)
 * </pre>
 * Undeserializable requests go to the dead-letter topic through {@link DeadLetterHandler}, which the
 * streams configuration must name ({@link DeadLetterHandler#configs}).
 */
public final class ServingTopology {

    public static final String TEMPLATE_STORE = "templates";
    public static final String ADAPTER_STORE = "adapters";
    public static final String BUFFER_STORE = "request-buffer";
    public static final String ANSWERED_STORE = "answered-ids";
    public static final String BATCHER = "request-batcher";
    public static final String ANSWERS_SINK = "answers-sink";
    public static final String DEAD_LETTERS_SINK = "dead-letters-sink";

    private ServingTopology() {
    }

    /**
     * @param modelExecutor where batches run; {@code Runnable::run} runs them on the stream thread (tests)
     */
    public static Topology build(ServingTopics topics, ServingSerdes serdes, BatchingSettings settings,
                                 BatchAnswerer answerer, Executor modelExecutor, ServingMetrics metrics,
                                 Clock clock) {
        return build(topics, serdes, settings, answerer, modelExecutor, metrics,
                new ModelLiveness(clock, settings.cancelGrace()), clock);
    }

    /**
     * @param modelExecutor where batches run; {@code Runnable::run} runs them on the stream thread (tests)
     * @param liveness      told about cancelled batches; {@code /health/live} reads it
     */
    public static Topology build(ServingTopics topics, ServingSerdes serdes, BatchingSettings settings,
                                 BatchAnswerer answerer, Executor modelExecutor, ServingMetrics metrics,
                                 ModelLiveness liveness, Clock clock) {
        var retrying = new RetryingAnswerer(answerer, settings.batchRetries(), Duration.ofMillis(100), metrics);
        var storeTemplates = new AvroBinarySerde<>(TaskTemplate.class, TaskTemplate.getClassSchema());
        var storeAdapters = new AvroBinarySerde<>(AdapterVersion.class, AdapterVersion.getClassSchema());
        var check = new AdapterCheck(answerer.model());
        var topology = new Topology();
        // global stores have their source topic as changelog: no logging of their own
        topology.addGlobalStore(
                Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(TEMPLATE_STORE), Serdes.String(),
                        storeTemplates).withLoggingDisabled(),
                "templates-source", Serdes.String().deserializer(), serdes.templates().deserializer(),
                topics.templates(), "templates-updater", () -> new TemplateStoreUpdater(TEMPLATE_STORE));
        topology.addGlobalStore(
                Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(ADAPTER_STORE), Serdes.String(),
                        storeAdapters).withLoggingDisabled(),
                "adapters-source", Serdes.String().deserializer(), serdes.adapters().deserializer(),
                topics.adapters(), "adapters-updater",
                () -> new AdapterStoreUpdater(ADAPTER_STORE, check, settings.keepAdapterVersions(), metrics));
        topology.addSource("requests-source", Serdes.String().deserializer(),
                serdes.requests().<InferenceRequest>deserializer(), topics.requests());
        topology.addProcessor(BATCHER, () -> new RequestBatcher(BUFFER_STORE, ANSWERED_STORE, TEMPLATE_STORE,
                ADAPTER_STORE, settings, retrying, modelExecutor, metrics, liveness, clock), "requests-source");
        // caching off: the batcher reads its own writes through iterators and counts on every delete landing
        topology.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(BUFFER_STORE),
                Serdes.String(), new BufferedRequest.BufferSerde()).withCachingDisabled(), BATCHER);
        // request ids answered within the dedupe window (changelogged, so a new owner knows them too)
        topology.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(ANSWERED_STORE),
                Serdes.String(), Serdes.Long()).withCachingDisabled(), BATCHER);
        topology.addSink(ANSWERS_SINK, topics.answers(), Serdes.String().serializer(),
                serdes.answers().serializer(), BATCHER);
        // requests that cannot be answered at all (an id too long to key an answer): a pointer and the reason
        topology.addSink(DEAD_LETTERS_SINK, topics.deadLetter(), Serdes.String().serializer(),
                Serdes.ByteArray().serializer(), BATCHER);
        return topology;
    }
}

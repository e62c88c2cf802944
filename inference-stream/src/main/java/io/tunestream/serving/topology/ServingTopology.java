package io.tunestream.serving.topology;

import io.tunestream.schemas.AdapterVersion;
import io.tunestream.schemas.InferenceRequest;
import io.tunestream.schemas.TaskTemplate;
import io.tunestream.serving.adapters.AdapterCheck;
import io.tunestream.serving.adapters.AdapterStoreUpdater;
import io.tunestream.serving.batch.BatchAnswerer;
import io.tunestream.serving.ops.ServingMetrics;
import io.tunestream.serving.serde.AvroBinarySerde;
import io.tunestream.serving.serde.ServingSerdes;
import java.time.Clock;
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
 *                 │ validate · buffer · batch · answer
 *                 └─ [request-buffer] (persistent, changelogged)
 * </pre>
 * Undeserializable requests go to the dead-letter topic through {@link DeadLetterHandler}, which the
 * streams configuration must name ({@link DeadLetterHandler#configs}).
 */
public final class ServingTopology {

    public static final String TEMPLATE_STORE = "templates";
    public static final String ADAPTER_STORE = "adapters";
    public static final String BUFFER_STORE = "request-buffer";
    public static final String BATCHER = "request-batcher";

    private ServingTopology() {
    }

    /**
     * @param modelExecutor where batches run; {@code Runnable::run} runs them on the stream thread (tests)
     */
    public static Topology build(ServingTopics topics, ServingSerdes serdes, BatchingSettings settings,
                                 BatchAnswerer answerer, Executor modelExecutor, ServingMetrics metrics,
                                 Clock clock) {
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
        topology.addProcessor(BATCHER, () -> new RequestBatcher(BUFFER_STORE, TEMPLATE_STORE, ADAPTER_STORE, settings,
                answerer, modelExecutor, metrics, clock), "requests-source");
        // caching off: the batcher reads its own writes through iterators and counts on every delete landing
        topology.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(BUFFER_STORE),
                Serdes.String(), new BufferedRequest.BufferSerde()).withCachingDisabled(), BATCHER);
        topology.addSink("answers-sink", topics.answers(), Serdes.String().serializer(),
                serdes.answers().serializer(), BATCHER);
        return topology;
    }
}

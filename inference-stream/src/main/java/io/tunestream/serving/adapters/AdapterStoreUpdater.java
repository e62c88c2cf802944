package io.tunestream.serving.adapters;

import io.tunestream.schemas.AdapterVersion;
import io.tunestream.serving.ops.ServingMetrics;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Feeds the global adapters store from the compacted {@code adapters} topic (key: task). Each
 * version is checked against the serving model first; a refused one is logged as an error,
 * counted, and never stored, so it can never be applied. Keeps the {@code keep} most recent
 * accepted versions of each task so requests can pin one.
 *
 * <p>Runs on the global thread, also when the store is rebuilt from the topic at start.
 */
public final class AdapterStoreUpdater implements Processor<String, AdapterVersion, Void, Void> {

    private static final Logger LOG = LoggerFactory.getLogger(AdapterStoreUpdater.class);

    private final String storeName;
    private final AdapterCheck check;
    private final int keep;
    private final ServingMetrics metrics;
    private KeyValueStore<String, AdapterVersion> store;

    public AdapterStoreUpdater(String storeName, AdapterCheck check, int keep, ServingMetrics metrics) {
        this.storeName = storeName;
        this.check = check;
        this.keep = keep;
        this.metrics = metrics;
    }

    @Override
    public void init(ProcessorContext<Void, Void> context) {
        store = context.getStateStore(storeName);
    }

    @Override
    public void process(Record<String, AdapterVersion> record) {
        AdapterVersion adapter = record.value();
        if (adapter == null) {
            if (record.key() != null) {
                AdapterStore.deleteTask(store, record.key());
                LOG.info("adapters of task {} deleted (tombstone on the adapters topic)", record.key());
            }
            return;
        }
        if (record.key() != null && !record.key().equals(adapter.getTask())) {
            refuse(adapter, new AdapterCheck.Refusal("key", "adapter " + adapter.getTask() + " v"
                    + adapter.getVersion() + " was published under key '" + record.key() + "', not its task"));
            return;
        }
        var refusal = check.refusal(adapter);
        if (refusal.isPresent()) {
            refuse(adapter, refusal.get());
            return;
        }
        AdapterStore.put(store, adapter, keep);
        LOG.info("adapter {} v{} accepted ({} virtual tokens)", adapter.getTask(), adapter.getVersion(),
                adapter.getTable().getShape().get(0));
    }

    private void refuse(AdapterVersion adapter, AdapterCheck.Refusal refusal) {
        LOG.error("adapter refused, it will not be applied: {}", refusal.message());
        metrics.adapterRefused(adapter.getTask(), refusal.reason());
    }
}

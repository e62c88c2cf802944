package io.tunestream.serving.adapters;

import io.tunestream.schemas.AdapterVersion;
import io.tunestream.schemas.adapters.AdapterCheck;
import io.tunestream.schemas.adapters.AdapterVerifier;
import io.tunestream.schemas.registry.Decoded;
import io.tunestream.serving.ops.ServingMetrics;
import io.tunestream.serving.topology.GlobalRecordReader;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.processor.api.RecordMetadata;
import org.apache.kafka.streams.state.KeyValueStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Feeds the global adapters store from the compacted {@code adapters} topic (key: task), reading the
 * raw bytes through a {@link GlobalRecordReader} (waits out registry outages, dead-letters what can
 * never be read). Each version's signature is verified first when verification is on ({@link AdapterVerifier}:
 * a trusted key over task, version, model, template, style and table; unsigned refused unless migrating), then
 * it is checked against the serving model ({@link AdapterCheck}:
 * fingerprint, hidden size, shape, finite values); a refused one is logged as an error with its
 * topic, partition and offset, counted, and never stored, so it can never be applied. Keeps the {@code keep} most recent
 * accepted versions of each task so requests can pin one.
 *
 * <p>Runs on the global thread, also when the store is rebuilt from the topic at start.
 */
public final class AdapterStoreUpdater implements Processor<byte[], byte[], Void, Void> {

    private static final Logger LOG = LoggerFactory.getLogger(AdapterStoreUpdater.class);

    private final String storeName;
    private final GlobalRecordReader<AdapterVersion> reader;
    private final AdapterCheck check;
    private final AdapterVerifier signatures;
    private final int keep;
    private final ServingMetrics metrics;
    private ProcessorContext<Void, Void> context;
    private KeyValueStore<String, AdapterVersion> store;

    /** @param signatures verifies each version's signature before the model checks ({@code AdapterVerifier.off()}: none) */
    public AdapterStoreUpdater(String storeName, GlobalRecordReader<AdapterVersion> reader, AdapterCheck check,
                               AdapterVerifier signatures, int keep, ServingMetrics metrics) {
        this.storeName = storeName;
        this.reader = reader;
        this.check = check;
        this.signatures = signatures;
        this.keep = keep;
        this.metrics = metrics;
    }

    @Override
    public void init(ProcessorContext<Void, Void> context) {
        this.context = context;
        store = context.getStateStore(storeName);
    }

    @Override
    public void process(Record<byte[], byte[]> record) {
        RecordMetadata where = context.recordMetadata().orElseThrow();
        String at = where.topic() + "-" + where.partition() + "@" + where.offset();
        Optional<Decoded.Value<AdapterVersion>> decoded = reader.read(record, where);
        if (decoded.isEmpty()) {
            return;
        }
        AdapterVersion adapter = decoded.get().value();
        String key = record.key() == null ? null : new String(record.key(), StandardCharsets.UTF_8);
        if (adapter == null) {
            if (key != null) {
                AdapterStore.deleteTask(store, key).forEach(v -> metrics.adapterVersionDropped(key, v));
                LOG.info("adapters of task {} deleted (tombstone at {})", key, at);
            }
            return;
        }
        if (key != null && !key.equals(adapter.getTask())) {
            refuse(adapter, at, new AdapterCheck.Refusal("key", "adapter " + adapter.getTask() + " v"
                    + adapter.getVersion() + " was published under key '" + key + "', not its task"));
            return;
        }
        var refusal = signatures.refusal(adapter).or(() -> check.refusal(adapter));
        if (refusal.isPresent()) {
            refuse(adapter, at, refusal.get());
            return;
        }
        AdapterStore.put(store, adapter, keep).forEach(v -> metrics.adapterVersionDropped(adapter.getTask(), v));
        LOG.info("adapter {} v{} accepted ({} virtual tokens, {})", adapter.getTask(), adapter.getVersion(),
                adapter.getTable().getShape().get(0), at);
    }

    private void refuse(AdapterVersion adapter, String at, AdapterCheck.Refusal refusal) {
        LOG.error("adapter at {} refused, it will not be applied: {}", at, refusal.message());
        metrics.adapterRefused(adapter.getTask(), refusal.reason());
    }
}

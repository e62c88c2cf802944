package io.tunestream.serving.model;

import io.tunestream.model.prompt.DeepPromptTable;
import io.tunestream.model.prompt.VirtualTokenTable;
import io.tunestream.schemas.AdapterVersion;
import io.tunestream.schemas.DeepPromptShape;
import io.tunestream.schemas.Tensor;
import io.tunestream.schemas.tensor.TensorCodec;
import java.nio.ByteBuffer;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.zip.CRC32C;

/**
 * The model's tables of recently used adapter versions, decoded from the adapters store's records and kept
 * within a bound in bytes (least recently used out). The store (RocksDB, off the heap) stays the source of every
 * version serving keeps, thousands of tasks included; only the versions batches use are decoded, once each while
 * they stay in here, and a batch of rows on the same version shares one table instance (so the prefix cache,
 * keyed by content, compares them by reference). A table larger than the whole bound is decoded for its batch
 * and not kept.
 *
 * <p>Keyed by task, version, model fingerprint and a CRC32C of the table's dtype, shape, deep-prompt shape and
 * bytes: a version published again with other content (possible on the compacted topic when signatures are off)
 * is another key, never the old table. Signatures are verified when a version enters the store
 * ({@link io.tunestream.serving.adapters.AdapterStoreUpdater}), not here.
 *
 * <p>Thread-safe: model workers decode outside the lock; two missing the same key at once may both decode it.
 */
public final class AdapterTableCache {

    /** Per-entry bytes besides the floats: key, map entry, table record, array header (an estimate). */
    public static final long ENTRY_OVERHEAD_BYTES = 256;

    /**
     * One adapter version's table, as the generator takes it: exactly one of the two is present.
     *
     * @param virtualTokens the virtual-token table of a p-tuning or prompt-tuning adapter
     * @param deepPrompt    the per-layer prefix of a deep-prompt (prefix-tuning) adapter
     */
    public record Tables(Optional<VirtualTokenTable> virtualTokens, Optional<DeepPromptTable> deepPrompt) {

        long floats() {
            return virtualTokens.map(t -> (long) t.values().length).orElse(0L)
                    + deepPrompt.map(t -> (long) t.values().length).orElse(0L);
        }
    }

    /**
     * Counters since the cache was made, and what it holds now.
     *
     * @param hits      lookups that found their tables
     * @param misses    lookups that decoded them
     * @param evictions entries dropped to stay within the bound (a table larger than it counts too)
     * @param entries   entries held
     * @param bytes     bytes held (floats plus {@link #ENTRY_OVERHEAD_BYTES} an entry)
     */
    public record Stats(long hits, long misses, long evictions, int entries, long bytes) {
    }

    private record Key(String task, int version, String modelFingerprint, long contentCrc) {
    }

    private record Held(Tables tables, long bytes) {
    }

    private final long maxBytes;
    private final LinkedHashMap<Key, Held> entries = new LinkedHashMap<>(16, 0.75f, true);
    private long bytes;
    private long hits;
    private long misses;
    private long evictions;

    /**
     * @param maxBytes the most bytes held; 0 keeps nothing (every lookup decodes)
     * @throws IllegalArgumentException if maxBytes is negative
     */
    public AdapterTableCache(long maxBytes) {
        if (maxBytes < 0) {
            throw new IllegalArgumentException("adapter table cache bytes must be >= 0, got " + maxBytes);
        }
        this.maxBytes = maxBytes;
    }

    /** The bound it was made with. */
    public long maxBytes() {
        return maxBytes;
    }

    /** The decoded tables of {@code adapter}, from the cache or decoded now (and kept if they fit). */
    public Tables tables(AdapterVersion adapter) {
        Key key = new Key(adapter.getTask(), adapter.getVersion(), adapter.getModelFingerprint(), contentCrc(adapter));
        synchronized (this) {
            Held held = entries.get(key);
            if (held != null) {
                hits++;
                return held.tables();
            }
        }
        Tables tables = decode(adapter);
        long size = tables.floats() * Float.BYTES + ENTRY_OVERHEAD_BYTES;
        synchronized (this) {
            misses++;
            if (size > maxBytes) {
                evictions++;
                return tables;
            }
            Held previous = entries.remove(key);
            if (previous != null) {
                bytes -= previous.bytes();
            }
            Iterator<Map.Entry<Key, Held>> eldest = entries.entrySet().iterator();
            while (bytes + size > maxBytes && eldest.hasNext()) {
                bytes -= eldest.next().getValue().bytes();
                eldest.remove();
                evictions++;
            }
            entries.put(key, new Held(tables, size));
            bytes += size;
        }
        return tables;
    }

    /** Bytes held now. */
    public synchronized long bytes() {
        return bytes;
    }

    public synchronized Stats stats() {
        return new Stats(hits, misses, evictions, entries.size(), bytes);
    }

    /** Decodes {@code adapter}'s table into the model's type for its style (what the store checked it against). */
    static Tables decode(AdapterVersion adapter) {
        Tensor table = adapter.getTable();
        int rows = table.getShape().get(0);
        float[] values = TensorCodec.decode(table);
        DeepPromptShape deep = adapter.getDeepPrompt();
        if (deep != null) {
            return new Tables(Optional.empty(), Optional.of(new DeepPromptTable(adapter.getTask(), rows, deep.getLayers(),
                    deep.getKvHeads(), deep.getHeadDim(), values, adapter.getModelFingerprint())));
        }
        return new Tables(Optional.of(new VirtualTokenTable(adapter.getTask(), rows, adapter.getHiddenSize(), values,
                adapter.getModelFingerprint())), Optional.empty());
    }

    private static long contentCrc(AdapterVersion adapter) {
        Tensor table = adapter.getTable();
        var crc = new CRC32C();
        var header = ByteBuffer.allocate(4 * (table.getShape().size() + 5));
        header.putInt(table.getDtype().ordinal());
        table.getShape().forEach(header::putInt);
        DeepPromptShape deep = adapter.getDeepPrompt();
        header.putInt(deep == null ? -1 : deep.getLayers());
        header.putInt(deep == null ? -1 : deep.getKvHeads());
        header.putInt(deep == null ? -1 : deep.getHeadDim());
        header.putInt(adapter.getHiddenSize());
        crc.update(header.flip());
        crc.update(table.getData().duplicate());
        return crc.getValue();
    }
}

package io.tunestream.serving.model;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.stats.CacheStats;
import io.tunestream.model.prompt.DeepPromptTable;
import io.tunestream.model.prompt.VirtualTokenTable;
import io.tunestream.schemas.AdapterVersion;
import io.tunestream.schemas.DeepPromptShape;
import io.tunestream.schemas.Tensor;
import io.tunestream.schemas.tensor.TensorCodec;
import java.nio.ByteBuffer;
import java.util.HexFormat;
import java.util.Optional;
import java.util.zip.CRC32C;

/**
 * The model's tables of recently used adapter versions, decoded from the adapters store's records and kept
 * within a bound in bytes. The store (RocksDB, off the heap) stays the source of every
 * version serving keeps, thousands of tasks included; only the versions batches use are decoded, once each while
 * they stay in here, and a batch of rows on the same version shares one table instance (so the prefix cache,
 * keyed by content, compares them by reference). A table larger than the whole bound is decoded for its batch
 * and not kept (Caffeine evicts it at once, counted as an eviction).
 *
 * <p>A Caffeine cache weighed in bytes (an entry weighs at most {@link Integer#MAX_VALUE}, Caffeine's weights being
 * ints). Its eviction policy is W-TinyLFU, not strict LRU: a version used often stays, and a new version used less
 * than the one it would displace may be the one evicted (its batch still gets the decoded table).
 *
 * <p>Keyed by task, version, model fingerprint and the content's identity: a version published again with other
 * content (possible on the compacted topic when signatures are off) is another key, never the old table. A signed
 * version's identity is its signature, which covers the canonical bytes and was verified when the version entered the
 * store ({@link io.tunestream.serving.adapters.AdapterStoreUpdater}), so a lookup reads 64 bytes, not the table; an
 * unsigned version's is a CRC32C of the table's dtype, shape, deep-prompt shape and bytes (a pass over the table at
 * every lookup: about 0.1 ms for a 7B model's table).
 *
 * <p>Thread-safe: a version is decoded once however many model workers miss it at once (the others wait for
 * that decode; workers on other versions do not). The cache's upkeep (eviction, counting) runs on the thread that
 * reads or writes it, never on a pool, so {@link #stats()} and {@link #bytes()} are exact once the lookups they
 * follow are done.
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

    private record Key(String task, int version, String modelFingerprint, String content) {
    }

    private final long maxBytes;
    private final Cache<Key, Tables> entries;

    /**
     * @param maxBytes the most bytes held; 0 keeps nothing (every lookup decodes)
     * @throws IllegalArgumentException if maxBytes is negative
     */
    public AdapterTableCache(long maxBytes) {
        if (maxBytes < 0) {
            throw new IllegalArgumentException("adapter table cache bytes must be >= 0, got " + maxBytes);
        }
        this.maxBytes = maxBytes;
        this.entries = Caffeine.newBuilder()
                .maximumWeight(maxBytes)
                .weigher((Key key, Tables tables) -> (int) Math.min(Integer.MAX_VALUE, bytesOf(tables)))
                .recordStats()
                .executor(Runnable::run)
                .build();
    }

    /** The bound it was made with. */
    public long maxBytes() {
        return maxBytes;
    }

    /** The decoded tables of {@code adapter}, from the cache or decoded now (and kept if they fit). */
    public Tables tables(AdapterVersion adapter) {
        Key key = new Key(adapter.getTask(), adapter.getVersion(), adapter.getModelFingerprint(), contentId(adapter));
        return entries.get(key, k -> decode(adapter));
    }

    /** Bytes held now. */
    public long bytes() {
        entries.cleanUp();
        return entries.policy().eviction().orElseThrow().weightedSize().orElseThrow();
    }

    public Stats stats() {
        entries.cleanUp();
        CacheStats counted = entries.stats();
        return new Stats(counted.hitCount(), counted.missCount(), counted.evictionCount(),
                Math.toIntExact(entries.estimatedSize()), bytes());
    }

    private static long bytesOf(Tables tables) {
        return tables.floats() * Float.BYTES + ENTRY_OVERHEAD_BYTES;
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

    /** The signature of a signed version, else a CRC32C of the content (see the class comment). */
    private static String contentId(AdapterVersion adapter) {
        ByteBuffer signature = adapter.getSignature();
        if (signature != null) {
            byte[] bytes = new byte[signature.remaining()];
            signature.duplicate().get(bytes);
            return "signature:" + HexFormat.of().formatHex(bytes);
        }
        return "crc32c:" + Long.toHexString(contentCrc(adapter));
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

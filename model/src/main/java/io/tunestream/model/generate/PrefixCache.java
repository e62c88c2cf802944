package io.tunestream.model.generate;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.tunestream.model.onnx.ComputedPrefix;
import io.tunestream.model.prompt.DeepPromptTable;
import io.tunestream.model.prompt.Prompt;
import io.tunestream.model.prompt.TaskTemplate;
import io.tunestream.model.prompt.VirtualTokenTable;

import java.util.Optional;
import java.util.concurrent.atomic.LongAdder;

/**
 * The keys and values of each task's shared prompt start (virtual tokens or deep prompt, then the template
 * text before the first field), computed once and reused by every row that starts the same way, so that
 * prefill runs only on the rest of the prompt ({@link Generator}). Bounded by bytes: a Caffeine cache weighed in
 * bytes, whose eviction policy is W-TinyLFU, not strict LRU: an entry used often stays, and a new entry used
 * less than the one it would displace may be the one evicted (it is still used by the batch that computed it).
 * An entry larger than the whole bound is used by the batch that computed it (by all its rows with that start)
 * and not kept (Caffeine evicts it at once, counted as an eviction).
 *
 * <p>Entries are keyed by content: the model, the template as the row uses it and the adapter's tables. A
 * new template or adapter version is another key, so an entry is never used after its template or adapter
 * changed; the stale entry is evicted when room is needed. Two threads missing the same key at once may both
 * compute it (the last one is kept).
 *
 * <p>Memory: {@link #bytes()} counts the keys and values held and the adapter tables the keys refer to (an entry
 * weighs at most {@link Integer#MAX_VALUE} bytes, Caffeine's weights being ints). A batch keeps using the entries
 * its rows took even when they are evicted meanwhile, so in-flight batches can hold more.
 *
 * <p>Thread-safe. The cache's upkeep (eviction, counting) runs on the thread that reads or writes it, never on
 * a pool, so {@link #stats()} and {@link #bytes()} are exact once the writes they follow are done; the counters
 * are read one by one, so a snapshot taken while batches run may be mid-update.
 */
public final class PrefixCache {

    /**
     * What one row's prompt is looked up by.
     *
     * @param modelFingerprint the model the keys and values come from
     * @param template         the template as the row uses it (without virtual tokens for a base-model or deep-prompt row)
     * @param virtualTokens    the row's soft prompt, or empty
     * @param deepPrompt       the row's deep prompt, or empty
     */
    record Key(String modelFingerprint, TaskTemplate template, Optional<VirtualTokenTable> virtualTokens,
               Optional<DeepPromptTable> deepPrompt) {
    }

    /**
     * A computed shared start.
     *
     * @param start  the shared positions (token ids and virtual rows), without the deep prompt's
     * @param prefix their keys and values after the deep prompt's, or empty when nothing is shared
     */
    record Entry(Prompt start, Optional<ComputedPrefix> prefix) {
    }

    /**
     * Counters since the cache was made, and what it holds now.
     *
     * @param hits            lookups that found their entry
     * @param misses          lookups that computed it
     * @param fallbacks       rows whose prompt shares no position with its entry (run whole)
     * @param failures        entries that could not be computed (the rows ran whole)
     * @param evictions       entries dropped to stay within the bound (an entry larger than it counts too)
     * @param reusedPositions prompt positions taken from the cache instead of being prefilled
     * @param entries         entries held
     * @param bytes           bytes held
     */
    public record Stats(long hits, long misses, long fallbacks, long failures, long evictions, long reusedPositions,
                        int entries, long bytes) {
    }

    private final long maxBytes;
    private final Cache<Key, Entry> entries;
    private final LongAdder hits = new LongAdder();
    private final LongAdder misses = new LongAdder();
    private final LongAdder fallbacks = new LongAdder();
    private final LongAdder failures = new LongAdder();
    private final LongAdder evictions = new LongAdder();
    private final LongAdder reusedPositions = new LongAdder();

    /**
     * @param maxBytes the most bytes held; at least 1
     * @throws IllegalArgumentException if maxBytes is below 1
     */
    public PrefixCache(long maxBytes) {
        if (maxBytes < 1) {
            throw new IllegalArgumentException("a prefix cache needs a bound of at least 1 byte, got " + maxBytes);
        }
        this.maxBytes = maxBytes;
        this.entries = Caffeine.newBuilder()
                .maximumWeight(maxBytes)
                .weigher((Key key, Entry entry) -> (int) Math.min(Integer.MAX_VALUE, sizeOf(key, entry)))
                .evictionListener((key, entry, cause) -> evictions.increment())
                .executor(Runnable::run)
                .build();
    }

    /** The bound it was made with. */
    public long maxBytes() {
        return maxBytes;
    }

    /** The entry of {@code key}, counted as a hit, or empty (the caller computes it and {@link #put}s it). */
    Optional<Entry> get(Key key) {
        Entry entry = entries.getIfPresent(key);
        if (entry != null) {
            hits.increment();
        }
        return Optional.ofNullable(entry);
    }

    /** Keeps a computed entry (counted as a miss); the cache evicts entries to stay within the bound. */
    void put(Key key, Entry entry) {
        misses.increment();
        entries.put(key, entry);
    }

    /** A row found its entry among those its batch already took (counted as a hit; the cache may have evicted it). */
    void hitInBatch() {
        hits.increment();
    }

    void failed() {
        misses.increment();
        failures.increment();
    }

    void fellBack() {
        fallbacks.increment();
    }

    void reused(int positions) {
        reusedPositions.add(positions);
    }

    /** Bytes held now. */
    public long bytes() {
        entries.cleanUp();
        return entries.policy().eviction().orElseThrow().weightedSize().orElseThrow();
    }

    public Stats stats() {
        entries.cleanUp();
        return new Stats(hits.sum(), misses.sum(), fallbacks.sum(), failures.sum(), evictions.sum(),
                reusedPositions.sum(), Math.toIntExact(entries.estimatedSize()), bytes());
    }

    /** Drops every entry (counters stay; not counted as evictions). */
    public void clear() {
        entries.invalidateAll();
        entries.cleanUp();
    }

    private static long sizeOf(Key key, Entry entry) {
        long size = entry.prefix().map(ComputedPrefix::bytes).orElse(0L) + 8L * entry.start().length();
        size += key.virtualTokens().map(t -> (long) t.values().length * Float.BYTES).orElse(0L);
        size += key.deepPrompt().map(d -> (long) d.values().length * Float.BYTES).orElse(0L);
        return Math.max(1, size + key.template().promptTemplate().length() * 2L);
    }

    @Override
    public String toString() {
        return "PrefixCache[" + stats() + ", max " + maxBytes + " bytes]";
    }
}

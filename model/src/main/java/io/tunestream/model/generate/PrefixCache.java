package io.tunestream.model.generate;

import io.tunestream.model.onnx.ComputedPrefix;
import io.tunestream.model.prompt.DeepPromptTable;
import io.tunestream.model.prompt.Prompt;
import io.tunestream.model.prompt.TaskTemplate;
import io.tunestream.model.prompt.VirtualTokenTable;

import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * The keys and values of each task's shared prompt start (virtual tokens or deep prompt, then the template
 * text before the first field), computed once and reused by every row that starts the same way, so that
 * prefill runs only on the rest of the prompt ({@link Generator}). Bounded by bytes; the least recently used
 * entries are evicted to make room, and an entry larger than the whole bound is used by the batch that
 * computed it (by all its rows with that start) and not kept.
 *
 * <p>Entries are keyed by content: the model, the template as the row uses it and the adapter's tables. A
 * new template or adapter version is another key, so an entry is never used after its template or adapter
 * changed; the stale entry is evicted when room is needed. Two threads missing the same key at once may both
 * compute it (the last one is kept).
 *
 * <p>Memory: {@link #bytes()} counts the keys and values held and the adapter tables the keys refer to. A
 * batch keeps using the entries its rows took even when they are evicted meanwhile, so in-flight batches can
 * hold more. Thread-safe.
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
    private final LinkedHashMap<Key, Held> entries = new LinkedHashMap<>(16, 0.75f, true);
    private long bytes;
    private long hits;
    private long misses;
    private long fallbacks;
    private long failures;
    private long evictions;
    private long reusedPositions;

    private record Held(Entry entry, long bytes) {
    }

    /**
     * @param maxBytes the most bytes held; at least 1
     * @throws IllegalArgumentException if maxBytes is below 1
     */
    public PrefixCache(long maxBytes) {
        if (maxBytes < 1) {
            throw new IllegalArgumentException("a prefix cache needs a bound of at least 1 byte, got " + maxBytes);
        }
        this.maxBytes = maxBytes;
    }

    /** The bound it was made with. */
    public long maxBytes() {
        return maxBytes;
    }

    /** The entry of {@code key}, counted as a hit, or empty (the caller computes it and {@link #put}s it). */
    synchronized Optional<Entry> get(Key key) {
        Held held = entries.get(key);
        if (held == null) {
            return Optional.empty();
        }
        hits++;
        return Optional.of(held.entry());
    }

    /** Keeps a computed entry (counted as a miss), evicting the least recently used ones to stay within the bound. */
    synchronized void put(Key key, Entry entry) {
        misses++;
        Held previous = entries.remove(key);
        if (previous != null) {
            bytes -= previous.bytes();
        }
        long size = sizeOf(key, entry);
        if (size > maxBytes) {
            evictions++;
            return;
        }
        Iterator<Map.Entry<Key, Held>> eldest = entries.entrySet().iterator();
        while (bytes + size > maxBytes && eldest.hasNext()) {
            bytes -= eldest.next().getValue().bytes();
            eldest.remove();
            evictions++;
        }
        entries.put(key, new Held(entry, size));
        bytes += size;
    }

    /** A row found its entry among those its batch already took (counted as a hit; the cache may have evicted it). */
    synchronized void hitInBatch() {
        hits++;
    }

    synchronized void failed() {
        misses++;
        failures++;
    }

    synchronized void fellBack() {
        fallbacks++;
    }

    synchronized void reused(int positions) {
        reusedPositions += positions;
    }

    /** Bytes held now. */
    public synchronized long bytes() {
        return bytes;
    }

    public synchronized Stats stats() {
        return new Stats(hits, misses, fallbacks, failures, evictions, reusedPositions, entries.size(), bytes);
    }

    /** Drops every entry (counters stay). */
    public synchronized void clear() {
        entries.clear();
        bytes = 0;
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

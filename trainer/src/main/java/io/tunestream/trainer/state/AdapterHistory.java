package io.tunestream.trainer.state;

import io.tunestream.schemas.AdapterVersion;
import java.util.ArrayList;
import java.util.List;
import java.util.NavigableMap;
import java.util.Optional;
import java.util.TreeMap;

/**
 * A task's kept adapter versions, from {@code adapter-history} (compacted by {@code <task>/<version>}): the
 * versions a rollback can go back to. Holds at most {@code keep} versions, the newest; the trainer tombstones
 * the older ones on the topic when it publishes ({@link #expiredBy(int)}). Confined to the loop's thread.
 */
public final class AdapterHistory {

    private final int keep;
    private final NavigableMap<Integer, AdapterVersion> versions = new TreeMap<>();
    /** Versions dropped from memory (beyond {@code keep}) whose tombstone has not been read yet. */
    private final java.util.SortedSet<Integer> dropped = new java.util.TreeSet<>();

    public AdapterHistory(int keep) {
        if (keep < 1) {
            throw new IllegalArgumentException("adapter versions kept per task must be at least 1, got " + keep);
        }
        this.keep = keep;
    }

    /** A version read from (or published to) the history topic; beyond {@code keep}, the oldest goes. */
    public void add(AdapterVersion version) {
        versions.put(version.getVersion(), version);
        dropped.remove(version.getVersion());
        while (versions.size() > keep) {
            dropped.add(versions.pollFirstEntry().getKey());
        }
    }

    /** A tombstone of the history topic. */
    public void remove(int version) {
        versions.remove(version);
        dropped.remove(version);
    }

    public Optional<AdapterVersion> version(int version) {
        return Optional.ofNullable(versions.get(version));
    }

    /** The kept versions, oldest first. */
    public List<AdapterVersion> all() {
        return List.copyOf(versions.values());
    }

    /**
     * The versions to tombstone once {@code published} is added: those that fall out of the newest {@code keep}, and
     * those already dropped from memory whose tombstone has not been seen (read from a topic holding more).
     */
    public List<Integer> expiredBy(int published) {
        List<Integer> numbers = new ArrayList<>(versions.keySet());
        numbers.add(published);
        numbers.sort(null);
        List<Integer> expired = new ArrayList<>(dropped);
        expired.addAll(numbers.subList(0, Math.max(0, numbers.size() - keep)));
        return List.copyOf(expired);
    }
}

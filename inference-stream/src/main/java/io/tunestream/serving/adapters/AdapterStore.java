package io.tunestream.serving.adapters;

import io.tunestream.schemas.AdapterVersion;
import java.util.Optional;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.ReadOnlyKeyValueStore;

/**
 * The layout of the adapters store: one entry per accepted version, keyed {@code task NUL version}
 * with the version zero-padded, so a task's versions sort in order and the latest is the last.
 * Only versions that passed {@link io.tunestream.schemas.adapters.AdapterCheck} are ever in it.
 */
public final class AdapterStore {

    private static final char SEPARATOR = '\u0000';

    private AdapterStore() {
    }

    static String key(String task, int version) {
        return task + SEPARATOR + String.format("%010d", version);
    }

    private static String from(String task) {
        return task + SEPARATOR;
    }

    private static String to(String task) {
        return task + SEPARATOR + '\uffff';
    }

    /** The highest accepted version of {@code task}. */
    public static Optional<AdapterVersion> latest(ReadOnlyKeyValueStore<String, AdapterVersion> store, String task) {
        try (KeyValueIterator<String, AdapterVersion> it = store.reverseRange(from(task), to(task))) {
            return it.hasNext() ? Optional.of(it.next().value) : Optional.empty();
        }
    }

    /** Version {@code version} of {@code task}, if accepted and still among the recent ones kept. */
    public static Optional<AdapterVersion> version(ReadOnlyKeyValueStore<String, AdapterVersion> store, String task,
                                                   int version) {
        return Optional.ofNullable(store.get(key(task, version)));
    }

    /**
     * Stores {@code adapter} and drops the task's versions beyond the {@code keep} most recent.
     *
     * @return the versions dropped
     */
    static java.util.List<Integer> put(KeyValueStore<String, AdapterVersion> store, AdapterVersion adapter, int keep) {
        store.put(key(adapter.getTask(), adapter.getVersion()), adapter);
        int seen = 0;
        try (KeyValueIterator<String, AdapterVersion> it = store.reverseRange(from(adapter.getTask()),
                to(adapter.getTask()))) {
            var stale = new java.util.ArrayList<String>();
            while (it.hasNext()) {
                String key = it.next().key;
                if (++seen > keep) {
                    stale.add(key);
                }
            }
            stale.forEach(store::delete);
            return stale.stream().map(AdapterStore::version).toList();
        }
    }

    private static int version(String key) {
        return Integer.parseInt(key.substring(key.lastIndexOf(SEPARATOR) + 1));
    }

    /**
     * Drops every version of {@code task} (its key was deleted on the adapters topic).
     *
     * @return the versions dropped
     */
    static java.util.List<Integer> deleteTask(KeyValueStore<String, AdapterVersion> store, String task) {
        var keys = new java.util.ArrayList<String>();
        try (KeyValueIterator<String, AdapterVersion> it = store.range(from(task), to(task))) {
            it.forEachRemaining(kv -> keys.add(kv.key));
        }
        keys.forEach(store::delete);
        return keys.stream().map(AdapterStore::version).toList();
    }
}

package io.tunestream.trainer.state;

import java.util.Collection;
import java.util.Collections;
import java.util.Map;
import java.util.TreeMap;

/** Every task the trainer has heard of, by name. Confined to the consumer loop's thread. */
public final class TaskStates {

    private final Map<String, TaskState> tasks = new TreeMap<>();
    private final int maxExamplesPerSplit;
    private final int keptVersions;
    private long nextSequence;

    /** Tasks that keep at most {@code maxExamplesPerSplit} examples of each split ({@link TaskState}), 10 versions. */
    public TaskStates(int maxExamplesPerSplit) {
        this(maxExamplesPerSplit, 10);
    }

    /** Tasks that keep at most {@code maxExamplesPerSplit} examples of each split and {@code keptVersions}. */
    public TaskStates(int maxExamplesPerSplit, int keptVersions) {
        if (maxExamplesPerSplit < 1) {
            throw new IllegalArgumentException("max examples per task and split must be at least 1, got "
                    + maxExamplesPerSplit);
        }
        this.maxExamplesPerSplit = maxExamplesPerSplit;
        this.keptVersions = keptVersions;
    }

    /** The task's state, if the trainer has heard of it. */
    public java.util.Optional<TaskState> find(String task) {
        return java.util.Optional.ofNullable(tasks.get(task));
    }

    /** The task's state, created empty on first mention. */
    public TaskState task(String task) {
        return tasks.computeIfAbsent(task, name -> new TaskState(name, maxExamplesPerSplit, keptVersions));
    }

    public Collection<TaskState> all() {
        return Collections.unmodifiableCollection(tasks.values());
    }

    /** The next arrival number for an example. */
    public long nextSequence() {
        return nextSequence++;
    }
}

package io.tunestream.trainer.state;

import java.util.Collection;
import java.util.Collections;
import java.util.Map;
import java.util.TreeMap;

/** Every task the trainer has heard of, by name. Confined to the consumer loop's thread. */
public final class TaskStates {

    private final Map<String, TaskState> tasks = new TreeMap<>();
    private long nextSequence;

    /** The task's state, created empty on first mention. */
    public TaskState task(String task) {
        return tasks.computeIfAbsent(task, TaskState::new);
    }

    public Collection<TaskState> all() {
        return Collections.unmodifiableCollection(tasks.values());
    }

    /** The next arrival number for an example. */
    public long nextSequence() {
        return nextSequence++;
    }
}

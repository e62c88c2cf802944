package io.tunestream.schemas;

import java.util.Objects;
import java.util.Optional;

/**
 * The key of an {@code examples} record: {@code <task>/<exampleId>}. Compaction keeps the latest
 * record per example, a tombstone (null value) under this key deletes the example, and the task
 * part alone picks the partition ({@link io.tunestream.schemas.kafka.TaskPartitioner}), so all of a
 * task's examples are on one partition, in the order they were written.
 *
 * <p>Records written before this key existed are keyed by the task alone; {@link #parse} gives
 * empty for them, and readers take the example id from the value.
 *
 * @param task      the task (a valid {@link TaskNames task name})
 * @param exampleId the example's id (any text, '/' included)
 */
public record ExampleKey(String task, String exampleId) {

    /** Between the task and the example id. */
    public static final char SEPARATOR = '/';

    public ExampleKey {
        TaskNames.require(task);
        Objects.requireNonNull(exampleId, "exampleId");
        if (exampleId.isEmpty()) {
            throw new IllegalArgumentException("task '" + task + "': example id must not be empty");
        }
    }

    /** The key of {@code example}. */
    public static ExampleKey of(LabelledExample example) {
        return new ExampleKey(example.getTask(), example.getExampleId());
    }

    /**
     * The task and example id of a record key, or empty for a key without '/' (a record keyed by its
     * task only, written before example keys) or with an empty part.
     */
    public static Optional<ExampleKey> parse(String key) {
        if (key == null) {
            return Optional.empty();
        }
        int at = key.indexOf(SEPARATOR);
        if (at <= 0 || at == key.length() - 1 || TaskNames.problem(key.substring(0, at)).isPresent()) {
            return Optional.empty();
        }
        return Optional.of(new ExampleKey(key.substring(0, at), key.substring(at + 1)));
    }

    /** {@code <task>/<exampleId>}. */
    @Override
    public String toString() {
        return task + SEPARATOR + exampleId;
    }
}

package io.tunestream.schemas;

import java.util.Optional;

/**
 * The rule for task names, checked wherever a task name comes in (templates, examples, the
 * trainer): not blank, and no {@code '/'}, which separates the task from the example id in the
 * keys of {@code examples} ({@link ExampleKey}).
 */
public final class TaskNames {

    private TaskNames() {
    }

    /** Empty when {@code task} is a valid task name, otherwise what is wrong with it. */
    public static Optional<String> problem(String task) {
        if (task == null || task.isBlank()) {
            return Optional.of("task name must not be empty");
        }
        if (task.indexOf(ExampleKey.SEPARATOR) >= 0) {
            return Optional.of("task name '" + task + "' must not contain '" + ExampleKey.SEPARATOR
                    + "' (it separates the task from the example id in the keys of the examples topic)");
        }
        return Optional.empty();
    }

    /**
     * {@code task}, when valid.
     *
     * @throws IllegalArgumentException saying what is wrong with it
     */
    public static String require(String task) {
        problem(task).ifPresent(p -> {
            throw new IllegalArgumentException(p);
        });
        return task;
    }
}

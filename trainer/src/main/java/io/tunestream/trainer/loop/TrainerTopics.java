package io.tunestream.trainer.loop;

import io.tunestream.schemas.TopicSpec;
import io.tunestream.schemas.Topics;
import java.util.List;
import java.util.Objects;

/**
 * The topics the trainer reads and writes, with an optional prefix in front of every name (tests
 * give each case its own topics on a shared broker).
 */
public record TrainerTopics(String prefix) {

    public TrainerTopics {
        Objects.requireNonNull(prefix, "prefix");
    }

    public static TrainerTopics standard() {
        return new TrainerTopics("");
    }

    public String templates() {
        return prefix + Topics.TASK_TEMPLATES.name();
    }

    public String examples() {
        return prefix + Topics.EXAMPLES.name();
    }

    public String feedback() {
        return prefix + Topics.FEEDBACK.name();
    }

    public String adapters() {
        return prefix + Topics.ADAPTERS.name();
    }

    public String checkpoints() {
        return prefix + Topics.ADAPTER_CHECKPOINTS.name();
    }

    public String runs() {
        return prefix + Topics.TRAINING_RUNS.name();
    }

    /** Every published version, keyed {@code <task>/<version>}, kept for rollback. */
    public String history() {
        return prefix + Topics.ADAPTER_HISTORY.name();
    }

    /** Whether a task's retraining is paused, keyed by task. */
    public String controls() {
        return prefix + Topics.TASK_CONTROLS.name();
    }

    /** Where the records of the trainer's inputs that can never be read go. */
    public String deadLetters() {
        return prefix + Topics.TRAINER_DEAD_LETTER.name();
    }

    /**
     * Topics every replica reads whole, whichever tasks it owns: templates (feedback of any task may reach it),
     * adapters and checkpoints (version numbers and warm starts of tasks it may be given), the adapter history and
     * task controls (rollback, paused tasks) and the run records (the API lists every task's runs).
     */
    public List<String> sharedStateTopics() {
        return List.of(templates(), adapters(), checkpoints(), history(), controls(), runs());
    }

    /** The catalogue's specs of the trainer's topics under this prefix, to create the missing ones. */
    public List<TopicSpec> specs() {
        return List.of(Topics.TASK_TEMPLATES, Topics.EXAMPLES, Topics.FEEDBACK, Topics.ADAPTERS,
                Topics.ADAPTER_CHECKPOINTS, Topics.TRAINING_RUNS, Topics.ADAPTER_HISTORY, Topics.TASK_CONTROLS,
                Topics.TRAINER_DEAD_LETTER).stream()
                .map(t -> t.withName(prefix + t.name()))
                .toList();
    }
}

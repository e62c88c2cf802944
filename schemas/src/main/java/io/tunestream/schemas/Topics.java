package io.tunestream.schemas;

import java.util.List;
import java.util.Map;
import org.apache.kafka.common.config.TopicConfig;

/**
 * The one list of Tunestream's topics, their keys, value schemas, cleanup policies and
 * partitions. Every service and tool takes topic names from here.
 */
public final class Topics {

    /** Adapters and checkpoints carry tables and optimizer state: allow records up to 16 MiB. */
    public static final int LARGE_MESSAGE_BYTES = 16 * 1024 * 1024;

    private static final Map<String, String> LARGE = Map.of(TopicConfig.MAX_MESSAGE_BYTES_CONFIG,
            Integer.toString(LARGE_MESSAGE_BYTES));

    public static final TopicSpec REQUESTS = new TopicSpec("requests", "request id",
            InferenceRequest.getClassSchema(), false, 6, Map.of());
    public static final TopicSpec ANSWERS = new TopicSpec("answers", "request id",
            Answer.getClassSchema(), false, 6, Map.of());
    public static final TopicSpec TASK_TEMPLATES = new TopicSpec("task-templates", "task name",
            TaskTemplate.getClassSchema(), true, 1, Map.of());
    public static final TopicSpec ADAPTERS = new TopicSpec("adapters", "task name",
            AdapterVersion.getClassSchema(), true, 1, LARGE);
    public static final TopicSpec ADAPTER_CHECKPOINTS = new TopicSpec("adapter-checkpoints",
            "task name (the head), <task>/resume/<i> (pieces of its exact state), on the task's partition",
            AdapterCheckpoint.getClassSchema(), true, 1, LARGE);
    /**
     * Compacted by example: the key is {@code <task>/<exampleId>} ({@link ExampleKey}), partitioned on
     * the task part ({@link io.tunestream.schemas.kafka.TaskPartitioner}); the latest record of an
     * example is kept, and a tombstone under its key deletes it.
     */
    public static final TopicSpec EXAMPLES = new TopicSpec("examples", "<task>/<exampleId>, partitioned on the task",
            LabelledExample.getClassSchema(), true, 3, Map.of());
    public static final TopicSpec FEEDBACK = new TopicSpec("feedback", "request id",
            Feedback.getClassSchema(), false, 3, Map.of());
    public static final TopicSpec TRAINING_RUNS = new TopicSpec("training-runs", "task name",
            TrainingRun.getClassSchema(), false, 1, Map.of());
    /**
     * Every adapter version the trainer publishes, kept for rollback: compacted by {@code <task>/<version>}
     * (partitioned on the task), and the trainer tombstones a task's versions older than its newest K.
     */
    public static final TopicSpec ADAPTER_HISTORY = new TopicSpec("adapter-history",
            "<task>/<version>, partitioned on the task", AdapterVersion.getClassSchema(), true, 1, LARGE);
    /**
     * Whether a task's retraining is paused: the latest record of a task holds (compacted), so a pause
     * survives restarts and ownership moves.
     */
    public static final TopicSpec TASK_CONTROLS = new TopicSpec("task-controls", "task name",
            TaskControl.getClassSchema(), true, 1, Map.of());
    /**
     * Requests the serving app could not deserialize, as they arrived (raw key and value bytes),
     * with the reason in the headers.
     */
    public static final TopicSpec REQUESTS_DEAD_LETTER = new TopicSpec("requests-dlq", "request key as sent",
            null, false, 1, Map.of());

    /**
     * Records of the trainer's inputs ({@code task-templates}, {@code examples}, {@code adapters},
     * {@code adapter-checkpoints}, {@code feedback}) that can never be read, as they arrived, with the
     * reason and source topic, partition and offset in the headers ({@link DeadLetters}).
     */
    public static final TopicSpec TRAINER_DEAD_LETTER = new TopicSpec("trainer-dlq", "record key as sent",
            null, false, 1, Map.of());

    /**
     * Topics keyed {@code <task>/<rest>} and partitioned on the task part ({@link
     * io.tunestream.schemas.kafka.TaskPartitioner}); other topics hash their keys whole.
     */
    public static final List<TopicSpec> TASK_KEYED = List.of(EXAMPLES, ADAPTER_HISTORY);

    public static final List<TopicSpec> ALL = List.of(REQUESTS, ANSWERS, TASK_TEMPLATES, ADAPTERS,
            ADAPTER_CHECKPOINTS, EXAMPLES, FEEDBACK, TRAINING_RUNS, ADAPTER_HISTORY, TASK_CONTROLS, REQUESTS_DEAD_LETTER,
            TRAINER_DEAD_LETTER);

    private Topics() {
    }
}

package io.tunestream.trainer.state;

import io.tunestream.schemas.AdapterCheckpoint;
import io.tunestream.schemas.AdapterVersion;
import io.tunestream.schemas.DatasetSplit;
import io.tunestream.schemas.LabelledExample;
import io.tunestream.schemas.TaskTemplate;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * One task as the trainer knows it from the topics: the latest template, the examples by id (a
 * later example with the same id replaces the earlier one), the serving adapter (latest on
 * {@code adapters}) and the latest checkpoint, plus which examples a run has already used.
 *
 * <p>Mutable and confined to the consumer loop's thread; runs get a {@link #snapshot()}.
 */
public final class TaskState {

    private final String task;
    private TaskTemplate template;
    private final Map<String, TrackedExample> examples = new LinkedHashMap<>();
    private AdapterVersion serving;
    private AdapterCheckpoint checkpoint;
    /** Examples with a sequence up to this one were there when the last run started. */
    private long usedThroughSequence = -1;

    public TaskState(String task) {
        this.task = Objects.requireNonNull(task, "task");
    }

    public String task() {
        return task;
    }

    public Optional<TaskTemplate> template() {
        return Optional.ofNullable(template);
    }

    /** The latest template; {@code null} removes it (a tombstone). */
    public void template(TaskTemplate latest) {
        this.template = latest;
    }

    /** Adds or replaces (same id) an example. */
    public void example(TrackedExample example) {
        // remove first so that a replaced example moves to the end of the arrival order
        examples.remove(example.id());
        examples.put(example.id(), example);
    }

    public int exampleCount() {
        return examples.size();
    }

    public Optional<AdapterVersion> serving() {
        return Optional.ofNullable(serving);
    }

    /** A published adapter; an older version than the one held is ignored (replays, other trainers). */
    public void serving(AdapterVersion adapter) {
        if (adapter == null || serving == null || adapter.getVersion() >= serving.getVersion()) {
            this.serving = adapter;
        }
    }

    public Optional<AdapterCheckpoint> checkpoint() {
        return Optional.ofNullable(checkpoint);
    }

    public void checkpoint(AdapterCheckpoint latest) {
        if (latest == null || checkpoint == null || latest.getVersion() >= checkpoint.getVersion()) {
            this.checkpoint = latest;
        }
    }

    /** Examples not used by a run yet that the current template can use (none without a template). */
    public List<TrackedExample> newUsableExamples() {
        if (template == null) {
            return List.of();
        }
        List<TrackedExample> fresh = new ArrayList<>();
        for (TrackedExample e : examples.values()) {
            if (e.sequence() > usedThroughSequence && ExampleUsability.problem(e.example(), template).isEmpty()) {
                fresh.add(e);
            }
        }
        return fresh;
    }

    /** When the oldest unused usable example arrived (record timestamp), if there is one. */
    public OptionalLong firstUnusedAtMillis() {
        return newUsableExamples().stream().mapToLong(TrackedExample::timestampMillis).min();
    }

    /**
     * After a restart: counts the examples whose records are not newer than the serving adapter as
     * used, since that adapter was trained with them (the trainer keeps no other record of it).
     */
    public void markUsedUpToServing() {
        if (serving == null) {
            return;
        }
        long publishedAt = serving.getCreatedAtMillis();
        examples.values().stream()
                .filter(e -> e.timestampMillis() <= publishedAt)
                .max(Comparator.comparingLong(TrackedExample::sequence))
                .ifPresent(e -> usedThroughSequence = Math.max(usedThroughSequence, e.sequence()));
    }

    /**
     * The state a run of this task starts from; marks every example held now as used.
     *
     * @throws IllegalStateException when the task has no template
     */
    public TaskSnapshot startRun() {
        if (template == null) {
            throw new IllegalStateException("task '" + task + "' has no template; a run cannot start");
        }
        int fresh = newUsableExamples().size();
        List<LabelledExample> train = new ArrayList<>();
        List<LabelledExample> validation = new ArrayList<>();
        for (TrackedExample e : examples.values()) {
            (e.example().getSplit() == DatasetSplit.VALIDATION ? validation : train).add(e.example());
            usedThroughSequence = Math.max(usedThroughSequence, e.sequence());
        }
        boolean heldOut = false;
        if (validation.isEmpty()) {
            ValidationHoldout.Split<LabelledExample> split = ValidationHoldout.split(train,
                    LabelledExample::getExampleId, template.getRetraining().getValidationFraction());
            train = split.train();
            validation = split.validation();
            heldOut = true;
        }
        return new TaskSnapshot(task, template, train, validation, heldOut, serving(), checkpoint(), fresh);
    }
}

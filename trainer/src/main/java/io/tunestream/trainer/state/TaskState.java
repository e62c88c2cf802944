package io.tunestream.trainer.state;

import io.tunestream.schemas.AdapterCheckpoint;
import io.tunestream.schemas.AdapterVersion;
import io.tunestream.schemas.DatasetSplit;
import io.tunestream.schemas.LabelledExample;
import io.tunestream.schemas.TaskControl;
import io.tunestream.schemas.TaskTemplate;
import io.tunestream.schemas.TrainingRun;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.stream.Stream;

/**
 * One task as the trainer knows it from the topics: the latest template, the examples by id (a
 * later example with the same id replaces the earlier one, a deletion removes it), the serving
 * adapter (latest on {@code adapters}) and the latest checkpoint, plus which examples a run has
 * already used and the highest adapter version ever seen for the task.
 *
 * <p>Memory is bounded: of each split (TRAIN, VALIDATION) only the newest {@code maxExamplesPerSplit}
 * examples are kept, newest by arrival (a task's examples share one partition, so arrival is the
 * order they were written in, the same at every restart); a replaced example counts as new.
 *
 * <p>Mutable and confined to the consumer loop's thread; runs get a {@link #startRun() snapshot}.
 */
public final class TaskState {

    private final String task;
    private final int maxExamplesPerSplit;
    private TaskTemplate template;
    private final Map<String, TrackedExample> train = new LinkedHashMap<>();
    private final Map<String, TrackedExample> validation = new LinkedHashMap<>();
    private long evicted;
    private AdapterVersion serving;
    private AdapterCheckpoint checkpoint;
    private final Map<Integer, AdapterCheckpoint> checkpointPieces = new java.util.TreeMap<>();
    /** The highest adapter version known to have been published, whatever became of its record. */
    private int highestVersion;
    /** Examples with a sequence up to this one were there when the last run started. */
    private long usedThroughSequence = -1;
    private final AdapterHistory history;
    private TaskControl control;
    /** The latest record of each of the task's recent runs, by run id, oldest first. */
    private final LinkedHashMap<String, TrainingRun> recentRuns = new LinkedHashMap<>();
    /** Why a run was asked for through the API, until it starts. */
    private String requestedRun;

    /** How many runs of a task {@link #recentRuns()} keeps. */
    public static final int RECENT_RUNS = 20;

    /** A task that keeps at most {@code maxExamplesPerSplit} examples of each split and 10 adapter versions. */
    public TaskState(String task, int maxExamplesPerSplit) {
        this(task, maxExamplesPerSplit, 10);
    }

    /** A task that keeps at most {@code maxExamplesPerSplit} examples of each split and {@code keptVersions}. */
    public TaskState(String task, int maxExamplesPerSplit, int keptVersions) {
        this.task = Objects.requireNonNull(task, "task");
        this.history = new AdapterHistory(keptVersions);
        if (maxExamplesPerSplit < 1) {
            throw new IllegalArgumentException("task '" + task + "': max examples per split must be at least 1, got "
                    + maxExamplesPerSplit);
        }
        this.maxExamplesPerSplit = maxExamplesPerSplit;
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

    /** Adds or replaces (same id) an example; the oldest of its split goes when the split is full. */
    public void example(TrackedExample example) {
        // remove first so that a replaced example moves to the end of the arrival order (and may change split)
        remove(example.id());
        Map<String, TrackedExample> split = example.example().getSplit() == DatasetSplit.VALIDATION ? validation : train;
        split.put(example.id(), example);
        if (split.size() > maxExamplesPerSplit) {
            Iterator<TrackedExample> oldest = split.values().iterator();
            oldest.next();
            oldest.remove();
            evicted++;
        }
    }

    /** Deletes the example with this id; whether the task held it. */
    public boolean remove(String exampleId) {
        boolean fromTrain = train.remove(exampleId) != null;
        return validation.remove(exampleId) != null || fromTrain;
    }

    /**
     * The task moved to another replica: its examples are dropped (they are read again from the topic
     * if it comes back). Template, adapter, checkpoint and version numbers stay: every replica reads them.
     */
    public void forgetExamples() {
        train.clear();
        validation.clear();
        usedThroughSequence = -1;
    }

    public int exampleCount() {
        return train.size() + validation.size();
    }

    /** The TRAIN examples held (a task without VALIDATION ones validates on a share of these). */
    public int trainingExampleCount() {
        return train.size();
    }

    /** Examples dropped because their split held the newest {@code maxExamplesPerSplit} already. */
    public long evictedCount() {
        return evicted;
    }

    /** The ids of the examples held, TRAIN then VALIDATION, each in arrival order. */
    public List<String> exampleIds() {
        return examples().map(TrackedExample::id).toList();
    }

    private Stream<TrackedExample> examples() {
        return Stream.concat(train.values().stream(), validation.values().stream());
    }

    public Optional<AdapterVersion> serving() {
        return Optional.ofNullable(serving);
    }

    /** A published adapter; an older version than the one held is ignored (replays, other trainers). */
    public void serving(AdapterVersion adapter) {
        if (adapter != null) {
            versionSeen(adapter.getVersion());
        }
        if (adapter == null || serving == null || adapter.getVersion() >= serving.getVersion()) {
            this.serving = adapter;
        }
    }

    public Optional<AdapterCheckpoint> checkpoint() {
        return Optional.ofNullable(checkpoint);
    }

    /**
     * A checkpoint record: a head (the latest version's is kept) or a piece of a head's exact state (kept by index,
     * the latest of each, as compaction keeps them; {@code io.tunestream.trainer.run.CheckpointChunks}).
     */
    public void checkpoint(AdapterCheckpoint latest) {
        if (latest != null) {
            versionSeen(latest.getVersion());
        }
        if (latest != null && latest.getResume() != null && latest.getResume().getChunkIndex() != null) {
            checkpointPieces.put(latest.getResume().getChunkIndex(), latest);
            return;
        }
        if (latest != null && checkpoint != null && latest.getResume() == null && checkpoint.getResume() != null
                && latest.getVersion() == checkpoint.getVersion() && latest.getRunId().equals(checkpoint.getRunId())) {
            // the head a finished run hands back, read from the topic already with its exact state's descriptor
            return;
        }
        if (latest == null || checkpoint == null || latest.getVersion() >= checkpoint.getVersion()) {
            this.checkpoint = latest;
            // pieces of older checkpoints are of no use any more (those of a newer one, not yet headed, stay)
            if (latest != null && latest.getResume() != null) {
                String id = latest.getResume().getCheckpointId();
                checkpointPieces.values().removeIf(p -> p.getVersion() <= latest.getVersion()
                        && !p.getResume().getCheckpointId().equals(id));
            }
        }
    }

    /** The pieces of checkpoint states held, by index. */
    public List<AdapterCheckpoint> checkpointPieces() {
        return List.copyOf(checkpointPieces.values());
    }

    /**
     * A version of this task was published, even if its record cannot be read (a poison adapter
     * record whose version header the trainer wrote): the next run publishes a higher one.
     */
    public void versionSeen(int version) {
        highestVersion = Math.max(highestVersion, version);
    }

    /** The version the next published adapter gets: above every version seen, never reused. */
    public int nextVersion() {
        return Math.max(highestVersion, serving == null ? 0 : serving.getVersion()) + 1;
    }

    /** The kept adapter versions ({@code adapter-history}). */
    public AdapterHistory history() {
        return history;
    }

    /** The latest {@code task-controls} record; {@code null} for a tombstone. */
    public void control(TaskControl latest) {
        this.control = latest;
    }

    public Optional<TaskControl> control() {
        return Optional.ofNullable(control);
    }

    /** Whether the task's retraining is paused: no run starts, neither due nor asked for. */
    public boolean paused() {
        return control != null && control.getPaused();
    }

    /** A {@code training-runs} record of the task: the latest record of each of the newest {@link #RECENT_RUNS} runs. */
    public void run(TrainingRun record) {
        recentRuns.remove(record.getRunId());
        recentRuns.put(record.getRunId(), record);
        while (recentRuns.size() > RECENT_RUNS) {
            recentRuns.remove(recentRuns.keySet().iterator().next());
        }
    }

    /** The latest record of each recent run, oldest run first. */
    public List<TrainingRun> recentRuns() {
        return List.copyOf(recentRuns.values());
    }

    /** A run was asked for (the API): it starts at the next free run slot, new examples or not. */
    public void requestRun(String why) {
        this.requestedRun = Objects.requireNonNull(why, "why");
    }

    public Optional<String> requestedRun() {
        return Optional.ofNullable(requestedRun);
    }

    /** Examples not used by a run yet that the current template can use (none without a template). */
    public List<TrackedExample> newUsableExamples() {
        if (template == null) {
            return List.of();
        }
        List<TrackedExample> fresh = new ArrayList<>();
        for (TrackedExample e : (Iterable<TrackedExample>) examples()::iterator) {
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
        examples()
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
        requestedRun = null;
        int fresh = newUsableExamples().size();
        List<LabelledExample> trainExamples = new ArrayList<>();
        List<LabelledExample> validationExamples = new ArrayList<>();
        examples().forEach(e -> {
            (e.example().getSplit() == DatasetSplit.VALIDATION ? validationExamples : trainExamples).add(e.example());
            usedThroughSequence = Math.max(usedThroughSequence, e.sequence());
        });
        if (validationExamples.isEmpty()) {
            ValidationHoldout.Split<LabelledExample> split = ValidationHoldout.split(trainExamples,
                    LabelledExample::getExampleId, template.getRetraining().getValidationFraction());
            return new TaskSnapshot(task, template, split.train(), split.validation(), true, serving(), checkpoint(),
                    fresh, nextVersion(), checkpointPieces());
        }
        return new TaskSnapshot(task, template, trainExamples, validationExamples, false, serving(), checkpoint(), fresh,
                nextVersion(), checkpointPieces());
    }
}

package io.tunestream.trainer.state;

import io.tunestream.schemas.AdapterCheckpoint;
import io.tunestream.schemas.AdapterVersion;
import io.tunestream.schemas.LabelledExample;
import io.tunestream.schemas.TaskTemplate;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * What one run of a task works on, frozen when the run starts (the consumer loop keeps updating
 * the live {@link TaskState} meanwhile).
 *
 * @param task        task name
 * @param template    the task's latest template
 * @param train       examples to train on
 * @param validation  examples to validate on: the VALIDATION examples, or the held-out TRAIN examples
 * @param heldOut     whether {@code validation} was held out of TRAIN (the task has no VALIDATION example)
 * @param serving     the latest published adapter, if any
 * @param checkpoint  the latest checkpoint, if any
 * @param newExamples examples that arrived since the previous run (what triggered this one)
 * @param nextVersion the version a table published by this run gets: above every version of the task
 *                    ever seen, the serving one included, so none is reused
 * @param checkpointPieces the records holding pieces of the checkpoints' exact states, by index (the run takes those
 *                    of {@code checkpoint}'s id, {@code io.tunestream.trainer.run.CheckpointChunks})
 */
public record TaskSnapshot(String task, TaskTemplate template, List<LabelledExample> train,
                           List<LabelledExample> validation, boolean heldOut, Optional<AdapterVersion> serving,
                           Optional<AdapterCheckpoint> checkpoint, int newExamples, int nextVersion,
                           List<AdapterCheckpoint> checkpointPieces) {

    public TaskSnapshot {
        checkpointPieces = List.copyOf(checkpointPieces);
        Objects.requireNonNull(task, "task");
        Objects.requireNonNull(template, "template");
        Objects.requireNonNull(serving, "serving");
        Objects.requireNonNull(checkpoint, "checkpoint");
        train = List.copyOf(train);
        validation = List.copyOf(validation);
        int servingVersion = serving.map(AdapterVersion::getVersion).orElse(0);
        if (nextVersion <= servingVersion) {
            throw new IllegalArgumentException("task '" + task + "': next version " + nextVersion
                    + " must be above the serving version " + servingVersion);
        }
    }

    /** A snapshot without pieces of an exact checkpoint state. */
    public TaskSnapshot(String task, TaskTemplate template, List<LabelledExample> train,
                        List<LabelledExample> validation, boolean heldOut, Optional<AdapterVersion> serving,
                        Optional<AdapterCheckpoint> checkpoint, int newExamples, int nextVersion) {
        this(task, template, train, validation, heldOut, serving, checkpoint, newExamples, nextVersion, List.of());
    }

    /** A snapshot whose next version follows the serving one (runs outside the loop: benchmarks, tests). */
    public TaskSnapshot(String task, TaskTemplate template, List<LabelledExample> train,
                        List<LabelledExample> validation, boolean heldOut, Optional<AdapterVersion> serving,
                        Optional<AdapterCheckpoint> checkpoint, int newExamples) {
        this(task, template, train, validation, heldOut, serving, checkpoint, newExamples,
                serving.map(AdapterVersion::getVersion).orElse(0) + 1);
    }

    /** The serving version number, 0 when nothing is published. */
    public int servingVersion() {
        return serving.map(AdapterVersion::getVersion).orElse(0);
    }
}

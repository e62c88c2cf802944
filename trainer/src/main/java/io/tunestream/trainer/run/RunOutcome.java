package io.tunestream.trainer.run;

import io.tunestream.schemas.AdapterCheckpoint;
import io.tunestream.schemas.AdapterVersion;
import io.tunestream.schemas.TrainingRun;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/** How a run ended: what it publishes, in one transaction. */
public sealed interface RunOutcome {

    /** The final {@code training-runs} record. */
    TrainingRun run();

    /**
     * A better table: the adapter, its checkpoint and the PUBLISHED run record.
     *
     * @param checkpoint the checkpoint's head record (without its exact state)
     * @param exact      the checkpoint with its exact state, written as pieces and head ({@link CheckpointChunks});
     *                   empty: the head alone is written
     */
    record Published(AdapterVersion adapter, AdapterCheckpoint checkpoint, TrainingRun run,
                     Optional<ExactCheckpoint> exact) implements RunOutcome {
        public Published {
            Objects.requireNonNull(adapter, "adapter");
            Objects.requireNonNull(checkpoint, "checkpoint");
            Objects.requireNonNull(run, "run");
            Objects.requireNonNull(exact, "exact");
        }

        /** A published outcome whose checkpoint is the head alone. */
        public Published(AdapterVersion adapter, AdapterCheckpoint checkpoint, TrainingRun run) {
            this(adapter, checkpoint, run, Optional.empty());
        }

        /** The same outcome with {@code replacement} as its adapter (e.g. signed). */
        public Published withAdapter(AdapterVersion replacement) {
            return new Published(replacement, checkpoint, run, exact);
        }

        /**
         * The checkpoint records to write, in order, whose values are no larger than {@code maxRecordBytes}:
         * the pieces of the exact state, tombstones, then the head; or the head alone.
         */
        public List<CheckpointChunks.Keyed> checkpointRecords(int maxRecordBytes) {
            return exact.map(e -> CheckpointChunks.records(e, maxRecordBytes))
                    .orElseGet(() -> List.of(new CheckpointChunks.Keyed(checkpoint.getTask(), checkpoint)));
        }
    }

    /**
     * Tables published as a new version without a run (a rollback to an earlier version, an imported adapter):
     * the adapter and the ROLLBACK or IMPORTED run record; the task's checkpoint stays as it is.
     */
    record Republished(AdapterVersion adapter, TrainingRun run) implements RunOutcome {
        public Republished {
            Objects.requireNonNull(adapter, "adapter");
            Objects.requireNonNull(run, "run");
        }
    }

    /** Finished without beating the serving table: the NOT_PUBLISHED run record with both losses. */
    record NotPublished(TrainingRun run) implements RunOutcome {
    }

    /** The run could not complete: the FAILED run record with the message. */
    record Failed(TrainingRun run) implements RunOutcome {
    }
}

package io.tunestream.trainer.run;

import io.tunestream.schemas.AdapterVersion;
import io.tunestream.schemas.adapters.AdapterCheck;
import java.util.Optional;

import io.tunestream.schemas.TrainingRun;
import io.tunestream.trainer.state.TaskSnapshot;

/** Runs one task's tuning on a snapshot and says what to publish. Never throws for a bad task: that is a Failed outcome. */
public interface TaskRunner {

    /**
     * @param snapshot what the run trains and validates on
     * @param runId    the run's id
     * @param progress receives a RUNNING record after every epoch
     */
    RunOutcome run(TaskSnapshot snapshot, String runId, Progress progress);

    /**
     * The check an adapter must pass to be published for this runner's model (fingerprint, hidden size, decoder
     * shape): tables published without a run (a rollback, an import) are checked with it. Empty when the runner
     * has no model to check against.
     */
    default Optional<AdapterCheck> adapterCheck() {
        return Optional.empty();
    }

    /**
     * The adapter as this runner publishes it: signed by a {@link SigningTaskRunner}, unchanged otherwise. Tables
     * published without a run (a rollback, an import) go through here like a run's.
     */
    default AdapterVersion seal(AdapterVersion adapter) {
        return adapter;
    }

    /** Where a run reports its epochs. */
    @FunctionalInterface
    interface Progress {
        void report(TrainingRun running);

        /**
         * The run's state at the end of an epoch, when it goes on: written as the task's checkpoint (head and pieces,
         * {@link CheckpointChunks}) so that the replica running the task after a restart or a rebalance resumes it
         * exactly. Not written by default.
         */
        default void checkpoint(ExactCheckpoint running) {
        }

        /** Reports to {@code report} and writes checkpoints with {@code checkpoint}. */
        static Progress of(Progress report, java.util.function.Consumer<ExactCheckpoint> checkpoint) {
            return new Progress() {
                @Override
                public void report(TrainingRun running) {
                    report.report(running);
                }

                @Override
                public void checkpoint(ExactCheckpoint running) {
                    checkpoint.accept(running);
                }
            };
        }
    }
}

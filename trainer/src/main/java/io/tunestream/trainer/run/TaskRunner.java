package io.tunestream.trainer.run;

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

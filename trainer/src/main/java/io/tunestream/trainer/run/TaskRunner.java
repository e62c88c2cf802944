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
    }
}

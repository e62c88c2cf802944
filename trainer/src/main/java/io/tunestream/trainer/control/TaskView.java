package io.tunestream.trainer.control;

/**
 * A task as one replica sees it.
 *
 * @param partition          the task's {@code examples} partition: its owner owns that partition
 * @param ownedHere          whether this replica owns the task (only the owner reads its examples)
 * @param owner              the replica owning the task, when known (filled in by the API from the group)
 * @param servingVersion     the latest version on {@code adapters}, null before the first
 * @param trainingExamples   TRAIN examples held (null when another replica owns the task)
 * @param validationExamples VALIDATION examples held (null when another replica owns the task)
 * @param newExamples        usable examples no run has used yet (null when another replica owns the task)
 * @param paused             retraining paused ({@code task-controls})
 * @param pauseReason        why, when paused
 * @param runningRunId       the run in progress on this replica, if any
 * @param nextRun            when the next run is expected
 */
public record TaskView(String task, int partition, boolean ownedHere, String owner, Integer servingVersion, Integer trainingExamples,
                       Integer validationExamples, Integer newExamples, boolean paused, String pauseReason,
                       String runningRunId, NextRun nextRun) {

    public TaskView withOwner(String replica) {
        return new TaskView(task, partition, ownedHere, replica, servingVersion, trainingExamples, validationExamples, newExamples,
                paused, pauseReason, runningRunId, nextRun);
    }
}

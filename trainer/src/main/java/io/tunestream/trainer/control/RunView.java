package io.tunestream.trainer.control;

import io.tunestream.schemas.TrainingRun;
import java.util.Map;

/** The latest {@code training-runs} record of a run. */
public record RunView(String runId, String task, String status, Integer publishedVersion, Integer sourceVersion,
                      Integer warmStartVersion, long trainingExamples, long validationExamples, long step, int epoch,
                      Double trainLoss, Double validationLoss, Double servingValidationLoss, Map<String, Long> skipped,
                      String message, long startedAtMillis, long updatedAtMillis) {

    public static RunView of(TrainingRun run) {
        return new RunView(run.getRunId(), run.getTask(), run.getStatus().name(), run.getPublishedVersion(),
                run.getSourceVersion(), run.getWarmStartVersion(), run.getTrainingExamples(),
                run.getValidationExamples(), run.getStep(), run.getEpoch(), run.getTrainLoss(), run.getValidationLoss(),
                run.getServingValidationLoss(), Map.copyOf(run.getSkipped()), run.getMessage(),
                run.getStartedAtMillis(), run.getUpdatedAtMillis());
    }
}

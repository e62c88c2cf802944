package io.tunestream.model.tune;

import java.util.List;
import java.util.Map;

/**
 * What a task's tuning did: examples used and skipped (by reason), loss per epoch, best epoch, and
 * why it stopped.
 *
 * @param task               task name
 * @param trainExamples      usable training examples
 * @param validationExamples usable validation examples
 * @param skipped            examples skipped while preparing the data, by reason
 * @param epochs             every finished epoch, resumed runs included
 * @param bestEpoch          epoch of the lowest validation loss (−1 if no epoch finished)
 * @param bestValidationLoss that loss
 * @param steps              optimizer steps taken in total
 * @param stopReason         why the run stopped
 * @param detail             a sentence on the stop (which step, which loss)
 */
public record TuningReport(String task, int trainExamples, int validationExamples, Map<String, Long> skipped,
                           List<EpochResult> epochs, int bestEpoch, double bestValidationLoss, long steps,
                           StopReason stopReason, String detail) {

    public TuningReport {
        skipped = Map.copyOf(skipped);
        epochs = List.copyOf(epochs);
    }
}

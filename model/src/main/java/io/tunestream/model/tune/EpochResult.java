package io.tunestream.model.tune;

/**
 * One finished epoch.
 *
 * @param epoch          0-based
 * @param trainLoss      mean of the epoch's optimizer-step losses
 * @param validationLoss mean loss over every loss token of the validation set
 * @param learningRate   learning rate of the epoch's last step
 */
public record EpochResult(int epoch, double trainLoss, double validationLoss, double learningRate) {
}

package io.tunestream.model.tune;

/**
 * Early stopping on the validation loss, as Lightning's {@code EarlyStopping(monitor="val_loss",
 * mode="min")} that NeMo configures: an epoch improves when its loss is below {@code best − minDelta};
 * the run stops after {@code patience} epochs in a row without improvement. Immutable: {@link #observe}
 * returns the next state.
 *
 * @param patience  epochs without improvement before stopping (NeMo: 10)
 * @param minDelta  smallest decrease that counts as an improvement (NeMo: 0.001)
 * @param best      best loss so far ({@code +∞} before the first epoch)
 * @param bestEpoch epoch of {@code best}, −1 before the first epoch
 * @param badEpochs epochs since the last improvement
 */
public record EarlyStopping(int patience, double minDelta, double best, int bestEpoch, int badEpochs) {

    public EarlyStopping {
        if (patience < 1) {
            throw new IllegalArgumentException("early stopping patience must be at least 1, got " + patience);
        }
        if (!(minDelta >= 0)) {
            throw new IllegalArgumentException("early stopping min_delta must be non-negative, got " + minDelta);
        }
    }

    public static EarlyStopping start(int patience, double minDelta) {
        return new EarlyStopping(patience, minDelta, Double.POSITIVE_INFINITY, -1, 0);
    }

    /** The state after epoch {@code epoch} ended with validation loss {@code loss}. */
    public EarlyStopping observe(int epoch, double loss) {
        if (loss < best - minDelta) {
            return new EarlyStopping(patience, minDelta, loss, epoch, 0);
        }
        return new EarlyStopping(patience, minDelta, best, bestEpoch, badEpochs + 1);
    }

    /** Whether the last observed epoch was the best so far. */
    public boolean improvedLast() {
        return badEpochs == 0 && bestEpoch >= 0;
    }

    public boolean shouldStop() {
        return badEpochs >= patience;
    }
}

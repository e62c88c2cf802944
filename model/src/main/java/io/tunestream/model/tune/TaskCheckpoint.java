package io.tunestream.model.tune;

import java.util.List;
import java.util.Objects;

/**
 * Everything needed to continue a task's tuning exactly where it stopped: encoder parameters, AdamW
 * moments, position (epoch, step in epoch, global step), the early-stopping state, the best parameters
 * so far, the per-epoch history, and the seed. The random state is the seed plus these counters
 * (every random stream is derived from them, see {@code Seeds}), so nothing else is needed.
 *
 * <p>Independent of the Avro {@code AdapterCheckpoint} record (the model module does not depend on
 * schemas); {@link CheckpointCodec} writes it as bytes, and a mapping to Avro can copy the fields.
 *
 * @param task           task name
 * @param encoder        the encoder's configuration
 * @param hidden         width of the table rows
 * @param config         the run's hyperparameters (a resume must use the same)
 * @param parameters     current parameters (layout of {@code PromptEncoder.of(encoder, hidden).layout()})
 * @param optimizer      AdamW state; its step count is the global optimizer step
 * @param epoch          the epoch in progress (or {@code maxEpochs} when all are done)
 * @param stepInEpoch    optimizer steps already taken in {@code epoch}
 * @param epochLossSum   sum of those steps' losses
 * @param earlyStopping  early-stopping state after the finished epochs
 * @param bestParameters parameters at the best validation epoch (the current ones before any epoch ended)
 * @param history        finished epochs
 */
public record TaskCheckpoint(String task, PromptEncoderConfig encoder, int hidden, TuningConfig config,
                             double[] parameters, AdamW.State optimizer, int epoch, long stepInEpoch,
                             double epochLossSum, EarlyStopping earlyStopping, double[] bestParameters,
                             List<EpochResult> history) {

    public TaskCheckpoint {
        Objects.requireNonNull(task, "task");
        Objects.requireNonNull(encoder, "encoder");
        Objects.requireNonNull(config, "config");
        Objects.requireNonNull(optimizer, "optimizer");
        Objects.requireNonNull(earlyStopping, "earlyStopping");
        int size = PromptEncoder.of(encoder, hidden).layout().size();
        if (parameters.length != size || bestParameters.length != size || optimizer.firstMoment().length != size) {
            throw new IllegalArgumentException("checkpoint of task " + task + ": the " + encoder.type().nemoName()
                    + " encoder has " + size + " parameters but the checkpoint holds " + parameters.length
                    + " parameters, " + bestParameters.length + " best parameters and " + optimizer.firstMoment().length
                    + " moments");
        }
        parameters = parameters.clone();
        bestParameters = bestParameters.clone();
        history = List.copyOf(history);
    }

    @Override
    public double[] parameters() {
        return parameters.clone();
    }

    @Override
    public double[] bestParameters() {
        return bestParameters.clone();
    }

    /** Global optimizer step. */
    public long step() {
        return optimizer.steps();
    }

    /** Whether the run has nothing left to do (all epochs ran, or early stopping triggered). */
    public boolean finished() {
        return epoch >= config.maxEpochs() || earlyStopping.shouldStop();
    }

    /** The virtual-token table to serve: the encoder applied to the best parameters. */
    public float[] table() {
        return TableMath.toFloats(PromptEncoder.of(encoder, hidden).table(bestParameters));
    }
}

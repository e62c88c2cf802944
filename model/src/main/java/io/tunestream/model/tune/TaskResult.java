package io.tunestream.model.tune;

/**
 * The outcome of tuning one task.
 *
 * @param table      the virtual-token table of the best validation epoch, row-major [virtualTokens, hidden]
 * @param checkpoint where the run stopped, to resume or to keep the encoder
 * @param report     what happened
 */
public record TaskResult(float[] table, TaskCheckpoint checkpoint, TuningReport report) {

    @Override
    public float[] table() {
        return table.clone();
    }
}

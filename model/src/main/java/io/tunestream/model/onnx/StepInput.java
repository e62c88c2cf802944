package io.tunestream.model.onnx;

/**
 * One forward step of a batch: {@code sequence} new positions for each of {@code batch} rows.
 *
 * @param batch         rows
 * @param sequence      new positions per row (the whole padded prompt on the first step, 1 afterwards)
 * @param embeds        [batch, sequence, hidden] row-major input embeddings (zeros for pad slots)
 * @param attentionMask [batch, past + sequence] row-major, 1 for real tokens, 0 for pads
 * @param positionIds   [batch, sequence] row-major position of each new slot
 */
public record StepInput(int batch, int sequence, float[] embeds, long[] attentionMask, long[] positionIds) {

    public StepInput {
        if (batch <= 0 || sequence <= 0) {
            throw new IllegalArgumentException("batch and sequence must be positive, got " + batch + " x " + sequence);
        }
        if (embeds.length % (batch * sequence) != 0) {
            throw new IllegalArgumentException("embeds has " + embeds.length + " values, not a multiple of batch x sequence = "
                    + batch * sequence);
        }
        if (positionIds.length != batch * sequence) {
            throw new IllegalArgumentException("positionIds has " + positionIds.length + " values, expected batch x sequence = "
                    + batch * sequence);
        }
        if (attentionMask.length % batch != 0 || attentionMask.length / batch < sequence) {
            throw new IllegalArgumentException("attentionMask has " + attentionMask.length + " values, expected batch ("
                    + batch + ") x (past + " + sequence + ")");
        }
    }

    /** Past plus new positions covered by the attention mask. */
    public int totalLength() {
        return attentionMask.length / batch;
    }
}

package io.tunestream.model.onnx;

import java.util.List;

/**
 * Rows padded to one length and laid out as the training graph's [batch, sequence] inputs
 * (row-major). Built by {@link #pack}; the loss mask and labels are already shifted: position t
 * predicts {@code labels[t]}, counted when {@code lossMask[t]} is 1.
 *
 * @param batchSize         rows
 * @param sequenceLength    positions a row (the longest row)
 * @param inputIds          token ids (0 at virtual slots and padding)
 * @param virtualTokenIndex table row at virtual slots, −1 elsewhere
 * @param attentionMask     1 at real positions, 0 at padding
 * @param positionIds       0.. over each row's real positions (virtual slots included), 0 at padding
 * @param labels            the next token at each position, 0 where not counted
 * @param lossMask          1 where the prediction counts, 0 elsewhere
 * @param lossTokens        Σ lossMask
 */
public record TrainingBatch(int batchSize, int sequenceLength, long[] inputIds, long[] virtualTokenIndex,
                            long[] attentionMask, long[] positionIds, long[] labels, float[] lossMask,
                            long lossTokens) {

    /** Which side of a shorter row the padding goes. */
    public enum Padding { LEFT, RIGHT }

    public TrainingBatch {
        int cells = Math.multiplyExact(batchSize, sequenceLength);
        for (int length : new int[] {inputIds.length, virtualTokenIndex.length, attentionMask.length, positionIds.length,
                labels.length, lossMask.length}) {
            if (length != cells) {
                throw new IllegalArgumentException("every input must have batchSize x sequenceLength = " + cells
                        + " entries, got " + length);
            }
        }
        if (lossTokens <= 0) {
            throw new IllegalArgumentException("a training batch needs at least one loss token");
        }
    }

    /** Pads {@code rows} to the longest and lays them out; the batch keeps the rows' order. */
    public static TrainingBatch pack(List<TrainingRow> rows, Padding padding) {
        if (rows.isEmpty()) {
            throw new IllegalArgumentException("a training batch needs at least one row");
        }
        int length = rows.stream().mapToInt(TrainingRow::length).max().orElseThrow();
        int cells = Math.multiplyExact(rows.size(), length);
        long[] ids = new long[cells];
        long[] virtual = new long[cells];
        long[] attention = new long[cells];
        long[] positions = new long[cells];
        long[] labels = new long[cells];
        float[] mask = new float[cells];
        java.util.Arrays.fill(virtual, -1);
        long tokens = 0;
        for (int r = 0; r < rows.size(); r++) {
            TrainingRow row = rows.get(r);
            int n = row.length();
            int start = r * length + (padding == Padding.LEFT ? length - n : 0);
            for (int i = 0; i < n; i++) {
                int at = start + i;
                boolean isVirtual = row.virtualIndex()[i] >= 0;
                ids[at] = isVirtual ? 0 : row.tokenIds()[i];
                virtual[at] = row.virtualIndex()[i];
                attention[at] = 1;
                positions[at] = i;
                if (i + 1 < n && row.lossTarget()[i + 1]) {
                    labels[at] = row.tokenIds()[i + 1];
                    mask[at] = 1f;
                    tokens++;
                }
            }
        }
        if (tokens == 0) {
            throw new IllegalArgumentException("none of the " + rows.size() + " rows has a loss target");
        }
        return new TrainingBatch(rows.size(), length, ids, virtual, attention, positions, labels, mask, tokens);
    }
}

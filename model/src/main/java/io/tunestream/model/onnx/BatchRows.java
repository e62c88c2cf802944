package io.tunestream.model.onnx;

import java.util.Arrays;
import java.util.List;

/** The row bookkeeping the {@link DecodeState}s share: left padding, kept rows, capacity. */
final class BatchRows {

    private BatchRows() {
    }

    /**
     * A batch's sequences left-padded to the longest, as one step: mask 0 on pads, each row's positions
     * counted from its first real token.
     *
     * @param input  the step
     * @param pads   left padding of each row
     * @param length real positions of each row
     */
    record Padded(StepInput input, int[] pads, long[] length) {
    }

    /**
     * @param sequences row b's sequence as [length_b, hidden] row-major embeddings, at least one position
     * @throws IllegalArgumentException if there is no row, or a sequence is empty or not a whole number of positions
     */
    static Padded leftPadded(List<float[]> sequences, int hidden) {
        if (sequences.isEmpty()) {
            throw new IllegalArgumentException("a batch needs at least one row");
        }
        int batch = sequences.size();
        long[] lengths = new long[batch];
        int maxLen = 0;
        for (int b = 0; b < batch; b++) {
            float[] s = sequences.get(b);
            if (s.length == 0 || s.length % hidden != 0) {
                throw new IllegalArgumentException("row " + b + " has " + s.length + " embedding values, not a positive "
                        + "multiple of the hidden size " + hidden);
            }
            lengths[b] = s.length / hidden;
            maxLen = Math.max(maxLen, s.length / hidden);
        }
        float[] embeds = new float[batch * maxLen * hidden];
        long[] mask = new long[batch * maxLen];
        long[] positions = new long[batch * maxLen];
        int[] pads = new int[batch];
        for (int b = 0; b < batch; b++) {
            int length = (int) lengths[b];
            pads[b] = maxLen - length;
            System.arraycopy(sequences.get(b), 0, embeds, (b * maxLen + pads[b]) * hidden, length * hidden);
            for (int j = 0; j < length; j++) {
                mask[b * maxLen + pads[b] + j] = 1;
                positions[b * maxLen + pads[b] + j] = j;
            }
        }
        return new Padded(new StepInput(batch, maxLen, embeds, mask, positions), pads, lengths);
    }

    /** Checks rows to keep as {@link DecodeState#keepRows} takes them, for a batch of {@code batch} rows. */
    static void checkKept(int[] rows, int batch) {
        if (rows.length == 0) {
            throw new IllegalArgumentException("keep at least one row; close the state when every row has finished");
        }
        for (int j = 0; j < rows.length; j++) {
            if (rows[j] < 0 || rows[j] >= batch || j > 0 && rows[j] <= rows[j - 1]) {
                throw new IllegalArgumentException("rows to keep must be increasing indices below " + batch + ", got "
                        + Arrays.toString(rows));
            }
        }
    }

    static int[] kept(int[] values, int[] rows) {
        int[] out = new int[rows.length];
        for (int j = 0; j < rows.length; j++) {
            out[j] = values[rows[j]];
        }
        return out;
    }

    static long[] kept(long[] values, int[] rows) {
        long[] out = new long[rows.length];
        for (int j = 0; j < rows.length; j++) {
            out[j] = values[rows[j]];
        }
        return out;
    }

    /**
     * Checks that a step can feed one token to each of {@code lengths.length} rows, each holding
     * {@code lengths[b]} positions, within {@code capacity}.
     */
    static void checkStep(int[] tokens, long[] lengths, int capacity) {
        if (tokens.length != lengths.length) {
            throw new IllegalArgumentException("a step of " + lengths.length + " rows takes one token a row, got "
                    + tokens.length);
        }
        for (int b = 0; b < lengths.length; b++) {
            if (lengths[b] >= capacity) {
                throw new IllegalStateException("row " + b + " already holds " + lengths[b] + " positions, the capacity "
                        + "of this decode state");
            }
        }
    }
}

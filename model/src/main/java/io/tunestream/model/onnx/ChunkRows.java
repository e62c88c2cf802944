package io.tunestream.model.onnx;

import java.util.BitSet;

/**
 * What a decode-chunk run needs of each row to choose its tokens inside the model, in row order (see
 * {@link io.tunestream.model.graph.DecodeChunkGraph}). Arrays are the caller's: not copied, not changed.
 *
 * @param steps             steps to run at most (at least 1, at most the state's {@link DecodeState#chunkSteps()})
 * @param tokens            the token to feed first: the row's last chosen one
 * @param remaining         tokens the row may still choose before it has its length (at least 1)
 * @param generated         tokens the row chose so far
 * @param minNewTokens      end-of-sequence is suppressed while the row has chosen fewer
 * @param temperature       0 for greedy choice, else the row's sampling temperature
 * @param topK              the row's top-k, 0 for off
 * @param topP              the row's top-p, 1 for off
 * @param repetitionPenalty the row's repetition penalty, 1 for none
 * @param seen              tokens of the row's prompt and completion so far (for the penalty)
 * @param uniforms          the row's uniform draws in [0, 1), one a step, at least {@code steps} of them for a sampling
 *                          row (ignored for a greedy one)
 */
public record ChunkRows(int steps, int[] tokens, int[] remaining, int[] generated, int[] minNewTokens, float[] temperature,
                        int[] topK, float[] topP, float[] repetitionPenalty, BitSet[] seen, float[][] uniforms) {

    public ChunkRows {
        int batch = tokens.length;
        if (batch == 0 || remaining.length != batch || generated.length != batch || minNewTokens.length != batch
                || temperature.length != batch || topK.length != batch || topP.length != batch
                || repetitionPenalty.length != batch || seen.length != batch || uniforms.length != batch) {
            throw new IllegalArgumentException("a chunk takes every row setting once a row, for " + batch + " tokens");
        }
        if (steps < 1) {
            throw new IllegalArgumentException("a chunk runs at least one step, got " + steps);
        }
        for (int b = 0; b < batch; b++) {
            if (remaining[b] < 1) {
                throw new IllegalArgumentException("row " + b + " has no token left to choose (remaining " + remaining[b] + ")");
            }
            if (temperature[b] > 0 && uniforms[b].length < steps) {
                throw new IllegalArgumentException("sampling row " + b + " has " + uniforms[b].length + " uniforms for "
                        + steps + " steps");
            }
        }
    }

    /** Greedy rows without penalty: end of sequence, length and min-new-tokens only. */
    public static ChunkRows greedy(int steps, int[] tokens, int[] remaining, int[] generated, int[] minNewTokens) {
        int batch = tokens.length;
        float[] ones = new float[batch];
        java.util.Arrays.fill(ones, 1f);
        BitSet[] seen = new BitSet[batch];
        float[][] uniforms = new float[batch][0];
        for (int b = 0; b < batch; b++) {
            seen[b] = new BitSet();
        }
        return new ChunkRows(steps, tokens, remaining, generated, minNewTokens, new float[batch], new int[batch], ones,
                ones, seen, uniforms);
    }

    /** Rows of the chunk. */
    public int batch() {
        return tokens.length;
    }
}

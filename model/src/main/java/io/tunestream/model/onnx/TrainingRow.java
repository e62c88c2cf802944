package io.tunestream.model.onnx;

import java.util.Arrays;

/**
 * One training sequence as the decoder sees it, before padding: virtual slots and tokens in order,
 * and which tokens the loss counts.
 *
 * @param tokenIds          token id at each position (ignored at virtual slots)
 * @param virtualIndex      row of the virtual-token table at virtual slots, −1 at token positions
 * @param lossTarget        true at the tokens the loss counts (each predicted from the position
 *                          before it): the answer tokens with {@code answer_only_loss}, all tokens
 *                          without; never at a virtual slot nor at position 0
 */
public record TrainingRow(long[] tokenIds, int[] virtualIndex, boolean[] lossTarget) {

    public TrainingRow {
        if (tokenIds.length == 0) {
            throw new IllegalArgumentException("a training row needs at least one position");
        }
        if (virtualIndex.length != tokenIds.length || lossTarget.length != tokenIds.length) {
            throw new IllegalArgumentException("tokenIds, virtualIndex and lossTarget must have one entry a position, got "
                    + tokenIds.length + ", " + virtualIndex.length + " and " + lossTarget.length);
        }
        if (lossTarget[0]) {
            throw new IllegalArgumentException("position 0 cannot be a loss target: nothing precedes it");
        }
        for (int i = 0; i < tokenIds.length; i++) {
            if (virtualIndex[i] < -1) {
                throw new IllegalArgumentException("virtualIndex[" + i + "] = " + virtualIndex[i]
                        + "; use -1 for a token position");
            }
            if (virtualIndex[i] >= 0 && lossTarget[i]) {
                throw new IllegalArgumentException("position " + i + " is a virtual slot and a loss target");
            }
            if (virtualIndex[i] < 0 && tokenIds[i] < 0) {
                throw new IllegalArgumentException("tokenIds[" + i + "] = " + tokenIds[i] + " is negative");
            }
        }
        tokenIds = tokenIds.clone();
        virtualIndex = virtualIndex.clone();
        lossTarget = lossTarget.clone();
    }

    /**
     * The reference layout: {@code virtualTokens} virtual slots (rows 0..n−1), then the prompt, then
     * the answer, with the loss over the answer tokens only ({@code answer_only_loss: true}) or over
     * prompt and answer ({@code false}).
     */
    public static TrainingRow virtualPromptAnswer(int virtualTokens, long[] promptIds, long[] answerIds,
                                                  boolean answerOnlyLoss) {
        int n = virtualTokens + promptIds.length + answerIds.length;
        long[] ids = new long[n];
        int[] virtual = new int[n];
        boolean[] target = new boolean[n];
        Arrays.fill(virtual, -1);
        for (int i = 0; i < virtualTokens; i++) {
            virtual[i] = i;
        }
        System.arraycopy(promptIds, 0, ids, virtualTokens, promptIds.length);
        System.arraycopy(answerIds, 0, ids, virtualTokens + promptIds.length, answerIds.length);
        for (int i = virtualTokens; i < n; i++) {
            target[i] = i > 0 && (!answerOnlyLoss || i >= virtualTokens + promptIds.length);
        }
        return new TrainingRow(ids, virtual, target);
    }

    public int length() {
        return tokenIds.length;
    }

    /** How many tokens the loss counts in this row. */
    public int lossTokens() {
        int n = 0;
        for (boolean t : lossTarget) {
            n += t ? 1 : 0;
        }
        return n;
    }
}

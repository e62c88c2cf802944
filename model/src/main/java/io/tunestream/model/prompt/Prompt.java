package io.tunestream.model.prompt;

import java.util.Arrays;

/**
 * A built prompt: one entry per position, each either a token id or a virtual-token row.
 *
 * @param taskName    the task it was built for
 * @param tokenIds    token id at each position, -1 at virtual positions (not copied: do not modify)
 * @param virtualRows virtual-token table row at each position, -1 at token positions (not copied)
 * @param answerStart first position of the answer span; equals {@link #length()} at inference (empty span)
 */
public record Prompt(String taskName, int[] tokenIds, int[] virtualRows, int answerStart) {

    public Prompt {
        if (tokenIds.length != virtualRows.length) {
            throw new IllegalArgumentException("tokenIds and virtualRows differ in length: " + tokenIds.length + " vs "
                    + virtualRows.length);
        }
        if (answerStart < 0 || answerStart > tokenIds.length) {
            throw new IllegalArgumentException("answerStart " + answerStart + " outside [0, " + tokenIds.length + "]");
        }
    }

    /** Positions in the sequence, virtual ones included. */
    public int length() {
        return tokenIds.length;
    }

    /** Whether position {@code i} takes a virtual-token row. */
    public boolean isVirtual(int i) {
        return virtualRows[i] >= 0;
    }

    /** Tokens of the answer span (0 at inference). */
    public int answerLength() {
        return tokenIds.length - answerStart;
    }

    /** The token ids of the real (non-virtual) positions, in order. */
    public int[] realTokenIds() {
        return Arrays.stream(tokenIds).filter(t -> t >= 0).toArray();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Prompt p && answerStart == p.answerStart && taskName.equals(p.taskName)
                && Arrays.equals(tokenIds, p.tokenIds) && Arrays.equals(virtualRows, p.virtualRows);
    }

    @Override
    public int hashCode() {
        return 31 * Arrays.hashCode(tokenIds) + answerStart;
    }

    @Override
    public String toString() {
        return "Prompt[" + taskName + ", tokens " + Arrays.toString(tokenIds) + ", virtual " + Arrays.toString(virtualRows)
                + ", answerStart " + answerStart + "]";
    }
}

package io.tunestream.model.onnx;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Optional;

/**
 * Greedy decoding of a batch through nothing but a {@link DecodeState}'s contract, each row generating its own number
 * of tokens and dropped when it has them: the loop the tests comparing states and prefills share.
 */
final class GreedyBatch {

    private GreedyBatch() {
    }

    /** Each row's tokens and the logits each was chosen from, in the rows' order. */
    record Decoded(List<List<Integer>> tokens, List<List<float[]>> logits) {
    }

    /**
     * @param state     a fresh state, prefilled here
     * @param prompts   row b's prompt embeddings
     * @param newTokens tokens row b generates (the first from the prefill's logits)
     */
    static Decoded decode(DecodeState state, List<float[]> prompts, int[] newTokens) {
        return decode(state, prompts, Collections.nCopies(prompts.size(), Optional.empty()), newTokens);
    }

    /** {@link #decode(DecodeState, List, int[])} with row b's prompt after {@code prefixes.get(b)}. */
    static Decoded decode(DecodeState state, List<float[]> prompts, List<Optional<? extends KvPrefix>> prefixes,
                          int[] newTokens) {
        List<List<Integer>> tokens = new ArrayList<>();
        List<List<float[]>> logits = new ArrayList<>();
        List<Integer> active = new ArrayList<>();
        for (int r = 0; r < prompts.size(); r++) {
            tokens.add(new ArrayList<>());
            logits.add(new ArrayList<>());
            active.add(r);
        }
        float[] step = state.prefill(prompts, prefixes);
        int vocab = step.length / prompts.size();
        while (true) {
            List<Integer> still = new ArrayList<>();
            List<Integer> keep = new ArrayList<>();
            int[] next = new int[active.size()];
            for (int b = 0; b < active.size(); b++) {
                int row = active.get(b);
                logits.get(row).add(Arrays.copyOfRange(step, b * vocab, (b + 1) * vocab));
                next[b] = argmax(step, b * vocab, vocab);
                tokens.get(row).add(next[b]);
                if (tokens.get(row).size() < newTokens[row]) {
                    keep.add(b);
                    still.add(row);
                }
            }
            if (still.isEmpty()) {
                return new Decoded(tokens, logits);
            }
            if (still.size() < active.size()) {
                state.keepRows(keep.stream().mapToInt(Integer::intValue).toArray());
            }
            if (state.batch() != still.size()) {
                throw new AssertionError("the state holds " + state.batch() + " rows, " + still.size() + " go on");
            }
            active = still;
            step = state.step(keep.stream().mapToInt(b -> next[b]).toArray());
        }
    }

    /** Index of the largest of {@code logits[offset, offset + length)}, the first on ties. */
    static int argmax(float[] logits, int offset, int length) {
        int best = 0;
        for (int i = 1; i < length; i++) {
            if (logits[offset + i] > logits[offset + best]) {
                best = i;
            }
        }
        return best;
    }
}

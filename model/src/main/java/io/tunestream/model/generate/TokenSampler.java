package io.tunestream.model.generate;

import java.util.Arrays;
import java.util.BitSet;
import java.util.SplittableRandom;
import java.util.function.DoubleSupplier;

/**
 * Picks the next token of one row from its last-position logits, the way HuggingFace's
 * {@code generate} orders its processors: repetition penalty, min-new-tokens (EOS suppressed),
 * then greedy argmax, or temperature, top-k, top-p and a draw from the row's own random source.
 */
final class TokenSampler {

    private TokenSampler() {
    }

    /**
     * @param logits    the batch's [batch, vocab] logits
     * @param offset    start of this row's logits
     * @param vocab     vocabulary size
     * @param options   the row's options
     * @param seen      tokens of the prompt and the completion so far (for the repetition penalty)
     * @param generated tokens generated so far
     * @param eosIds    end-of-sequence tokens
     * @param random    the row's random source (unused when greedy)
     */
    static int next(float[] logits, int offset, int vocab, GenerationOptions options, BitSet seen, int generated,
                    int[] eosIds, SplittableRandom random) {
        return next(logits, offset, vocab, options, seen, generated, eosIds, (DoubleSupplier) random::nextDouble);
    }

    /**
     * As {@link #next(float[], int, int, GenerationOptions, BitSet, int, int[], SplittableRandom)}, the draw in [0, 1)
     * taken from {@code uniform} (asked once, and only when sampling).
     */
    static int next(float[] logits, int offset, int vocab, GenerationOptions options, BitSet seen, int generated,
                    int[] eosIds, DoubleSupplier uniform) {
        double[] scores = new double[vocab];
        for (int i = 0; i < vocab; i++) {
            scores[i] = logits[offset + i];
        }
        double penalty = options.repetitionPenalty();
        if (penalty != 1) {
            for (int t = seen.nextSetBit(0); t >= 0 && t < vocab; t = seen.nextSetBit(t + 1)) {
                scores[t] = scores[t] > 0 ? scores[t] / penalty : scores[t] * penalty;
            }
        }
        if (generated < options.minNewTokens()) {
            for (int eos : eosIds) {
                if (eos >= 0 && eos < vocab) {
                    scores[eos] = Double.NEGATIVE_INFINITY;
                }
            }
        }
        if (options.isGreedy()) {
            return argmax(scores);
        }
        for (int i = 0; i < vocab; i++) {
            scores[i] /= options.temperature();
        }
        if (options.topK() > 0 && options.topK() < vocab) {
            double[] sorted = scores.clone();
            Arrays.sort(sorted);
            double kth = sorted[vocab - options.topK()];
            for (int i = 0; i < vocab; i++) {
                if (scores[i] < kth) {
                    scores[i] = Double.NEGATIVE_INFINITY;
                }
            }
        }
        double max = scores[argmax(scores)];
        double sum = 0;
        double[] probs = new double[vocab];
        for (int i = 0; i < vocab; i++) {
            probs[i] = Math.exp(scores[i] - max);
            sum += probs[i];
        }
        for (int i = 0; i < vocab; i++) {
            probs[i] /= sum;
        }
        if (options.topP() < 1) {
            Integer[] order = new Integer[vocab];
            for (int i = 0; i < vocab; i++) {
                order[i] = i;
            }
            Arrays.sort(order, (a, b) -> Double.compare(probs[b], probs[a]));
            double cumulative = 0;
            int kept = 0;
            // keep the most likely tokens until their mass reaches top_p (always at least one)
            while (kept < vocab && (kept == 0 || cumulative < options.topP())) {
                cumulative += probs[order[kept]];
                kept++;
            }
            for (int i = kept; i < vocab; i++) {
                probs[order[i]] = 0;
            }
            for (int i = 0; i < vocab; i++) {
                probs[i] /= cumulative;
            }
        }
        double u = uniform.getAsDouble();
        double acc = 0;
        int last = -1;
        for (int i = 0; i < vocab; i++) {
            if (probs[i] > 0) {
                acc += probs[i];
                last = i;
                if (u < acc) {
                    return i;
                }
            }
        }
        return last;
    }

    /** Index of the largest value; the first one on ties (as torch.argmax). */
    static int argmax(double[] values) {
        int best = 0;
        for (int i = 1; i < values.length; i++) {
            if (values[i] > values[best]) {
                best = i;
            }
        }
        return best;
    }
}

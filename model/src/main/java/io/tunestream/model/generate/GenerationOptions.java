package io.tunestream.model.generate;

import java.util.List;
import java.util.OptionalLong;

/**
 * How one row is decoded. Validated at construction.
 *
 * @param maxNewTokens      most tokens to generate (>= 1)
 * @param minNewTokens      end-of-sequence tokens are suppressed until this many were generated
 * @param temperature       0 for greedy decoding, otherwise logits are divided by it before sampling
 * @param topK              keep the k most likely tokens when sampling, 0 for all
 * @param topP              keep the smallest set of most likely tokens whose probability reaches p, 1 for all
 * @param repetitionPenalty HF/CTRL penalty on tokens already in the prompt or the completion, 1 for none
 * @param stopStrings       generation stops when the completion text contains one; the text ends before it
 * @param seed              seed of the row's sampler; empty for an unseeded one (ignored when greedy)
 */
public record GenerationOptions(int maxNewTokens, int minNewTokens, double temperature, int topK, double topP,
                                double repetitionPenalty, List<String> stopStrings, OptionalLong seed) {

    public GenerationOptions {
        if (maxNewTokens < 1) {
            throw new IllegalArgumentException("maxNewTokens must be >= 1, got " + maxNewTokens);
        }
        if (minNewTokens < 0 || minNewTokens > maxNewTokens) {
            throw new IllegalArgumentException("minNewTokens must be in [0, maxNewTokens = " + maxNewTokens + "], got "
                    + minNewTokens);
        }
        if (!(temperature >= 0) || Double.isInfinite(temperature)) {
            throw new IllegalArgumentException("temperature must be >= 0 (0 = greedy), got " + temperature);
        }
        if (topK < 0) {
            throw new IllegalArgumentException("topK must be >= 0 (0 = off), got " + topK);
        }
        if (!(topP > 0 && topP <= 1)) {
            throw new IllegalArgumentException("topP must be in (0, 1], got " + topP);
        }
        if (!(repetitionPenalty > 0) || Double.isInfinite(repetitionPenalty)) {
            throw new IllegalArgumentException("repetitionPenalty must be > 0 (1 = off), got " + repetitionPenalty);
        }
        stopStrings = List.copyOf(stopStrings);
        if (stopStrings.stream().anyMatch(String::isEmpty)) {
            throw new IllegalArgumentException("stopStrings must not contain an empty string");
        }
        if (seed == null) {
            throw new IllegalArgumentException("seed must be an OptionalLong (empty for unseeded)");
        }
    }

    /** Greedy decoding of up to {@code maxNewTokens} tokens, no penalty, no stop strings. */
    public static GenerationOptions greedy(int maxNewTokens) {
        return new GenerationOptions(maxNewTokens, 0, 0, 0, 1, 1, List.of(), OptionalLong.empty());
    }

    /** Seeded sampling. */
    public static GenerationOptions sampling(int maxNewTokens, double temperature, int topK, double topP, long seed) {
        return new GenerationOptions(maxNewTokens, 0, temperature, topK, topP, 1, List.of(), OptionalLong.of(seed));
    }

    public boolean isGreedy() {
        return temperature == 0;
    }

    public GenerationOptions withStopStrings(List<String> stops) {
        return new GenerationOptions(maxNewTokens, minNewTokens, temperature, topK, topP, repetitionPenalty, stops, seed);
    }

    public GenerationOptions withMinNewTokens(int min) {
        return new GenerationOptions(maxNewTokens, min, temperature, topK, topP, repetitionPenalty, stopStrings, seed);
    }

    public GenerationOptions withRepetitionPenalty(double penalty) {
        return new GenerationOptions(maxNewTokens, minNewTokens, temperature, topK, topP, penalty, stopStrings, seed);
    }
}

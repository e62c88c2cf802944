package io.tunestream.model.generate;

import java.util.Objects;

/**
 * Settings of a {@link Generator}, fixed for its lifetime.
 *
 * @param maxSequenceLength NeMo's {@code max_seq_length}: prompt (virtual tokens included) plus generated tokens
 *                          never exceed it; prompts are truncated to {@code maxSequenceLength - maxNewTokens}.
 *                          At most the model's {@code maxPositions}.
 * @param useKvCache        feed each step's keys and values back (true); false recomputes the whole sequence at
 *                          every step (for checks and benchmarks)
 * @param promptLookup      drafts of prompt-lookup decoding for a batch down to one greedy row, checked in one model
 *                          run each where the decode state verifies drafts; {@link PromptLookup#OFF} for none. The
 *                          tokens are the same either way.
 */
public record GeneratorConfig(int maxSequenceLength, boolean useKvCache, PromptLookup promptLookup) {

    public GeneratorConfig {
        if (maxSequenceLength < 2) {
            throw new IllegalArgumentException("maxSequenceLength must be >= 2, got " + maxSequenceLength);
        }
        Objects.requireNonNull(promptLookup, "promptLookup (PromptLookup.OFF for none)");
    }

    /** Settings without prompt lookup. */
    public GeneratorConfig(int maxSequenceLength, boolean useKvCache) {
        this(maxSequenceLength, useKvCache, PromptLookup.OFF);
    }

    /** These settings with {@code lookup}. */
    public GeneratorConfig withPromptLookup(PromptLookup lookup) {
        return new GeneratorConfig(maxSequenceLength, useKvCache, lookup);
    }
}

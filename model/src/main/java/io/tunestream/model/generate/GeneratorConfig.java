package io.tunestream.model.generate;

/**
 * Settings of a {@link Generator}, fixed for its lifetime.
 *
 * @param maxSequenceLength NeMo's {@code max_seq_length}: prompt (virtual tokens included) plus generated tokens
 *                          never exceed it; prompts are truncated to {@code maxSequenceLength - maxNewTokens}.
 *                          At most the model's {@code maxPositions}.
 * @param useKvCache        feed each step's keys and values back (true); false recomputes the whole sequence at
 *                          every step (for checks and benchmarks)
 */
public record GeneratorConfig(int maxSequenceLength, boolean useKvCache) {

    public GeneratorConfig {
        if (maxSequenceLength < 2) {
            throw new IllegalArgumentException("maxSequenceLength must be >= 2, got " + maxSequenceLength);
        }
    }
}

package io.tunestream.model.generate;

/** Why a row stopped generating. */
public enum FinishReason {
    /** A stop string appeared; the text ends before it. */
    STOP,
    /** {@code maxNewTokens} were generated. */
    LENGTH,
    /** The model produced an end-of-sequence token (not part of the result). */
    EOS,
    /** The row could not run; {@link GenerationResult#error()} says why. */
    ERROR
}

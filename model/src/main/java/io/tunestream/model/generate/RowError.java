package io.tunestream.model.generate;

/** Why a row of a batch got no completion; {@link GenerationResult#errorKind()} carries it. */
public enum RowError {
    /** Fields that do not fit the template (unknown, missing), a template without an answer field, bad options. */
    INVALID_INPUT,
    /** The prompt does not fit {@code max_seq_length} minus the tokens to generate, even truncated. */
    PROMPT_TOO_LONG,
    /** The template has virtual tokens, no table was given, and the plain prompt was not allowed. */
    NO_ADAPTER,
    /** The table belongs to another model, or its width or row count does not fit. */
    ADAPTER_MISMATCH,
    /** The model failed while generating the batch the row was in. */
    GENERATION_FAILED,
    /** The generation was terminated through its {@code RunControl} before the row finished. */
    CANCELLED,
    /** The runtime ran out of memory (e.g. CUDA); the same rows in a smaller batch may succeed. */
    OUT_OF_MEMORY
}

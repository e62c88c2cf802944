package io.tunestream.model.tune;

/**
 * How the rows of the learned virtual-token embedding start (PEFT's {@code prompt_tuning_init}, NeMo's
 * {@code init_method}).
 */
public enum EmbeddingInit {
    /** Normal with standard deviation {@code init_std}. */
    RANDOM,
    /** The LM's embeddings of the tokens of {@code init_text}, repeated to fill all virtual tokens (PEFT TEXT). */
    TEXT,
    /** The LM's embeddings of vocabulary rows sampled uniformly with the run's seed (Lester et al.). */
    VOCAB
}

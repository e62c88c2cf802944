package io.tunestream.model.tune;

/**
 * How the rows of the learned virtual-token embedding start (PEFT's {@code prompt_tuning_init}, NeMo's
 * {@code init_method}).
 */
public enum EmbeddingInit {
    /** Normal with standard deviation {@code init_std}. */
    RANDOM,
    /**
     * Standard normal, N(0, 1): NeMo v1.15.0's p-tuning encoder input, a {@code torch.nn.Embedding} with
     * PyTorch's default initialisation ({@code prompt_encoder.py}, {@code PromptEncoder.__init__}); the
     * default of the p-tuning encoders.
     */
    NORMAL,
    /** The LM's embeddings of the tokens of {@code init_text}, repeated to fill all virtual tokens (PEFT TEXT). */
    TEXT,
    /** The LM's embeddings of vocabulary rows sampled uniformly with the run's seed (Lester et al.). */
    VOCAB
}

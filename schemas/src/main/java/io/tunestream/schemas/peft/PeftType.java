package io.tunestream.schemas.peft;

import io.tunestream.schemas.VirtualPromptStyle;

/**
 * The PEFT prompt-learning types we exchange ({@code peft.utils.peft_types.PeftType}), each saved as one tensor
 * {@code prompt_embeddings} ({@code BasePromptEncoder._get_adapter_state_dict}, huggingface/peft
 * 5d602fdbff04c33c1c4de55cda9d4ae1d7cb7e40, src/peft/tuners/tuners_utils.py).
 */
public enum PeftType {
    /** The table itself, {@code [num_virtual_tokens, token_dim]}. */
    PROMPT_TUNING(VirtualPromptStyle.PROMPT_TUNING),
    /** The prompt encoder's output, {@code [num_virtual_tokens, token_dim]}: the encoder itself is not saved. */
    P_TUNING(VirtualPromptStyle.P_TUNING),
    /**
     * The key/value prefix, {@code [num_virtual_tokens, 2·num_layers·token_dim]}, which PEFT's
     * {@code PeftModel.get_prompt} views as {@code (tokens, 2·layers, heads, head_dim)}: index 2l of the second
     * axis is layer l's key, 2l+1 its value. For grouped-query attention PEFT sets {@code token_dim =
     * kv_heads·head_dim} and {@code num_attention_heads = kv_heads} ({@code _prepare_prompt_learning_config},
     * src/peft/utils/other.py).
     */
    PREFIX_TUNING(VirtualPromptStyle.PREFIX_TUNING);

    private final VirtualPromptStyle style;

    PeftType(VirtualPromptStyle style) {
        this.style = style;
    }

    /** Our prompt style of the same method. */
    public VirtualPromptStyle style() {
        return style;
    }

    /** The PEFT type of our style; a version that recorded no style (older than the field) was p-tuned. */
    public static PeftType of(VirtualPromptStyle style) {
        if (style == null) {
            return P_TUNING;
        }
        return switch (style) {
            case PROMPT_TUNING -> PROMPT_TUNING;
            case P_TUNING -> P_TUNING;
            case PREFIX_TUNING -> PREFIX_TUNING;
        };
    }
}

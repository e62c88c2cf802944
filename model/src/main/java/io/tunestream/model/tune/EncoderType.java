package io.tunestream.model.tune;

import java.util.Arrays;
import java.util.Locale;

/** NeMo's prompt-encoder types ({@code model.p_tuning.encoder_type}, and {@code embedding} for prompt tuning). */
public enum EncoderType {
    /** Prompt tuning: the virtual-token table itself is the parameter. */
    EMBEDDING,
    /** Learned input embedding then {@code num_layers} Linear layers with ReLU between them. */
    MLP,
    /** Learned input embedding, Linear(hidden, encoder_hidden), GELU, Linear(encoder_hidden, hidden). NeMo's default. */
    TPMLP,
    /** Learned input embedding, bidirectional LSTM ({@code num_layers}), then a two-layer MLP head. */
    LSTM;

    /** The NeMo spelling: {@code embedding}, {@code mlp}, {@code tpmlp}, {@code lstm}. */
    public String nemoName() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** Parses the NeMo spelling (case-insensitive). */
    public static EncoderType parse(String text) {
        for (EncoderType t : values()) {
            if (t.nemoName().equalsIgnoreCase(text.trim())) {
                return t;
            }
        }
        throw new IllegalArgumentException("unknown encoder_type '" + text + "', expected one of "
                + Arrays.stream(values()).map(EncoderType::nemoName).toList());
    }
}

package io.tunestream.model.tune;

import java.util.Objects;
import java.util.Optional;

/**
 * A task's prompt encoder, with NeMo's names and defaults ({@code model.p_tuning} of
 * {@code megatron_gpt_prompt_learning_config.yaml}).
 *
 * @param type               {@code encoder_type}
 * @param virtualTokens      {@code total_virtual_tokens} of the task: rows of the table the encoder produces
 * @param encoderHidden      {@code encoder_hidden}: width of the MLP/TPMLP hidden layer, and of each direction
 *                           of the LSTM (its output and MLP head are twice as wide), as in NeMo
 * @param numLayers          {@code num_layers}: Linear layers of {@link EncoderType#MLP} (at least 2, as NeMo), stacked LSTM layers of
 *                           {@link EncoderType#LSTM}; ignored otherwise
 * @param dropout            {@code dropout}, applied in training between stacked LSTM layers, as NeMo's
 *                           {@code lstm_dropout}; NeMo's MLP and TPMLP have none, so it must be 0 for them
 * @param initStd            {@code init_std}: standard deviation of the TPMLP weights and of {@link EmbeddingInit#RANDOM}
 * @param init               how the learned virtual-token embedding starts
 * @param initText           the text for {@link EmbeddingInit#TEXT}
 */
public record PromptEncoderConfig(EncoderType type, int virtualTokens, int encoderHidden, int numLayers,
                                  double dropout, double initStd, EmbeddingInit init, Optional<String> initText) {

    /** NeMo: {@code encoder_hidden: 2048}; too wide for the small models here, so the default is 256. */
    public static final int DEFAULT_ENCODER_HIDDEN = 256;
    /** NeMo: {@code num_layers: 2}. */
    public static final int DEFAULT_NUM_LAYERS = 2;
    /** NeMo: {@code init_std: 0.023}. */
    public static final double DEFAULT_INIT_STD = 0.023;

    public PromptEncoderConfig {
        Objects.requireNonNull(type, "type");
        Objects.requireNonNull(init, "init");
        Objects.requireNonNull(initText, "initText");
        if (virtualTokens <= 0) {
            throw new IllegalArgumentException("total_virtual_tokens must be positive, got " + virtualTokens);
        }
        if (encoderHidden <= 0) {
            throw new IllegalArgumentException("encoder_hidden must be positive, got " + encoderHidden);
        }
        if (numLayers <= 0) {
            throw new IllegalArgumentException("num_layers must be at least 1, got " + numLayers);
        }
        if (type == EncoderType.MLP && numLayers < 2) {
            // NeMo v1.15.0 prompt_encoder.py: "The MLP prompt encoder must have at least 2 layers."
            throw new IllegalArgumentException("num_layers of the mlp encoder must be at least 2 (as NeMo), got "
                    + numLayers);
        }
        if (!(dropout >= 0 && dropout < 1)) {
            throw new IllegalArgumentException("dropout must be in [0, 1), got " + dropout);
        }
        if (dropout > 0 && type != EncoderType.LSTM) {
            // NeMo applies dropout only between the LSTM's layers (lstm_dropout); its MLP and TPMLP have none
            throw new IllegalArgumentException("dropout applies only between LSTM layers (as NeMo), but the "
                    + type.name().toLowerCase(java.util.Locale.ROOT) + " encoder has dropout " + dropout);
        }
        if (!(initStd > 0) || Double.isInfinite(initStd)) {
            throw new IllegalArgumentException("init_std must be positive and finite, got " + initStd);
        }
        if (init == EmbeddingInit.TEXT && initText.map(String::isBlank).orElse(true)) {
            throw new IllegalArgumentException("init_method text needs a non-empty init_text");
        }
    }

    /**
     * NeMo's defaults for {@code type} with {@code virtualTokens} rows: a p-tuning encoder's input starts
     * N(0, 1) as NeMo's ({@link EmbeddingInit#NORMAL}); a prompt-tuning table ({@link EncoderType#EMBEDDING})
     * starts from sampled vocabulary rows (Tunestream's choice; NeMo's example config uses text).
     */
    public static PromptEncoderConfig defaults(EncoderType type, int virtualTokens) {
        return new PromptEncoderConfig(type, virtualTokens, DEFAULT_ENCODER_HIDDEN, DEFAULT_NUM_LAYERS, 0.0,
                DEFAULT_INIT_STD, type == EncoderType.EMBEDDING ? EmbeddingInit.VOCAB : EmbeddingInit.NORMAL,
                Optional.empty());
    }

    public PromptEncoderConfig withEncoderHidden(int hidden) {
        return new PromptEncoderConfig(type, virtualTokens, hidden, numLayers, dropout, initStd, init, initText);
    }

    public PromptEncoderConfig withNumLayers(int layers) {
        return new PromptEncoderConfig(type, virtualTokens, encoderHidden, layers, dropout, initStd, init, initText);
    }

    public PromptEncoderConfig withDropout(double rate) {
        return new PromptEncoderConfig(type, virtualTokens, encoderHidden, numLayers, rate, initStd, init, initText);
    }

    public PromptEncoderConfig withInit(EmbeddingInit how, Optional<String> text) {
        return new PromptEncoderConfig(type, virtualTokens, encoderHidden, numLayers, dropout, initStd, how, text);
    }
}

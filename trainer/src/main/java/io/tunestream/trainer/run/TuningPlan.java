package io.tunestream.trainer.run;

import io.tunestream.model.tune.AdamW;
import io.tunestream.model.tune.EmbeddingInit;
import io.tunestream.model.tune.EncoderType;
import io.tunestream.model.tune.GradientClipping;
import io.tunestream.model.tune.PromptEncoderConfig;
import io.tunestream.model.tune.TuningConfig;
import io.tunestream.schemas.TaskTemplate;
import io.tunestream.schemas.TuningSettings;
import io.tunestream.schemas.PromptInit;
import io.tunestream.schemas.VirtualPromptStyle;
import java.util.Objects;
import java.util.Optional;

/**
 * A template's NeMo-style {@link TuningSettings} as the model module's tuning configuration.
 *
 * <p>Mapping (NeMo name → here):
 * <ul>
 *   <li>{@code virtual_prompt_style} PROMPT_TUNING → encoder {@link EncoderType#EMBEDDING} (the table is the
 *       parameter); P_TUNING → {@code encoderType} (TPMLP, MLP, LSTM; EMBEDDING is prompt tuning);
 *       PREFIX_TUNING (deep prompts) → {@link EncoderType#EMBEDDING} over the prefix (PEFT's prefix tuning without
 *       {@code prefix_projection}), started N(0, {@code init_std}) (init RANDOM) or as the keys and values of
 *       {@code initText} (init TEXT: the runner passes them as the rows the init reads); with
 *       {@code prefixProjection} → {@link EncoderType#MLP} ({@code encoder_hidden}, {@code num_layers}) from an
 *       N(0, 1) input, whose output is the prefix (published as a plain table);</li>
 *   <li>{@code encoder_hidden}, {@code num_layers} ({@code encoderLayers}), {@code dropout}, {@code init_std},
 *       {@code total_virtual_tokens} → {@link PromptEncoderConfig}; {@code init} RANDOM/TEXT/VOCAB (+ {@code initText})
 *       → {@link EmbeddingInit};</li>
 *   <li>{@code optim.lr}, {@code optim.sched.min_lr}, {@code warmup_steps}, {@code max_epochs},
 *       {@code micro_batch_size}, {@code global_batch_size}, early-stopping {@code patience} and {@code min_delta},
 *       {@code seed} → {@link TuningConfig};</li>
 *   <li>{@code optim.weight_decay} → {@link AdamW} with NeMo's betas (0.9, 0.98) and eps 1e-8; gradient clipping
 *       is NeMo's {@code gradient_clip_val} 1.0 (not a template setting).</li>
 * </ul>
 *
 * @param encoder the prompt encoder
 * @param config  the run's hyperparameters
 */
public record TuningPlan(PromptEncoderConfig encoder, TuningConfig config) {

    public TuningPlan {
        Objects.requireNonNull(encoder, "encoder");
        Objects.requireNonNull(config, "config");
    }

    /**
     * The plan of {@code template}'s settings.
     *
     * @throws IllegalArgumentException "task 'x': tuning settings: …" when a setting is out of range
     */
    public static TuningPlan of(TaskTemplate template) {
        TuningSettings s = template.getTuning();
        try {
            EncoderType type = encoderType(s);
            if (s.getVirtualPromptStyle() == VirtualPromptStyle.PREFIX_TUNING && s.getInit() == PromptInit.VOCAB) {
                // VOCAB starts from token embeddings, which are not keys and values of every layer
                throw new IllegalArgumentException("prefix-tuning starts the prefix at random or from a text's keys and "
                        + "values: init must be random or text, was vocab");
            }
            if (s.getPrefixProjection() && s.getInit() == PromptInit.TEXT) {
                throw new IllegalArgumentException("init text cannot start a prefix trained through prefix_projection "
                        + "(the MLP starts from a random input)");
            }
            // init is prompt tuning's (and a plain prefix's); an encoder's input starts N(0, 1), as NeMo's nn.Embedding
            EmbeddingInit init = type == EncoderType.EMBEDDING ? EmbeddingInit.valueOf(s.getInit().name())
                    : EmbeddingInit.NORMAL;
            PromptEncoderConfig encoder = new PromptEncoderConfig(type, template.getTotalVirtualTokens(),
                    s.getEncoderHidden(), s.getEncoderLayers(), s.getDropout(), s.getInitStd(), init,
                    Optional.ofNullable(s.getInitText()));
            TuningConfig config = new TuningConfig(s.getLearningRate(), s.getMinLearningRate(), s.getWarmupSteps(),
                    s.getMaxEpochs(), s.getMicroBatchSize(), s.getGlobalBatchSize(),
                    new AdamW(AdamW.NEMO_DEFAULTS.beta1(), AdamW.NEMO_DEFAULTS.beta2(), AdamW.NEMO_DEFAULTS.epsilon(),
                            s.getWeightDecay()),
                    GradientClipping.NEMO_DEFAULT, s.getPatience(), s.getMinDelta(), s.getSeed());
            return new TuningPlan(encoder, config);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("task '" + template.getTask() + "': tuning settings: " + e.getMessage(), e);
        }
    }

    /**
     * The model module's encoder of {@code settings}: p-tuning's {@code encoderType}; the table itself
     * ({@link EncoderType#EMBEDDING}) for prompt tuning and a plain prefix; {@link EncoderType#MLP} for a prefix
     * trained through {@code prefixProjection}.
     */
    public static EncoderType encoderType(TuningSettings settings) {
        return switch (settings.getVirtualPromptStyle()) {
            case P_TUNING -> EncoderType.valueOf(settings.getEncoderType().name());
            case PROMPT_TUNING -> EncoderType.EMBEDDING;
            case PREFIX_TUNING -> settings.getPrefixProjection() ? EncoderType.MLP : EncoderType.EMBEDDING;
        };
    }
}

package io.tunestream.model.tune;

import java.util.SplittableRandom;

/** Prompt tuning (NeMo {@code embedding}, PEFT {@code PromptEmbedding}): the table is the parameter. */
record EmbeddingEncoder(PromptEncoderConfig config, int hidden, ParameterLayout layout) implements PromptEncoder {

    static final String TABLE = "embedding";

    EmbeddingEncoder(PromptEncoderConfig config, int hidden) {
        this(config, hidden, ParameterLayout.builder().add(TABLE, config.virtualTokens(), hidden).build());
    }

    @Override
    public double[] initialParameters(double[] virtualRows, SplittableRandom rng) {
        PromptEncoder.checkParameters(layout, virtualRows, config.type());
        return virtualRows.clone();
    }

    @Override
    public EncoderPass forward(double[] parameters, SplittableRandom dropoutRng) {
        PromptEncoder.checkParameters(layout, parameters, config.type());
        double[] table = parameters.clone();
        return new EncoderPass() {
            @Override
            public double[] table() {
                return table;
            }

            @Override
            public double[] backward(double[] tableGradient) {
                return tableGradient.clone();
            }
        };
    }
}

package io.tunestream.model.tune;

import java.util.SplittableRandom;

/**
 * Produces a task's virtual-token table [virtualTokens, hidden] from its parameters, and the exact
 * gradient of those parameters given the gradient of the table (which the decoder training graph
 * computes). The encoder is stateless: parameters are passed in as one flat vector laid out by
 * {@link #layout()}, so the optimizer and checkpoints own them.
 *
 * <p>As in NeMo's {@code PromptEncoder}, every type but {@link EncoderType#EMBEDDING} starts from a
 * learned embedding of the virtual-token indices ({@code input_embedding}) and transforms it; the
 * transformation is kept after training (the checkpoint holds it), only the table is served.
 */
public sealed interface PromptEncoder permits EmbeddingEncoder, MlpEncoder, TpMlpEncoder, LstmEncoder {

    /** The configuration this encoder was built from. */
    PromptEncoderConfig config();

    /** Width of the table rows (the LM's hidden size). */
    int hidden();

    /** Names, shapes and offsets of the parameters. */
    ParameterLayout layout();

    /**
     * Fresh parameters: {@code input_embedding} (or the table, for {@link EncoderType#EMBEDDING}) set to
     * {@code virtualRows}, the other weights drawn from {@code rng} as NeMo/PyTorch initialise them.
     *
     * @param virtualRows [virtualTokens, hidden], see {@link VirtualTokenInit}
     */
    double[] initialParameters(double[] virtualRows, SplittableRandom rng);

    /**
     * Runs the encoder. With a {@code dropoutRng} dropout masks are drawn from it (training); with
     * {@code null} no dropout is applied (evaluation, serving).
     */
    EncoderPass forward(double[] parameters, SplittableRandom dropoutRng);

    /** The table for serving: forward without dropout. */
    default double[] table(double[] parameters) {
        return forward(parameters, null).table();
    }

    /** Builds the encoder of {@code config} for a model whose rows are {@code hidden} wide. */
    static PromptEncoder of(PromptEncoderConfig config, int hidden) {
        if (hidden <= 0) {
            throw new IllegalArgumentException("hidden size must be positive, got " + hidden);
        }
        return switch (config.type()) {
            case EMBEDDING -> new EmbeddingEncoder(config, hidden);
            case MLP -> new MlpEncoder(config, hidden);
            case TPMLP -> new TpMlpEncoder(config, hidden);
            case LSTM -> new LstmEncoder(config, hidden);
        };
    }

    /** One forward pass, remembering what its backward needs. */
    interface EncoderPass {
        /** The virtual-token table, row-major [virtualTokens, hidden]. */
        double[] table();

        /** d loss / d parameters (same layout as the parameters) given d loss / d table. */
        double[] backward(double[] tableGradient);
    }

    /** Checks the length of a parameter vector against a layout. */
    static void checkParameters(ParameterLayout layout, double[] parameters, EncoderType type) {
        if (parameters.length != layout.size()) {
            throw new IllegalArgumentException(type.nemoName() + " encoder expects " + layout.size()
                    + " parameters, got " + parameters.length);
        }
    }

    /** Standard normal draw (Box-Muller) from a SplittableRandom, which has no nextGaussian before Java 17's RandomGenerator. */
    static double gaussian(SplittableRandom rng) {
        double u1 = rng.nextDouble();
        double u2 = rng.nextDouble();
        return Math.sqrt(-2 * Math.log(1 - u1)) * Math.cos(2 * Math.PI * u2);
    }
}

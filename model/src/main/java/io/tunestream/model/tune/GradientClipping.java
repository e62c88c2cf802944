package io.tunestream.model.tune;

/**
 * Clipping by global L2 norm, as {@code torch.nn.utils.clip_grad_norm_} (Lightning's
 * {@code gradient_clip_val}, 1.0 in NeMo): when the norm exceeds {@code maxNorm} the gradient is
 * scaled by {@code maxNorm / (norm + 1e-6)}.
 */
public record GradientClipping(double maxNorm) {

    public static final GradientClipping NEMO_DEFAULT = new GradientClipping(1.0);

    public GradientClipping {
        if (!(maxNorm > 0)) {
            throw new IllegalArgumentException("gradient_clip_val must be positive, got " + maxNorm);
        }
    }

    /** Clips {@code gradient} in place; returns its norm before clipping. */
    public double clip(double[] gradient) {
        double sq = 0;
        for (double g : gradient) {
            sq += g * g;
        }
        double norm = Math.sqrt(sq);
        double coef = maxNorm / (norm + 1e-6);
        if (coef < 1) {
            for (int i = 0; i < gradient.length; i++) {
                gradient[i] *= coef;
            }
        }
        return norm;
    }
}

package io.tunestream.model.tune;

/**
 * AdamW (Loshchilov and Hutter, as {@code torch.optim.AdamW}): decoupled weight decay, bias-corrected
 * moments. NeMo's prompt-learning defaults: betas 0.9 / 0.98, weight decay 0.01; eps 1e-8 as PyTorch.
 * Weight decay applies to every encoder parameter (NeMo puts the whole prompt encoder in one group).
 *
 * @param beta1       first-moment decay
 * @param beta2       second-moment decay
 * @param epsilon     added to √v̂
 * @param weightDecay decoupled decay, multiplied by the learning rate
 */
public record AdamW(double beta1, double beta2, double epsilon, double weightDecay) {

    public static final AdamW NEMO_DEFAULTS = new AdamW(0.9, 0.98, 1e-8, 0.01);

    public AdamW {
        if (!(beta1 >= 0 && beta1 < 1)) {
            throw new IllegalArgumentException("AdamW beta1 must be in [0, 1), got " + beta1);
        }
        if (!(beta2 >= 0 && beta2 < 1)) {
            throw new IllegalArgumentException("AdamW beta2 must be in [0, 1), got " + beta2);
        }
        if (!(epsilon > 0)) {
            throw new IllegalArgumentException("AdamW epsilon must be positive, got " + epsilon);
        }
        if (!(weightDecay >= 0) || Double.isInfinite(weightDecay)) {
            throw new IllegalArgumentException("AdamW weight_decay must be non-negative and finite, got " + weightDecay);
        }
    }

    /** Moments and step count of one parameter vector; what a checkpoint must keep to resume exactly. */
    public record State(double[] firstMoment, double[] secondMoment, long steps) {
        public State {
            if (firstMoment.length != secondMoment.length) {
                throw new IllegalArgumentException("AdamW moments differ in length: " + firstMoment.length + " and "
                        + secondMoment.length);
            }
            if (steps < 0) {
                throw new IllegalArgumentException("AdamW step count must be non-negative, got " + steps);
            }
            firstMoment = firstMoment.clone();
            secondMoment = secondMoment.clone();
        }

        public static State initial(int size) {
            return new State(new double[size], new double[size], 0);
        }

        @Override
        public double[] firstMoment() {
            return firstMoment.clone();
        }

        @Override
        public double[] secondMoment() {
            return secondMoment.clone();
        }
    }

    /**
     * One update of {@code parameters} in place with {@code gradient} at learning rate {@code lr}.
     *
     * @return the optimizer state after the step
     */
    public State step(double[] parameters, double[] gradient, double lr, State state) {
        if (parameters.length != gradient.length || parameters.length != state.firstMoment.length) {
            throw new IllegalArgumentException("AdamW step over " + parameters.length + " parameters got a gradient of "
                    + gradient.length + " and moments of " + state.firstMoment.length);
        }
        long t = state.steps + 1;
        double[] m = state.firstMoment.clone();
        double[] v = state.secondMoment.clone();
        double c1 = 1 - Math.pow(beta1, t);
        double c2 = 1 - Math.pow(beta2, t);
        for (int i = 0; i < parameters.length; i++) {
            double g = gradient[i];
            parameters[i] -= lr * weightDecay * parameters[i];
            m[i] = beta1 * m[i] + (1 - beta1) * g;
            v[i] = beta2 * v[i] + (1 - beta2) * g * g;
            parameters[i] -= lr * (m[i] / c1) / (Math.sqrt(v[i] / c2) + epsilon);
        }
        return new State(m, v, t);
    }
}

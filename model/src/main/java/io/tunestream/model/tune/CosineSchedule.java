package io.tunestream.model.tune;

/**
 * NeMo's {@code CosineAnnealing} learning-rate schedule with linear warmup ({@code WarmupPolicy}),
 * evaluated at optimizer step {@code s} (0 for the first update):
 * <ul>
 *   <li>warmup ({@code warmupSteps > 0} and {@code s ≤ warmupSteps}): {@code maxLr · (s + 1) / (warmupSteps + 1)};</li>
 *   <li>then {@code minLr + (maxLr − minLr) · ½(1 + cos(π · (s − warmupSteps) / (maxSteps − warmupSteps)))};</li>
 *   <li>after {@code maxSteps}: {@code minLr}.</li>
 * </ul>
 */
public record CosineSchedule(double maxLr, double minLr, int warmupSteps, long maxSteps) {

    public CosineSchedule {
        if (!(maxLr > 0) || Double.isInfinite(maxLr)) {
            throw new IllegalArgumentException("lr must be positive and finite, got " + maxLr);
        }
        if (!(minLr >= 0 && minLr <= maxLr)) {
            throw new IllegalArgumentException("min_lr must be in [0, lr=" + maxLr + "], got " + minLr);
        }
        if (warmupSteps < 0) {
            throw new IllegalArgumentException("warmup_steps must be non-negative, got " + warmupSteps);
        }
        if (maxSteps <= warmupSteps) {
            throw new IllegalArgumentException("max_steps (" + maxSteps + ") must exceed warmup_steps (" + warmupSteps
                    + "): with so few steps the run would never leave warmup");
        }
    }

    /** The learning rate of optimizer step {@code step} (0-based). */
    public double lr(long step) {
        if (step < 0) {
            throw new IllegalArgumentException("step must be non-negative, got " + step);
        }
        if (warmupSteps > 0 && step <= warmupSteps) {
            return maxLr * (step + 1) / (warmupSteps + 1);
        }
        if (step > maxSteps) {
            return minLr;
        }
        double progress = (double) (step - warmupSteps) / (maxSteps - warmupSteps);
        return minLr + (maxLr - minLr) * 0.5 * (1 + Math.cos(Math.PI * progress));
    }
}

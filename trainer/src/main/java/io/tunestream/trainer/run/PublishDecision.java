package io.tunestream.trainer.run;

import java.util.Locale;
import java.util.OptionalDouble;

/**
 * Whether a run's table replaces the serving one: only when its validation loss is lower than the
 * serving table's on the same validation examples by more than {@code minImprovement}, or when
 * nothing comparable is serving.
 *
 * @param publish whether to publish
 * @param reason  the comparison, in words
 */
public record PublishDecision(boolean publish, String reason) {

    /**
     * @param newLoss        validation loss of the run's table
     * @param servingLoss    validation loss of the serving table on the same examples; empty when there is none
     * @param minImprovement the template's {@code minImprovement}
     */
    public static PublishDecision decide(double newLoss, OptionalDouble servingLoss, double minImprovement) {
        if (!Double.isFinite(newLoss)) {
            return new PublishDecision(false, "validation loss " + newLoss + " is not finite");
        }
        if (servingLoss.isEmpty()) {
            return new PublishDecision(true, format("validation loss %.6f, no comparable serving version", newLoss));
        }
        double serving = servingLoss.getAsDouble();
        if (newLoss < serving - minImprovement) {
            return new PublishDecision(true, format("validation loss %.6f beats the serving %.6f by more than %s",
                    newLoss, serving, minImprovement));
        }
        return new PublishDecision(false, format("validation loss %.6f does not beat the serving %.6f by more than %s",
                newLoss, serving, minImprovement));
    }

    private static String format(String pattern, Object... args) {
        return String.format(Locale.ROOT, pattern, args);
    }
}

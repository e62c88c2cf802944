package io.tunestream.trainer.run;

import io.tunestream.model.tune.TableObjective;
import java.util.List;

/**
 * The validation loss of a table as the tuner computes it after an epoch: the mean loss over every
 * loss token of the validation set (micro-batch means weighted by their token counts), so the new
 * table and the serving table are compared on exactly the same terms.
 */
public final class ValidationLoss {

    private ValidationLoss() {
    }

    public static <E> double of(TableObjective<E> objective, float[] table, List<E> examples, int microBatch) {
        if (examples.isEmpty()) {
            throw new IllegalArgumentException("no validation example to compute a validation loss on");
        }
        double weighted = 0;
        long tokens = 0;
        for (int from = 0; from < examples.size(); from += microBatch) {
            TableObjective.Evaluation ev = objective.loss(table,
                    examples.subList(from, Math.min(from + microBatch, examples.size())));
            weighted += ev.loss() * ev.tokens();
            tokens += ev.tokens();
        }
        return weighted / tokens;
    }
}

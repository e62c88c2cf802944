package io.tunestream.model.tune;

import java.util.List;

/**
 * The frozen LM seen from the tuner: the loss of a batch of examples given a virtual-token table, and
 * its gradient with respect to the table (computed by the decoder training graph). The loss is NeMo's
 * masked mean cross-entropy over the batch's loss tokens (answer tokens with {@code answer_only_loss}).
 *
 * @param <E> a prepared example (token ids, virtual slots, loss mask)
 */
public interface TableObjective<E> {

    /** Loss, loss-token count and d loss / d table ([virtualTokens·hidden], row-major) of {@code batch}. */
    Evaluation lossAndGradient(float[] table, List<E> batch);

    /** Loss and loss-token count of {@code batch}, no gradient (validation). */
    Evaluation loss(float[] table, List<E> batch);

    /**
     * @param loss          masked mean over the batch's loss tokens
     * @param tokens        how many loss tokens the mean is over
     * @param tableGradient d loss / d table, or an empty array when not computed
     */
    record Evaluation(double loss, long tokens, float[] tableGradient) {
        public Evaluation {
            if (tokens <= 0) {
                throw new IllegalArgumentException("a batch must have loss tokens, got " + tokens);
            }
        }
    }
}

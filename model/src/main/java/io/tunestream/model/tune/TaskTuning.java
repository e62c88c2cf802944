package io.tunestream.model.tune;

import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * What to tune for one task: its encoder, the LM's token embeddings (to initialise the encoder input),
 * the prepared examples and the objective that evaluates them.
 *
 * @param task            task name (NeMo {@code taskname})
 * @param encoder         the task's prompt encoder
 * @param tokenEmbeddings the LM's token-embedding table, row-major [vocab, hidden]
 * @param hidden          the LM's hidden size
 * @param initTextIds     token ids of {@code encoder.initText()} (empty unless init is TEXT)
 * @param train           usable training examples
 * @param validation      usable validation examples
 * @param skipped         examples left out while preparing the data, counted by reason
 * @param objective       the LM's loss and table gradient over examples
 * @param <E>             prepared example type
 */
public record TaskTuning<E>(String task, PromptEncoderConfig encoder, float[] tokenEmbeddings, int hidden,
                            int[] initTextIds, List<E> train, List<E> validation, Map<String, Long> skipped,
                            TableObjective<E> objective) {

    public TaskTuning {
        Objects.requireNonNull(task, "task");
        Objects.requireNonNull(encoder, "encoder");
        Objects.requireNonNull(tokenEmbeddings, "tokenEmbeddings");
        Objects.requireNonNull(objective, "objective");
        train = List.copyOf(train);
        validation = List.copyOf(validation);
        skipped = Map.copyOf(skipped);
        initTextIds = initTextIds.clone();
        if (train.isEmpty()) {
            throw new IllegalArgumentException("task " + task + " has no usable training example" + skippedText(skipped));
        }
        if (validation.isEmpty()) {
            throw new IllegalArgumentException("task " + task + " has no usable validation example" + skippedText(skipped)
                    + "; a held-out set is needed for the validation loss and early stopping");
        }
    }

    private static String skippedText(Map<String, Long> skipped) {
        return skipped.isEmpty() ? "" : " (skipped: " + new java.util.TreeMap<>(skipped) + ")";
    }
}

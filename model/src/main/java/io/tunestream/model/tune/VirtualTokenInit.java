package io.tunestream.model.tune;

import java.util.SplittableRandom;

/**
 * The starting rows of a task's learned virtual-token embedding, from the LM's token-embedding table
 * (as NeMo and PEFT initialise prompt tuning).
 */
public final class VirtualTokenInit {

    private VirtualTokenInit() {
    }

    /**
     * [virtualTokens, hidden] rows, per {@code config.init()}:
     * {@link EmbeddingInit#TEXT} repeats the embeddings of {@code initTextIds} (PEFT cycles the text
     * ids to fill the tokens); {@link EmbeddingInit#VOCAB} takes rows of ids drawn uniformly from the
     * vocabulary; {@link EmbeddingInit#RANDOM} draws N(0, init_std); {@link EmbeddingInit#NORMAL} N(0, 1).
     *
     * @param embeddings  the LM's token-embedding table, row-major [vocab, hidden]
     * @param initTextIds token ids of {@code config.initText()} (ignored unless TEXT)
     */
    public static double[] rows(PromptEncoderConfig config, float[] embeddings, int hidden, int[] initTextIds,
                                SplittableRandom rng) {
        if (hidden <= 0 || embeddings.length % hidden != 0) {
            throw new IllegalArgumentException("embedding table of " + embeddings.length
                    + " values is not a whole number of rows of " + hidden);
        }
        int vocab = embeddings.length / hidden;
        int n = config.virtualTokens();
        double[] rows = new double[n * hidden];
        switch (config.init()) {
            case RANDOM -> {
                for (int i = 0; i < rows.length; i++) {
                    rows[i] = config.initStd() * PromptEncoder.gaussian(rng);
                }
            }
            case NORMAL -> {
                for (int i = 0; i < rows.length; i++) {
                    rows[i] = PromptEncoder.gaussian(rng);
                }
            }
            case VOCAB -> {
                for (int r = 0; r < n; r++) {
                    copyRow(embeddings, rng.nextInt(vocab), hidden, rows, r);
                }
            }
            case TEXT -> {
                if (initTextIds.length == 0) {
                    throw new IllegalArgumentException("init_text '" + config.initText().orElse("")
                            + "' tokenizes to no ids");
                }
                for (int r = 0; r < n; r++) {
                    int id = initTextIds[r % initTextIds.length];
                    if (id < 0 || id >= vocab) {
                        throw new IllegalArgumentException("init_text token id " + id + " is outside the vocabulary of "
                                + vocab);
                    }
                    copyRow(embeddings, id, hidden, rows, r);
                }
            }
        }
        return rows;
    }

    private static void copyRow(float[] table, int id, int hidden, double[] rows, int r) {
        for (int c = 0; c < hidden; c++) {
            rows[r * hidden + c] = table[id * hidden + c];
        }
    }
}

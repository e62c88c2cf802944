package io.tunestream.model.prompt;

import java.util.Arrays;

/**
 * A task's learned virtual-token embeddings (the output of p-tuning): {@code rows} vectors of
 * {@code hidden} floats, row-major, for the model whose weights hash to {@code modelFingerprint}.
 *
 * @param taskName         the task these rows belong to
 * @param rows             number of virtual tokens
 * @param hidden           width of a row: must equal the model's hidden size
 * @param values           rows x hidden floats, row-major (not copied: do not modify)
 * @param modelFingerprint fingerprint of the model the table was tuned on
 */
public record VirtualTokenTable(String taskName, int rows, int hidden, float[] values, String modelFingerprint) {

    public VirtualTokenTable {
        if (rows < 0 || hidden <= 0) {
            throw new IllegalArgumentException(TaskTemplate.problem(taskName, "virtual-token table must be rows >= 0 x hidden > 0, got "
                    + rows + " x " + hidden));
        }
        if (values == null || values.length != rows * hidden) {
            throw new IllegalArgumentException(TaskTemplate.problem(taskName, "virtual-token table of " + rows + " x " + hidden
                    + " needs " + rows * hidden + " values, got " + (values == null ? 0 : values.length)));
        }
        if (modelFingerprint == null || modelFingerprint.isBlank()) {
            throw new IllegalArgumentException(TaskTemplate.problem(taskName, "virtual-token table has no model fingerprint"));
        }
    }

    /** Builds a table from rows of equal width. */
    public static VirtualTokenTable of(String taskName, float[][] rows, String modelFingerprint) {
        int hidden = rows.length == 0 ? 1 : rows[0].length;
        float[] values = new float[rows.length * hidden];
        for (int r = 0; r < rows.length; r++) {
            if (rows[r].length != hidden) {
                throw new IllegalArgumentException(TaskTemplate.problem(taskName, "virtual-token row " + r + " has "
                        + rows[r].length + " values, row 0 has " + hidden));
            }
            System.arraycopy(rows[r], 0, values, r * hidden, hidden);
        }
        return new VirtualTokenTable(taskName, rows.length, hidden, values, modelFingerprint);
    }

    /** Copies row {@code r} into {@code dst} at {@code offset}. */
    public void copyRow(int r, float[] dst, int offset) {
        System.arraycopy(values, r * hidden, dst, offset, hidden);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof VirtualTokenTable t && rows == t.rows && hidden == t.hidden && taskName.equals(t.taskName)
                && modelFingerprint.equals(t.modelFingerprint) && Arrays.equals(values, t.values);
    }

    @Override
    public int hashCode() {
        return 31 * taskName.hashCode() + Arrays.hashCode(values);
    }

    @Override
    public String toString() {
        return "VirtualTokenTable[" + taskName + ", " + rows + " x " + hidden + ", model " + modelFingerprint + "]";
    }
}

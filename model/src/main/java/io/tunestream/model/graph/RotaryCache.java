package io.tunestream.model.graph;

/**
 * The cos/sin caches GroupQueryAttention rotates queries and keys with: row {@code p} holds position
 * {@code p}'s angles, {@code halfDim} of them ({@code cos_cache}/{@code sin_cache}, [positions, headDim / 2]).
 *
 * <p>Built from the tables an export multiplies by ({@link #fromTables}), which the export computes at
 * run time from position ids: evaluated once at load over every position
 * ({@link GroupQueryAttentionRewrite#rotaryTables}), so whatever scaling the export applies (linear,
 * Llama 3, YaRN's attention factor) is in the values.
 *
 * @param positions rows: positions 0 to positions - 1
 * @param halfDim   angles per position, head_dim / 2
 * @param cos       [positions, halfDim] row-major
 * @param sin       [positions, halfDim] row-major
 */
public record RotaryCache(int positions, int halfDim, float[] cos, float[] sin) {

    public RotaryCache {
        if (positions < 1 || halfDim < 1 || cos.length != positions * halfDim || sin.length != positions * halfDim) {
            throw new IllegalArgumentException("a rotary cache of " + positions + " x " + halfDim + " takes that many cos and sin"
                    + " values, got " + cos.length + " and " + sin.length);
        }
        cos = cos.clone();
        sin = sin.clone();
    }

    @Override
    public float[] cos() {
        return cos.clone();
    }

    @Override
    public float[] sin() {
        return sin.clone();
    }

    /**
     * The caches of full-width tables, as the export computes them for rotate_half ({@code emb =
     * cat(freqs, freqs)}: each row's second half repeats its first).
     *
     * @param cos     [positions, headDim] row-major
     * @param sin     [positions, headDim] row-major
     * @throws IllegalArgumentException if a row's halves differ: the tables are not those of rotate_half
     *                                  (an interleaved or partial rotation), which the caches cannot express
     */
    public static RotaryCache fromTables(float[] cos, float[] sin, int positions, int headDim) {
        if (headDim % 2 != 0 || cos.length != positions * headDim || sin.length != positions * headDim) {
            throw new IllegalArgumentException("rotary tables of " + positions + " positions x head_dim " + headDim
                    + " take that many values with an even head_dim, got " + cos.length + " cos and " + sin.length + " sin");
        }
        int half = headDim / 2;
        float[] c = new float[positions * half];
        float[] s = new float[positions * half];
        for (int p = 0; p < positions; p++) {
            for (int j = 0; j < half; j++) {
                int first = p * headDim + j;
                if (cos[first] != cos[first + half] || sin[first] != sin[first + half]) {
                    throw new IllegalArgumentException("the rotary tables' halves differ at position " + p + ", angle " + j
                            + " (cos " + cos[first] + " vs " + cos[first + half] + "): not rotate_half tables");
                }
                c[p * half + j] = cos[first];
                s[p * half + j] = sin[first];
            }
        }
        return new RotaryCache(positions, half, c, s);
    }
}

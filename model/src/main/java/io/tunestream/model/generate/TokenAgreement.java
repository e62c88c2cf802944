package io.tunestream.model.generate;

import java.util.List;

/**
 * How far two generations of the same requests agree, token by token: each row compared up to and including its
 * first differing token (after it the two continue from different histories, so later tokens say nothing). What
 * "same tokens up to rounding" is measured with, e.g. sampling in the decode-chunk graph (float) against the Java
 * sampler (double) given the same uniforms.
 *
 * @param compared  tokens compared: each row's common start, plus its first difference if it has one
 * @param differing rows that differ (one token each)
 * @param rows      rows compared
 */
public record TokenAgreement(int compared, int differing, int rows) {

    /**
     * @throws IllegalArgumentException if the lists differ in size
     */
    public static TokenAgreement between(List<GenerationResult> a, List<GenerationResult> b) {
        if (a.size() != b.size()) {
            throw new IllegalArgumentException("cannot compare " + a.size() + " results with " + b.size());
        }
        int compared = 0;
        int differing = 0;
        for (int i = 0; i < a.size(); i++) {
            int[] x = a.get(i).tokenIds();
            int[] y = b.get(i).tokenIds();
            int same = 0;
            while (same < x.length && same < y.length && x[same] == y[same]) {
                same++;
            }
            boolean differs = same < Math.max(x.length, y.length);
            compared += same + (differs ? 1 : 0);
            differing += differs ? 1 : 0;
        }
        return new TokenAgreement(compared, differing, a.size());
    }

    /** Both counts together. */
    public TokenAgreement plus(TokenAgreement other) {
        return new TokenAgreement(compared + other.compared, differing + other.differing, rows + other.rows);
    }

    /** Differing tokens over tokens compared; 0 when nothing was compared. */
    public double rate() {
        return compared == 0 ? 0 : (double) differing / compared;
    }
}

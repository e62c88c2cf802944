package io.tunestream.model.tune;

/**
 * Derives independent seeds from the run's seed and a position (task, epoch, step, micro-batch), so
 * that every random stream can be recreated from counters alone: a checkpoint that stores the seed
 * and the counters has stored the whole random state, and a resumed run draws exactly what the
 * uninterrupted run would have drawn.
 */
final class Seeds {

    private Seeds() {
    }

    /** SplitMix64's finalizer folded over the parts. */
    static long derive(long seed, long... parts) {
        long h = mix(seed);
        for (long p : parts) {
            h = mix(h ^ mix(p + 0x9E3779B97F4A7C15L));
        }
        return h;
    }

    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}

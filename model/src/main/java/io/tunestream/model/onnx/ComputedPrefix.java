package io.tunestream.model.onnx;

import java.nio.FloatBuffer;
import java.util.List;
import java.util.Optional;

/**
 * The keys and values of a prompt's first positions, computed once by the model so that rows starting
 * with the same positions can skip them at prefill: to a {@link DecodeState} it is a {@link KvPrefix} like a
 * deep prompt, and the row's remaining tokens follow at positions {@link #positions()}, ... (for rotary
 * models the cached keys are already rotated at their own positions, so nothing is recomputed).
 *
 * <p>Because attention is causal, the first n positions of a computed prefix are exactly what running only
 * those n positions gives: {@link #firstPositions(int)} shares the memory of the whole. Immutable; safe to
 * share between threads and batches.
 */
public final class ComputedPrefix implements KvPrefix {

    private final int layers;
    private final int kvHeads;
    private final int headDim;
    /** Cache entry k (layer k/2's key when even, value when odd), [kvHeads, stored, headDim] row-major. */
    private final List<float[]> entries;
    /** Positions each entry holds. */
    private final int stored;
    /** Positions this prefix covers: the first {@code positions} of {@code stored}. */
    private final int positions;

    private ComputedPrefix(int layers, int kvHeads, int headDim, List<float[]> entries, int stored, int positions) {
        this.layers = layers;
        this.kvHeads = kvHeads;
        this.headDim = headDim;
        this.entries = entries;
        this.stored = stored;
        this.positions = positions;
    }

    /**
     * Runs {@code embeds} after {@code past} (a deep prompt, or none) and keeps the keys and values of every
     * position: the past's first, then the embeddings' at positions past.positions(), ...
     *
     * @param embeds  [length, hidden] row-major embeddings (token and virtual-token rows); at least one
     * @param past    a prefix the embeddings follow, or empty
     * @param control terminates the run from another thread; null when nobody cancels it
     * @throws IllegalArgumentException if {@code embeds} is empty or not a whole number of rows, or the past does not fit
     * @throws IllegalStateException    if the model run fails
     */
    public static ComputedPrefix compute(DecoderModel model, float[] embeds, Optional<? extends KvPrefix> past,
                                         RunControl control) {
        ModelConfig config = model.config();
        if (embeds.length == 0 || embeds.length % config.hiddenSize() != 0) {
            throw new IllegalArgumentException("a prefix needs whole embedding rows of " + config.hiddenSize()
                    + " floats, got " + embeds.length);
        }
        Prefill.Prefilled prefilled = Prefill.run(model, List.of(embeds), List.of(past), control);
        try (KvCache cache = prefilled.cache()) {
            int length = cache.length();
            int real = Math.toIntExact(prefilled.lengths()[0]);
            int pad = prefilled.pads()[0];
            int headSize = real * config.headDim();
            float[][] out = new float[2 * config.layers()][];
            for (int k = 0; k < out.length; k++) {
                FloatBuffer src = cache.floats(k);
                float[] entry = new float[config.kvHeads() * headSize];
                for (int h = 0; h < config.kvHeads(); h++) {
                    src.get((h * length + pad) * config.headDim(), entry, h * headSize, headSize);
                }
                out[k] = entry;
            }
            return new ComputedPrefix(config.layers(), config.kvHeads(), config.headDim(), List.of(out), real, real);
        }
    }

    /**
     * The first {@code n} positions of this prefix, sharing its memory.
     *
     * @throws IllegalArgumentException if n is not in [1, positions()]
     */
    public ComputedPrefix firstPositions(int n) {
        if (n < 1 || n > positions) {
            throw new IllegalArgumentException("cannot take " + n + " of a prefix of " + positions + " positions");
        }
        return n == positions ? this : new ComputedPrefix(layers, kvHeads, headDim, entries, stored, n);
    }

    @Override
    public int positions() {
        return positions;
    }

    /** Bytes of key and value memory held (the whole computed prefix, also for a {@link #firstPositions} view). */
    public long bytes() {
        return (long) entries.size() * kvHeads * stored * headDim * Float.BYTES;
    }

    @Override
    public void checkFits(ModelConfig model) {
        if (layers != model.layers() || kvHeads != model.kvHeads() || headDim != model.headDim()) {
            throw new IllegalArgumentException("the computed prefix is for " + layers + " layers x " + kvHeads
                    + " kv heads x head size " + headDim + " but the model has " + model.layers() + " layers x "
                    + model.kvHeads() + " kv heads x head size " + model.headDim());
        }
    }

    @Override
    public void copyEntry(int k, float[] dst, int dstOffset, int slots, int at) {
        if (k < 0 || k >= entries.size()) {
            throw new IndexOutOfBoundsException("entry " + k + " of a prefix of " + layers + " layers");
        }
        if (at < 0 || at + positions > slots) {
            throw new IllegalArgumentException(positions + " prefix positions do not fit at slot " + at + " of " + slots);
        }
        float[] entry = entries.get(k);
        for (int h = 0; h < kvHeads; h++) {
            System.arraycopy(entry, h * stored * headDim, dst, dstOffset + (h * slots + at) * headDim, positions * headDim);
        }
    }
}

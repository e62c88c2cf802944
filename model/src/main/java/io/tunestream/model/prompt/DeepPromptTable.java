package io.tunestream.model.prompt;

import io.tunestream.model.onnx.KvPrefix;
import io.tunestream.model.onnx.ModelConfig;

import java.util.Arrays;
import java.util.List;

/**
 * A task's deep prompt (PEFT's {@code PREFIX_TUNING}): for each of {@code virtualTokens} virtual
 * tokens, a key and a value prefix at every layer, which serving places at the start of the row's KV
 * cache instead of adding rows to its input.
 *
 * <p>Held in PEFT's flat layout {@code [virtualTokens, 2·layers·kvHeads·headDim]} (the prefix
 * encoder's {@code embedding.weight}): entry {@code 2l} of the middle axis is layer l's key, {@code 2l+1}
 * its value, so element {@code [p, ((2l + kv)·kvHeads + h)·headDim + d]} is {@code past[l][kv][h, p, d]}.
 * {@link #ofLayers} and {@link #key}/{@link #value} convert from and to the per-layer form
 * {@code [kvHeads, virtualTokens, headDim]} of the export's {@code past_key_values.l.key/value}.
 * Keys are cache keys (for rotary models: already rotated; never rotated again).
 *
 * <p>The real tokens after a prefix take positions {@code virtualTokens, virtualTokens + 1, ...}, as
 * in PEFT (transformers counts positions from the cache length).
 *
 * @param taskName         the task
 * @param virtualTokens    prefix positions P
 * @param layers           decoder layers
 * @param kvHeads          key/value heads
 * @param headDim          width of one head
 * @param values           P · 2·layers·kvHeads·headDim floats in PEFT's layout (not copied: do not modify)
 * @param modelFingerprint fingerprint of the model the prefix was tuned on
 */
public record DeepPromptTable(String taskName, int virtualTokens, int layers, int kvHeads, int headDim, float[] values,
                              String modelFingerprint) implements KvPrefix {

    public DeepPromptTable {
        if (virtualTokens <= 0 || layers <= 0 || kvHeads <= 0 || headDim <= 0) {
            throw new IllegalArgumentException(TaskTemplate.problem(taskName, "deep prompt must have positive virtual "
                    + "tokens, layers, kv heads and head size, got " + virtualTokens + ", " + layers + ", " + kvHeads
                    + ", " + headDim));
        }
        long expected = (long) virtualTokens * 2 * layers * kvHeads * headDim;
        if (values == null || values.length != expected) {
            throw new IllegalArgumentException(TaskTemplate.problem(taskName, "deep prompt of " + virtualTokens
                    + " virtual tokens x 2 x " + layers + " layers x " + kvHeads + " kv heads x " + headDim
                    + " needs " + expected + " values, got " + (values == null ? 0 : values.length)));
        }
        if (modelFingerprint == null || modelFingerprint.isBlank()) {
            throw new IllegalArgumentException(TaskTemplate.problem(taskName, "deep prompt has no model fingerprint"));
        }
    }

    /** PEFT's flat layout {@code [virtualTokens, rowWidth]}, as its prefix encoder's embedding holds it. */
    public static DeepPromptTable ofPeft(String taskName, int virtualTokens, ModelConfig model, float[] values,
                                         String modelFingerprint) {
        return new DeepPromptTable(taskName, virtualTokens, model.layers(), model.kvHeads(), model.headDim(), values,
                modelFingerprint);
    }

    /**
     * From per-layer tensors as the export's {@code past_key_values.l.key/value} take them for one row.
     *
     * @param keys   layer l's key prefix, [kvHeads, virtualTokens, headDim] row-major, one per layer
     * @param values layer l's value prefix, same shape
     */
    public static DeepPromptTable ofLayers(String taskName, int kvHeads, int headDim, List<float[]> keys,
                                           List<float[]> values, String modelFingerprint) {
        if (keys.isEmpty() || keys.size() != values.size()) {
            throw new IllegalArgumentException(TaskTemplate.problem(taskName, "deep prompt needs one key and one value "
                    + "prefix a layer, got " + keys.size() + " keys and " + values.size() + " values"));
        }
        int block = kvHeads * headDim;
        if (block <= 0 || keys.get(0).length % block != 0 || keys.get(0).length == 0) {
            throw new IllegalArgumentException(TaskTemplate.problem(taskName, "layer 0's key prefix has "
                    + keys.get(0).length + " values, not a positive multiple of kv heads x head size = " + block));
        }
        int p = keys.get(0).length / block;
        int layers = keys.size();
        int width = 2 * layers * block;
        float[] flat = new float[p * width];
        for (int l = 0; l < layers; l++) {
            for (int kv = 0; kv < 2; kv++) {
                float[] t = (kv == 0 ? keys : values).get(l);
                if (t.length != p * block) {
                    throw new IllegalArgumentException(TaskTemplate.problem(taskName, "layer " + l + "'s "
                            + (kv == 0 ? "key" : "value") + " prefix has " + t.length + " values, expected " + kvHeads
                            + " x " + p + " x " + headDim + " = " + p * block));
                }
                for (int h = 0; h < kvHeads; h++) {
                    for (int pos = 0; pos < p; pos++) {
                        System.arraycopy(t, (h * p + pos) * headDim, flat,
                                pos * width + ((2 * l + kv) * kvHeads + h) * headDim, headDim);
                    }
                }
            }
        }
        return new DeepPromptTable(taskName, p, layers, kvHeads, headDim, flat, modelFingerprint);
    }

    @Override
    public int positions() {
        return virtualTokens;
    }

    /** Floats of one virtual token across every layer's key and value: 2·layers·kvHeads·headDim. */
    public int rowWidth() {
        return 2 * layers * kvHeads * headDim;
    }

    /** Layer {@code layer}'s key prefix, [kvHeads, virtualTokens, headDim] row-major (a copy). */
    public float[] key(int layer) {
        return entry(2 * layer);
    }

    /** Layer {@code layer}'s value prefix, [kvHeads, virtualTokens, headDim] row-major (a copy). */
    public float[] value(int layer) {
        return entry(2 * layer + 1);
    }

    /**
     * Copies PEFT entry {@code k} (layer k/2's key when k is even, its value when odd) for virtual tokens
     * [0, virtualTokens) into {@code dst}, laid out [kvHeads, positions, headDim] with {@code positions}
     * slots a head, starting at slot {@code at} (so that a shorter prefix can sit right-aligned in a
     * longer cache).
     */
    @Override
    public void copyEntry(int k, float[] dst, int dstOffset, int positions, int at) {
        if (k < 0 || k >= 2 * layers) {
            throw new IndexOutOfBoundsException("entry " + k + " of a deep prompt of " + layers + " layers");
        }
        if (at < 0 || at + virtualTokens > positions) {
            throw new IllegalArgumentException(virtualTokens + " prefix positions do not fit at slot " + at + " of "
                    + positions);
        }
        int width = rowWidth();
        for (int h = 0; h < kvHeads; h++) {
            for (int p = 0; p < virtualTokens; p++) {
                System.arraycopy(values, p * width + (k * kvHeads + h) * headDim, dst,
                        dstOffset + (h * positions + at + p) * headDim, headDim);
            }
        }
    }

    private float[] entry(int k) {
        float[] out = new float[kvHeads * virtualTokens * headDim];
        copyEntry(k, out, 0, virtualTokens, 0);
        return out;
    }

    /**
     * Refuses a prefix that does not fit {@code model}: other layers, kv heads or head size, or so many
     * virtual tokens that no real token would have a position left.
     *
     * @throws IllegalArgumentException naming the task and both shapes
     */
    @Override
    public void checkFits(ModelConfig model) {
        if (layers != model.layers() || kvHeads != model.kvHeads() || headDim != model.headDim()) {
            throw new IllegalArgumentException(TaskTemplate.problem(taskName, "the deep prompt is for " + layers
                    + " layers x " + kvHeads + " kv heads x head size " + headDim + " but the model has "
                    + model.layers() + " layers x " + model.kvHeads() + " kv heads x head size " + model.headDim()));
        }
        if (virtualTokens >= model.maxPositions()) {
            throw new IllegalArgumentException(TaskTemplate.problem(taskName, "the deep prompt's " + virtualTokens
                    + " virtual tokens leave no position of the model's " + model.maxPositions()));
        }
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof DeepPromptTable t && virtualTokens == t.virtualTokens && layers == t.layers
                && kvHeads == t.kvHeads && headDim == t.headDim && taskName.equals(t.taskName)
                && modelFingerprint.equals(t.modelFingerprint) && Arrays.equals(values, t.values);
    }

    @Override
    public int hashCode() {
        return 31 * taskName.hashCode() + Arrays.hashCode(values);
    }

    @Override
    public String toString() {
        return "DeepPromptTable[" + taskName + ", " + virtualTokens + " virtual tokens x " + layers + " layers x "
                + kvHeads + " kv heads x " + headDim + ", model " + modelFingerprint + "]";
    }
}

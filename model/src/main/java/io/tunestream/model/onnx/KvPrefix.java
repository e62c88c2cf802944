package io.tunestream.model.onnx;

/**
 * Keys and values that a {@link DecodeState} places at the start of a row's KV cache, before the row's
 * first token (a deep prompt: {@code io.tunestream.model.prompt.DeepPromptTable}). The row's tokens then
 * take positions {@link #positions()}, {@link #positions()} + 1, ... (PEFT's convention).
 */
public interface KvPrefix {

    /** Cache positions the prefix takes (its virtual tokens). */
    int positions();

    /**
     * Refuses a prefix whose layers, kv heads or head size differ from {@code model}'s.
     *
     * @throws IllegalArgumentException naming both shapes
     */
    void checkFits(ModelConfig model);

    /**
     * Copies cache entry {@code k} (layer k/2's key when k is even, its value when odd) into {@code dst}
     * at {@code dstOffset}, laid out [kvHeads, slots, headDim], the prefix's positions at slots
     * [at, at + positions()).
     */
    void copyEntry(int k, float[] dst, int dstOffset, int slots, int at);
}

package io.tunestream.model.onnx;

import java.util.List;

/**
 * The decoding state of one batch: it runs the model over the batch's prompts, then over one token a
 * row at each step, and holds whatever the model keeps between steps. The generation loop sees logits
 * in and tokens out, never the cache; {@link DecoderModel#newDecodeState} picks the implementation once
 * (as onnxruntime-genai's {@code State} hides its {@code KeyValueCache}):
 * <ul>
 *   <li>in place: fixed-capacity KV buffers that each step appends to (GroupQueryAttention
 *       decode graph, {@link DecoderModel#decodesInPlace()});</li>
 *   <li>copying: the export's own attention, whose {@link KvCache} each step concatenates anew;</li>
 *   <li>recomputing: no cache, the whole sequence at every step (for checks and benchmarks).</li>
 * </ul>
 * All three give the same tokens.
 *
 * <p>Rows are numbered 0..{@link #batch()}-1 in the order of the prompts, and renumbered by
 * {@link #keepRows}. The state left-pads rows to the longest and counts each row's positions from its
 * first real token (position = cumsum(mask) - 1), so callers pass neither masks nor positions.
 *
 * <p>Call {@link #prefill} once, then {@link #step} any number of times, dropping finished rows with
 * {@link #keepRows} in between. Owns native memory (buffers, ONNX Runtime tensors): the caller closes it,
 * also after a failure. Not thread-safe: one generation loop owns it.
 */
public interface DecodeState extends AutoCloseable {

    /**
     * Runs the prompts.
     *
     * @param prompts row b's prompt as [length_b, hidden] row-major embeddings (token and virtual-token rows)
     * @return [batch, vocab] row-major logits of each row's last prompt position
     * @throws IllegalStateException if called twice, or the model run fails
     */
    float[] prefill(List<float[]> prompts);

    /**
     * Feeds every row one more token.
     *
     * @param tokens the next token of each row, in row order
     * @return [batch, vocab] row-major logits of the new positions
     * @throws IllegalArgumentException if there is not one token a row, or a token is outside the vocabulary
     * @throws IllegalStateException    before {@link #prefill}, when a row would exceed the capacity the state
     *                                  was made with, or the model run fails
     */
    float[] step(int[] tokens);

    /**
     * Keeps only the given rows, in that order: finished rows stop costing work. Row {@code rows[j]} becomes
     * row j.
     *
     * @param rows strictly increasing indices below {@link #batch()}; at least one
     * @throws IllegalArgumentException if the indices are not strictly increasing or out of range
     */
    void keepRows(int[] rows);

    /** Rows of the batch (after {@link #prefill}; 0 before). */
    int batch();

    /** Releases the state's buffers and tensors; idempotent. */
    @Override
    void close();
}

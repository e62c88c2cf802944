package io.tunestream.model.onnx;

import java.util.List;
import java.util.Optional;

/**
 * The first step of an in-place batch written straight into its {@link KvBuffer}: the prompts right-padded to
 * the longest, run through the GroupQueryAttention prefill graph ({@link DecoderModel#prefillsInPlace()}) with the
 * buffers as both past and present, so there is no padded cache to copy (the alternative is {@link Prefill} then
 * {@link KvBuffer#fromPadded}).
 *
 * <p>Rows are left-aligned in the buffers, as decoding steps expect them. GroupQueryAttention's first prompt writes
 * every one of the batch's positions of a row, padding included; row b's real positions are [0, length_b), and
 * the pads' keys and values after them are overwritten by the row's following steps before any step reads them
 * (a step writes at the row's length and attends to the positions below it).
 *
 * <p>A row with a {@link KvPrefix} is handled when it is the batch's only row: the prefix is copied into the buffers'
 * first positions and the prompt follows it at positions P, P + 1, ... (PEFT's convention), as GroupQueryAttention's
 * subsequent prompt, which ONNX Runtime takes for one row only. Larger batches with prefixes take {@link Prefill}
 * ({@link #handles}).
 */
final class InPlacePrefill {

    private InPlacePrefill() {
    }

    /**
     * @param logits  [batch, vocab] logits of each row's last prompt position
     * @param kv      the batch's buffers, row b holding {@code lengths[b]} positions; the caller closes them
     * @param lengths real positions of each row: the position id of its next token
     */
    record Prefilled(float[] logits, KvBuffer kv, long[] lengths) {
    }

    /** Whether {@link #run} takes these rows' prefixes: none, or a batch of one row. */
    static boolean handles(List<Optional<? extends KvPrefix>> prefixes) {
        return prefixes.size() == 1 || prefixes.stream().allMatch(Optional::isEmpty);
    }

    /**
     * @param prompts  row b's prompt as [length_b, hidden] row-major embeddings, at least one position
     * @param prefixes row b's prefix, or empty; one entry a row, as {@link #handles} takes them
     * @param capacity positions per row the buffers hold; at least the longest prompt and its prefix
     * @param control  terminates the prefill from another thread; null when nobody cancels it
     * @throws IllegalArgumentException if there is no row, a prompt is empty, the prefixes are not {@link #handles
     *                                  handled}, a prefix does not fit the model, or a row is longer than {@code capacity}
     * @throws IllegalStateException    if the run fails (the buffers are then released)
     */
    static Prefilled run(DecoderModel model, List<float[]> prompts, List<Optional<? extends KvPrefix>> prefixes,
                         int capacity, RunControl control) {
        ModelConfig config = model.config();
        int hidden = config.hiddenSize();
        if (prompts.isEmpty()) {
            throw new IllegalArgumentException("a batch needs at least one row");
        }
        if (prefixes.size() != prompts.size()) {
            throw new IllegalArgumentException(prompts.size() + " prompts but " + prefixes.size() + " prefix entries");
        }
        if (!handles(prefixes)) {
            throw new IllegalArgumentException("an in-place prefill takes prefixes in a batch of one row, got "
                    + prompts.size() + " rows");
        }
        Optional<? extends KvPrefix> prefix = prefixes.get(0);
        prefix.ifPresent(p -> p.checkFits(config));
        int past = prefix.map(KvPrefix::positions).orElse(0);
        int batch = prompts.size();
        int[] lengths = new int[batch];
        int longest = 0;
        for (int b = 0; b < batch; b++) {
            float[] p = prompts.get(b);
            if (p.length == 0 || p.length % hidden != 0) {
                throw new IllegalArgumentException("row " + b + " has " + p.length + " embedding values, not a positive "
                        + "multiple of the hidden size " + hidden);
            }
            lengths[b] = p.length / hidden;
            longest = Math.max(longest, lengths[b]);
        }
        if (past + longest > capacity) {
            throw new IllegalArgumentException("capacity " + capacity + " is below the " + longest + " positions of the "
                    + "longest prompt" + (past > 0 ? " after its prefix of " + past : ""));
        }
        // right-padded with zeros: the pads' positions are computed and never read (see the class doc)
        float[] embeds = new float[batch * longest * hidden];
        for (int b = 0; b < batch; b++) {
            System.arraycopy(prompts.get(b), 0, embeds, b * longest * hidden, lengths[b] * hidden);
        }
        int[] held = new int[batch];
        for (int b = 0; b < batch; b++) {
            held[b] = past + lengths[b];
        }
        KvBuffer kv = KvBuffer.forPrefill(held, 2 * config.layers(), config.kvHeads(), config.headDim(), capacity,
                model.bufferPool());
        try {
            prefix.ifPresent(p -> kv.writePrefix(0, p));
            float[] logits = model.prefill(embeds, longest, past, lengths, kv, control);
            long[] positions = new long[batch];
            for (int b = 0; b < batch; b++) {
                positions[b] = held[b];
            }
            return new Prefilled(logits, kv, positions);
        } catch (RuntimeException e) {
            kv.close();
            throw e;
        }
    }
}

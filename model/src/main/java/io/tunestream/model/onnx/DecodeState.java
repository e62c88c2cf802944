package io.tunestream.model.onnx;

import java.util.List;
import java.util.Optional;

/**
 * The decoding state of one batch: it runs the model over the batch's prompts, then over one token a
 * row at each step, and holds whatever the model keeps between steps. The generation loop sees logits
 * in and tokens out, never the cache; {@link DecoderModel#newDecodeState} picks the implementation once
 * (as onnxruntime-genai's {@code State} hides its {@code KeyValueCache}):
 * <ul>
 *   <li>in place: fixed-capacity KV buffers that each step appends to (GroupQueryAttention
 *       decode graph, {@link DecoderModel#decodesInPlace()});</li>
 *   <li>copying: the export's own attention, whose {@link KvCache} each step concatenates anew;</li>
 *   <li>chunked: the copying cache, plus runs of many steps whose tokens the model chooses itself
 *       ({@link #generateChunk}, {@link DecoderModel#chunkSteps()});</li>
 *   <li>recomputing: no cache, the whole sequence at every step (for checks and benchmarks).</li>
 * </ul>
 * All give the same tokens (the chunked state's sampling up to float rounding, see its tests). The in-place state of
 * one row also runs several tokens at once ({@link #verify}), for prompt-lookup decoding.
 *
 * <p>Rows are numbered 0..{@link #batch()}-1 in the order of the prompts, and renumbered by
 * {@link #keepRows}. The state left-pads rows to the longest and counts each row's positions from its
 * first real token (position = cumsum(mask) - 1; a prefix's positions count), so callers pass neither
 * masks nor positions. A row's capacity counts its prefix too.
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
    default float[] prefill(List<float[]> prompts) {
        return prefill(prompts, java.util.Collections.nCopies(prompts.size(), Optional.empty()));
    }

    /**
     * Runs the prompts, each row after its own prefix (a deep prompt), or none: row b's prefix takes the
     * first positions of its cache and its tokens follow at positions P_b, P_b + 1, ... (PEFT's
     * convention). Rows of one batch may mix prefixes of different tasks and lengths with rows that have
     * none (plain or soft prompts).
     *
     * @param prompts  row b's prompt as [length_b, hidden] row-major embeddings (token and virtual-token rows)
     * @param prefixes row b's prefix or empty, one entry a row
     * @return [batch, vocab] row-major logits of each row's last prompt position
     * @throws IllegalArgumentException if the lists differ in size or a prefix does not fit the model
     * @throws IllegalStateException    if called twice, or the model run fails
     */
    float[] prefill(List<float[]> prompts, List<Optional<? extends KvPrefix>> prefixes);

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

    /**
     * Most tokens a row one {@link #generateChunk} call chooses inside the model; 0 (the default) when this state
     * only steps and the caller chooses every token from the logits.
     */
    default int chunkSteps() {
        return 0;
    }

    /**
     * Feeds each row its token, then runs up to {@link #chunkSteps()} steps in one model run, choosing each next
     * token inside the model greedily (end-of-sequence suppressed below the row's min-new-tokens). A row stops
     * choosing at an end-of-sequence token or its remaining tokens; the run stops when every row has.
     *
     * @return row b's chosen tokens, all rows the same count (a row's tokens after its finish are meaningless: the
     *         caller cuts each row at its finish, then drops finished rows with {@link #keepRows}); every row not
     *         finished in the chunk was fed all but its last chosen token, which the next call feeds
     * @throws ChunkFailedException          if the run failed and was not cancelled: the state is unchanged and
     *                                       {@link #step} continues from it
     * @throws IllegalStateException         if cancelled, or before {@link #prefill}
     * @throws UnsupportedOperationException if {@link #chunkSteps()} is 0
     */
    default int[][] generateChunk(ChunkRows rows) {
        throw new UnsupportedOperationException("this decode state feeds one token a row at a time");
    }

    /**
     * Most tokens one {@link #verify} call takes now: the positions left in a one-row batch's buffers; 0 (the default)
     * when this state does not verify (it is not in place, has more than one row, or the model has no graph for it).
     */
    default int verifiablePositions() {
        return 0;
    }

    /**
     * Feeds the batch's one row several tokens at once (its last token, then a draft of what may follow) and returns
     * the logits after each: what {@code tokens.length} {@link #step}s would return, in one model run. The row then
     * holds all the fed positions until {@link #keepVerified} keeps the accepted ones (prompt-lookup decoding).
     *
     * @param tokens at least one, at most {@link #verifiablePositions()}
     * @return [tokens.length, vocab] row-major logits, position j's after tokens 0..j
     * @throws UnsupportedOperationException if {@link #verifiablePositions()} is 0
     * @throws IllegalArgumentException      if there are more tokens than {@link #verifiablePositions()}, none, or a
     *                                       token is outside the vocabulary
     * @throws IllegalStateException         if the model run fails or is cancelled (the row then holds what it held)
     */
    default float[] verify(int[] tokens) {
        throw new UnsupportedOperationException("this decode state feeds one token a row at a time");
    }

    /**
     * Keeps the first {@code accepted} of the positions the last {@link #verify} fed, as if only those tokens had been
     * stepped: the next token the caller feeds follows them.
     *
     * @throws IllegalArgumentException if {@code accepted} is outside [1, tokens the last verify fed]
     * @throws IllegalStateException    if the last call on this state was not {@link #verify}
     */
    default void keepVerified(int accepted) {
        throw new UnsupportedOperationException("this decode state feeds one token a row at a time");
    }

    /** Rows of the batch (after {@link #prefill}; 0 before). */
    int batch();

    /** Releases the state's buffers and tensors; idempotent. */
    @Override
    void close();
}

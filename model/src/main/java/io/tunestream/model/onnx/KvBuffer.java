package io.tunestream.model.onnx;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.TensorInfo;

import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A batch's attention keys and values in buffers of fixed capacity that decoding steps append to in
 * place ({@link DecoderModel#decode}); the alternative to a {@link KvCache}, which every step copies.
 *
 * <p>Layer i's key is buffer {@code 2i}, its value {@code 2i+1}, each [batch, kvHeads, capacity,
 * headDim] in native memory that ONNX Runtime reads and writes directly. Row b holds
 * {@link #length(int)} positions, left-aligned: no padding. Rows are dropped in place
 * ({@link #keepRows}), moving the kept rows down, so a batch allocates its buffers once.
 * Positions past a row's length hold zeros or values the model wrote, never a pooled buffer's stale contents: the
 * decode chunk that reads its past in place ({@code ChunkSegmentAttention}) weighs them by zero, and a stale NaN
 * would survive that (whatever fills the buffers must keep this).
 *
 * <p>Owns its native memory; {@link #close()} releases the tensors and returns the buffers to the
 * model's pool. Not thread-safe: one generation
 * loop owns it.
 */
final class KvBuffer implements AutoCloseable {

    private final OrtEnvironment env;
    private final DirectBufferPool pool;
    private final List<FloatBuffer> buffers;
    private final int kvHeads;
    private final int headDim;
    private final int capacity;
    private int[] lengths;
    private List<OnnxTensor> inputs = List.of();
    private List<OnnxTensor> outputs = List.of();
    private boolean closed;

    private KvBuffer(OrtEnvironment env, DirectBufferPool pool, List<FloatBuffer> buffers, int kvHeads, int headDim,
                     int capacity, int[] lengths) {
        this.env = env;
        this.pool = pool;
        this.buffers = buffers;
        this.kvHeads = kvHeads;
        this.headDim = headDim;
        this.capacity = capacity;
        this.lengths = lengths;
    }

    /**
     * Copies a left-padded cache (as a prefill step returns it) into new buffers: row b's positions
     * from {@code pads[b]} on, moved to the front.
     *
     * @param cache    the cache to copy; stays open, the caller closes it
     * @param pads     left padding of each row
     * @param capacity positions per row the buffers hold; at least every row's length
     * @param pool     where the buffers come from and go back to on {@link #close()}
     */
    static KvBuffer fromPadded(KvCache cache, int[] pads, int capacity, DirectBufferPool pool) {
        List<OnnxTensor> tensors = cache.tensors();
        if (pads.length != cache.batch()) {
            throw new IllegalArgumentException(pads.length + " pads for a cache of " + cache.batch() + " rows");
        }
        if (capacity < cache.length()) {
            throw new IllegalArgumentException("capacity " + capacity + " is below the " + cache.length() + " cached positions");
        }
        long[] shape = ((TensorInfo) tensors.get(0).getInfo()).getShape();
        int kvHeads = Math.toIntExact(shape[1]);
        int headDim = Math.toIntExact(shape[3]);
        int batch = cache.batch();
        int length = cache.length();
        int[] lengths = new int[batch];
        for (int b = 0; b < batch; b++) {
            if (pads[b] < 0 || pads[b] >= length) {
                throw new IllegalArgumentException("row " + b + " has padding " + pads[b] + " of " + length + " positions");
            }
            lengths[b] = length - pads[b];
        }
        List<FloatBuffer> buffers = new ArrayList<>(tensors.size());
        // a pooled buffer holds an earlier batch's values: each row's unused positions are zeroed, since a decode chunk
        // that reads its past in place multiplies them by zero probabilities (and a NaN there would not vanish)
        float[] zeros = new float[capacity * headDim];
        for (int i = 0; i < tensors.size(); i++) {
            FloatBuffer from = cache.floats(i);
            FloatBuffer to = pool.take(batch * kvHeads * capacity * headDim);
            for (int b = 0; b < batch; b++) {
                for (int h = 0; h < kvHeads; h++) {
                    int src = ((b * kvHeads + h) * length + pads[b]) * headDim;
                    int dst = (b * kvHeads + h) * capacity * headDim;
                    to.put(dst, from, src, lengths[b] * headDim);
                    to.put(dst + lengths[b] * headDim, zeros, 0, (capacity - lengths[b]) * headDim);
                }
            }
            buffers.add(to);
        }
        return new KvBuffer(OrtEnvironment.getEnvironment(), pool, List.copyOf(buffers), kvHeads, headDim, capacity, lengths);
    }

    /**
     * New buffers for a prefill that writes each row's positions into them in place ({@link InPlacePrefill}): row b
     * counts {@code lengths[b]} positions from the start, which hold whatever the pool left until the prefill runs.
     * The prefill writes every row's first {@code max(lengths)} positions (a shorter row's pads included); the positions
     * after them are zeroed here, so that no pooled buffer's stale contents stay (see the class doc).
     *
     * @param lengths  positions each row holds once prefilled, each at least 1
     * @param capacity positions per row the buffers hold; at least every row's length
     * @param pool     where the buffers come from and go back to on {@link #close()}
     */
    static KvBuffer forPrefill(int[] lengths, int entries, int kvHeads, int headDim, int capacity, DirectBufferPool pool) {
        for (int b = 0; b < lengths.length; b++) {
            if (lengths[b] < 1 || lengths[b] > capacity) {
                throw new IllegalArgumentException("row " + b + " has " + lengths[b] + " positions, outside [1, capacity "
                        + capacity + "]");
            }
        }
        int written = java.util.Arrays.stream(lengths).max().orElse(0);
        float[] zeros = new float[(capacity - written) * headDim];
        List<FloatBuffer> buffers = new ArrayList<>(entries);
        for (int i = 0; i < entries; i++) {
            FloatBuffer buffer = pool.take(lengths.length * kvHeads * capacity * headDim);
            for (int row = 0; row < lengths.length * kvHeads; row++) {
                buffer.put((row * capacity + written) * headDim, zeros);
            }
            buffers.add(buffer);
        }
        return new KvBuffer(OrtEnvironment.getEnvironment(), pool, List.copyOf(buffers), kvHeads, headDim, capacity,
                lengths.clone());
    }

    /**
     * Copies a prefix into row {@code row}'s first {@code prefix.positions()} positions of every entry (before a
     * prefill that continues it, {@link InPlacePrefill}).
     */
    void writePrefix(int row, KvPrefix prefix) {
        checkOpen();
        int positions = prefix.positions();
        if (row < 0 || row >= lengths.length || positions > lengths[row]) {
            throw new IllegalArgumentException("a prefix of " + positions + " positions does not fit row " + row + " of "
                    + lengths.length + (row >= 0 && row < lengths.length ? " (" + lengths[row] + " positions)" : ""));
        }
        float[] entry = new float[kvHeads * positions * headDim];
        for (int k = 0; k < buffers.size(); k++) {
            prefix.copyEntry(k, entry, 0, positions, 0);
            for (int h = 0; h < kvHeads; h++) {
                buffers.get(k).put((row * kvHeads + h) * capacity * headDim, entry, h * positions * headDim,
                        positions * headDim);
            }
        }
    }

    /** Rows of the batch. */
    int batch() {
        return lengths.length;
    }

    /** Positions each row can hold. */
    int capacity() {
        return capacity;
    }

    /** Positions row {@code row} holds. */
    int length(int row) {
        return lengths[row];
    }

    /**
     * Keeps only the given rows, in that order (finished rows dropped), moving them down in place.
     *
     * @param rows strictly increasing row indices
     */
    void keepRows(int[] rows) {
        checkOpen();
        for (int j = 0; j < rows.length; j++) {
            if (rows[j] < 0 || rows[j] >= lengths.length || j > 0 && rows[j] <= rows[j - 1]) {
                throw new IllegalArgumentException("rows to keep must be increasing indices below " + lengths.length
                        + ", got " + Arrays.toString(rows));
            }
        }
        int block = kvHeads * capacity * headDim;
        for (FloatBuffer buffer : buffers) {
            for (int j = 0; j < rows.length; j++) {
                if (rows[j] != j) {
                    // j < rows[j]: the target block belongs to a dropped or already moved row
                    buffer.put(j * block, buffer, rows[j] * block, block);
                }
            }
        }
        int[] kept = new int[rows.length];
        for (int j = 0; j < rows.length; j++) {
            kept[j] = lengths[rows[j]];
        }
        lengths = kept;
        releaseTensors();
    }

    /** Tensors over the buffers for the current batch, as the step reads them ({@code past_key_values}). */
    List<OnnxTensor> inputs() throws OrtException {
        ensureTensors();
        return inputs;
    }

    /** Tensors over the same memory, as the step writes them ({@code present}, pinned outputs). */
    List<OnnxTensor> outputs() throws OrtException {
        ensureTensors();
        return outputs;
    }

    /** Records that a chunk of {@code steps} steps wrote that many more positions to every row. */
    void appended(int steps) {
        for (int b = 0; b < lengths.length; b++) {
            lengths[b] += steps;
        }
    }

    /**
     * Appends a chunk's keys and values after each row's positions and records the steps appended: {@code chunk}
     * holds, in buffer order, [batch, kvHeads, steps, headDim] each (a chunk that reads its past and returns what it
     * fed, {@code DecodeChunkGraph.chunkOutput}). A row gets as many of the steps as fit its capacity: a row with
     * fewer finished inside the chunk, and its later positions are garbage the caller drops.
     */
    void append(List<FloatBuffer> chunk, int steps) {
        checkOpen();
        int batch = lengths.length;
        if (chunk.size() != buffers.size()) {
            throw new IllegalArgumentException(chunk.size() + " chunk tensors for " + buffers.size() + " buffers");
        }
        for (int i = 0; i < buffers.size(); i++) {
            FloatBuffer from = chunk.get(i);
            if (from.remaining() != batch * kvHeads * steps * headDim) {
                throw new IllegalArgumentException("chunk tensor " + i + " holds " + from.remaining() + " values, not "
                        + batch + " x " + kvHeads + " x " + steps + " x " + headDim);
            }
            FloatBuffer to = buffers.get(i);
            for (int b = 0; b < batch; b++) {
                int fit = Math.max(0, Math.min(steps, capacity - lengths[b]));
                for (int h = 0; h < kvHeads; h++) {
                    int src = from.position() + (b * kvHeads + h) * steps * headDim;
                    int dst = ((b * kvHeads + h) * capacity + lengths[b]) * headDim;
                    to.put(dst, from, src, fit * headDim);
                }
            }
        }
        appended(steps);
    }

    /**
     * Row {@code row} keeps its first {@code length} positions: the ones after it stay in the buffers as garbage that
     * nothing reads (GroupQueryAttention attends to a row's positions below its {@code seqlens_k} + 1 only) and that
     * the row's next writes overwrite. How a verification pass forgets the positions of a rejected draft.
     *
     * @throws IllegalArgumentException if the row does not hold {@code length} positions, or {@code length} is below 1
     */
    void keepPositions(int row, int length) {
        if (row < 0 || row >= lengths.length || length < 1 || length > lengths[row]) {
            throw new IllegalArgumentException("row " + row + " of " + lengths.length + " cannot keep " + length
                    + " positions" + (row >= 0 && row < lengths.length ? " of its " + lengths[row] : ""));
        }
        lengths[row] = length;
    }

    /** Records that a step wrote one more position to every row. */
    void appended() {
        for (int b = 0; b < lengths.length; b++) {
            lengths[b]++;
        }
    }

    private void ensureTensors() throws OrtException {
        checkOpen();
        if (!inputs.isEmpty()) {
            return;
        }
        int batch = lengths.length;
        long[] shape = {batch, kvHeads, capacity, headDim};
        int used = batch * kvHeads * capacity * headDim;
        List<OnnxTensor> in = new ArrayList<>(buffers.size());
        List<OnnxTensor> out = new ArrayList<>(buffers.size());
        try {
            for (FloatBuffer buffer : buffers) {
                in.add(OnnxTensor.createTensor(env, buffer.slice(0, used), shape));
                out.add(OnnxTensor.createTensor(env, buffer.slice(0, used), shape));
            }
        } catch (OrtException | RuntimeException e) {
            in.forEach(OnnxTensor::close);
            out.forEach(OnnxTensor::close);
            throw e;
        }
        inputs = List.copyOf(in);
        outputs = List.copyOf(out);
    }

    private void releaseTensors() {
        inputs.forEach(OnnxTensor::close);
        outputs.forEach(OnnxTensor::close);
        inputs = List.of();
        outputs = List.of();
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("the KV buffer is closed");
        }
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            releaseTensors();
            buffers.forEach(pool::give);
        }
    }
}

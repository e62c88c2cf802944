package io.tunestream.model.onnx;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.TensorInfo;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The attention keys and values of a batch after a step: layer i's key is {@code tensors[2i]},
 * its value {@code tensors[2i+1]}, each [batch, kvHeads, length, headDim].
 *
 * <p>Owns its native memory: the step's ONNX Runtime result, or the tensors made by
 * {@link #selectRows(int[])}. Close it once the next step has run (that step reads it) or when the
 * batch ends. Not thread-safe; one generation loop owns it.
 */
public final class KvCache implements AutoCloseable {

    private final List<OnnxTensor> tensors;
    private final List<FloatBuffer> memory;
    private final AutoCloseable owner;
    private final int batch;
    private final int length;
    private boolean closed;

    KvCache(List<OnnxTensor> tensors, AutoCloseable owner, int batch, int length) {
        this(tensors, null, owner, batch, length);
    }

    /**
     * @param memory the direct buffers the tensors were made over (read without copying), or null when
     *               ONNX Runtime owns the tensors' memory
     */
    KvCache(List<OnnxTensor> tensors, List<FloatBuffer> memory, AutoCloseable owner, int batch, int length) {
        this.tensors = List.copyOf(tensors);
        this.memory = memory == null ? null : List.copyOf(memory);
        this.owner = owner;
        this.batch = batch;
        this.length = length;
    }

    /** Rows of the batch. */
    public int batch() {
        return batch;
    }

    /** Positions cached per row (pads included). */
    public int length() {
        return length;
    }

    List<OnnxTensor> tensors() {
        if (closed) {
            throw new IllegalStateException("the KV cache is closed");
        }
        return tensors;
    }

    /**
     * A new cache holding only the given rows, in that order (finished rows dropped). This one stays
     * open; the caller closes both. Copies the kept rows once through host memory.
     */
    public KvCache selectRows(int[] rows) {
        return selectRows(rows, 0);
    }

    /**
     * Like {@link #selectRows(int[])}, also dropping the first {@code leadingPositions} positions of
     * every row: left padding that no kept row needs any more (the caller drops the same columns of
     * the attention mask).
     */
    public KvCache selectRows(int[] rows, int leadingPositions) {
        if (leadingPositions < 0 || leadingPositions >= length) {
            throw new IllegalArgumentException("cannot drop " + leadingPositions + " of " + length + " cached positions");
        }
        List<OnnxTensor> selected = new ArrayList<>(tensors().size());
        int kept = length - leadingPositions;
        try {
            for (int i = 0; i < tensors().size(); i++) {
                OnnxTensor t = tensors.get(i);
                long[] shape = ((TensorInfo) t.getInfo()).getShape();
                int heads = Math.toIntExact(shape[1]);
                int headDim = Math.toIntExact(shape[3]);
                int rowSize = heads * length * headDim;
                FloatBuffer all = floats(i);
                FloatBuffer out = ByteBuffer.allocateDirect(rows.length * heads * kept * headDim * Float.BYTES)
                        .order(ByteOrder.nativeOrder()).asFloatBuffer();
                for (int r : rows) {
                    if (r < 0 || r >= batch) {
                        throw new IndexOutOfBoundsException("row " + r + " of a KV cache of " + batch + " rows");
                    }
                    for (int h = 0; h < heads; h++) {
                        out.put(all.slice(r * rowSize + (h * length + leadingPositions) * headDim, kept * headDim));
                    }
                }
                out.rewind();
                selected.add(OnnxTensor.createTensor(OrtEnvironment.getEnvironment(), out,
                        new long[]{rows.length, heads, kept, headDim}));
            }
        } catch (OrtException e) {
            selected.forEach(OnnxTensor::close);
            throw new IllegalStateException("cannot build a KV cache of rows " + Arrays.toString(rows), e);
        }
        List<OnnxTensor> owned = List.copyOf(selected);
        return new KvCache(owned, () -> owned.forEach(OnnxTensor::close), rows.length, kept);
    }

    /** The values of tensor {@code i}: its buffer when we own its memory, else ONNX Runtime's copy of it. */
    FloatBuffer floats(int i) {
        return memory != null ? memory.get(i).duplicate().clear() : tensors().get(i).getFloatBuffer();
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            try {
                owner.close();
            } catch (Exception e) {
                throw new IllegalStateException("cannot release the KV cache", e);
            }
        }
    }
}

package io.tunestream.model.onnx;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.TensorInfo;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.ArrayList;
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
    private final AutoCloseable owner;
    private final int batch;
    private final int length;
    private boolean closed;

    KvCache(List<OnnxTensor> tensors, AutoCloseable owner, int batch, int length) {
        this.tensors = List.copyOf(tensors);
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
        List<OnnxTensor> selected = new ArrayList<>(tensors().size());
        try {
            for (OnnxTensor t : tensors) {
                long[] shape = ((TensorInfo) t.getInfo()).getShape();
                int rowSize = Math.toIntExact(shape[1] * shape[2] * shape[3]);
                FloatBuffer all = t.getFloatBuffer();
                FloatBuffer kept = ByteBuffer.allocateDirect(rows.length * rowSize * Float.BYTES)
                        .order(ByteOrder.nativeOrder()).asFloatBuffer();
                for (int r : rows) {
                    if (r < 0 || r >= batch) {
                        throw new IndexOutOfBoundsException("row " + r + " of a KV cache of " + batch + " rows");
                    }
                    kept.put(all.slice(r * rowSize, rowSize));
                }
                kept.rewind();
                selected.add(OnnxTensor.createTensor(OrtEnvironment.getEnvironment(), kept,
                        new long[]{rows.length, shape[1], shape[2], shape[3]}));
            }
        } catch (OrtException e) {
            selected.forEach(OnnxTensor::close);
            throw new IllegalStateException("cannot build a KV cache of rows " + java.util.Arrays.toString(rows), e);
        }
        List<OnnxTensor> owned = List.copyOf(selected);
        return new KvCache(owned, () -> owned.forEach(OnnxTensor::close), rows.length, length);
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

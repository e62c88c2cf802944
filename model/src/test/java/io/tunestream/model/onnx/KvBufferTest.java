package io.tunestream.model.onnx;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import org.junit.jupiter.api.Test;

import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Moving a padded cache into left-aligned buffers, and dropping rows in place. */
class KvBufferTest {

    private static final int HEADS = 2;
    private static final int LENGTH = 4;
    private static final int DIM = 3;

    /** Value of (row, head, position, d) in the padded cache: distinct everywhere. */
    private static float value(int tensor, int row, int head, int position, int d) {
        return tensor * 10000 + row * 1000 + head * 100 + position * 10 + d;
    }

    private static KvCache paddedCache(int rows) throws OrtException {
        List<OnnxTensor> tensors = new ArrayList<>();
        for (int t = 0; t < 2; t++) {
            float[] data = new float[rows * HEADS * LENGTH * DIM];
            int i = 0;
            for (int r = 0; r < rows; r++) {
                for (int h = 0; h < HEADS; h++) {
                    for (int p = 0; p < LENGTH; p++) {
                        for (int d = 0; d < DIM; d++) {
                            data[i++] = value(t, r, h, p, d);
                        }
                    }
                }
            }
            tensors.add(OnnxTensor.createTensor(OrtEnvironment.getEnvironment(), FloatBuffer.wrap(data),
                    new long[]{rows, HEADS, LENGTH, DIM}));
        }
        List<OnnxTensor> owned = List.copyOf(tensors);
        return new KvCache(owned, () -> owned.forEach(OnnxTensor::close), rows, LENGTH);
    }

    /** A pool holding {@code count} distinct buffers of {@code floats} NaNs, as an earlier batch could leave them. */
    private static DirectBufferPool pooledNaNs(int count, int floats) {
        DirectBufferPool pool = new DirectBufferPool(count);
        List<FloatBuffer> dirty = new ArrayList<>();
        for (int t = 0; t < count; t++) {
            FloatBuffer buffer = pool.take(floats);
            for (int i = 0; i < buffer.limit(); i++) {
                buffer.put(i, Float.NaN);
            }
            dirty.add(buffer);
        }
        dirty.forEach(pool::give);
        return pool;
    }

    /** (tensor t, row, head, slot) of the buffer, read through the tensors ONNX Runtime is given. */
    private static float[] slot(KvBuffer kv, int t, int row, int head, int slot) throws OrtException {
        FloatBuffer b = kv.inputs().get(t).getFloatBuffer();
        float[] out = new float[DIM];
        b.position(((row * HEADS + head) * kv.capacity() + slot) * DIM);
        b.get(out);
        return out;
    }

    @Test
    void shouldMoveEachRowsPositionsPastItsPaddingToTheFront() throws OrtException {
        try (KvCache cache = paddedCache(3); KvBuffer kv = KvBuffer.fromPadded(cache, new int[]{0, 2, 1}, 6, new DirectBufferPool(0))) {
            assertThat(kv.batch()).isEqualTo(3);
            assertThat(new int[]{kv.length(0), kv.length(1), kv.length(2)}).containsExactly(4, 2, 3);
            assertThat(slot(kv, 0, 1, 1, 0)).containsExactly(value(0, 1, 1, 2, 0), value(0, 1, 1, 2, 1), value(0, 1, 1, 2, 2));
            assertThat(slot(kv, 1, 2, 0, 2)).containsExactly(value(1, 2, 0, 3, 0), value(1, 2, 0, 3, 1), value(1, 2, 0, 3, 2));
            assertThat(slot(kv, 1, 1, 0, 2)).containsOnly(0f);
        }
    }

    @Test
    void shouldZeroEachRowsUnusedPositionsOfAPooledBuffer() throws OrtException {
        DirectBufferPool pool = pooledNaNs(2, 3 * HEADS * 6 * DIM);
        try (KvCache cache = paddedCache(3); KvBuffer kv = KvBuffer.fromPadded(cache, new int[]{0, 2, 1}, 6, pool)) {
            assertThat(slot(kv, 0, 1, 1, 1)).containsExactly(value(0, 1, 1, 3, 0), value(0, 1, 1, 3, 1), value(0, 1, 1, 3, 2));
            for (int t = 0; t < 2; t++) {
                assertThat(slot(kv, t, 1, 1, 2)).containsOnly(0f);
                assertThat(slot(kv, t, 1, 0, 5)).containsOnly(0f);
                assertThat(slot(kv, t, 0, 1, 4)).containsOnly(0f);
            }
        }
    }

    /** The in-place prefill writes each row's first max(lengths) positions; the rest must not keep a stale NaN. */
    @Test
    void shouldZeroThePositionsAnInPlacePrefillDoesNotWrite() throws OrtException {
        DirectBufferPool pool = pooledNaNs(2, 2 * HEADS * 6 * DIM);
        try (KvBuffer kv = KvBuffer.forPrefill(new int[]{2, 4}, 2, HEADS, DIM, 6, pool)) {
            for (int t = 0; t < 2; t++) {
                for (int row = 0; row < 2; row++) {
                    for (int head = 0; head < HEADS; head++) {
                        assertThat(slot(kv, t, row, head, 4)).containsOnly(0f);
                        assertThat(slot(kv, t, row, head, 5)).containsOnly(0f);
                        // the prefill's own positions are left for it to write
                        assertThat(slot(kv, t, row, head, 3)).containsOnly(Float.NaN);
                    }
                }
            }
        }
    }

    @Test
    void shouldKeepRowsInPlaceWithTheirLengths() throws OrtException {
        try (KvCache cache = paddedCache(4); KvBuffer kv = KvBuffer.fromPadded(cache, new int[]{3, 0, 1, 2}, 5, new DirectBufferPool(0))) {
            kv.keepRows(new int[]{1, 3});

            assertThat(kv.batch()).isEqualTo(2);
            assertThat(new int[]{kv.length(0), kv.length(1)}).containsExactly(4, 2);
            assertThat(kv.inputs().get(0).getInfo().toString()).contains("shape=[2, 2, 5, 3]");
            assertThat(slot(kv, 0, 0, 1, 3)).containsExactly(value(0, 1, 1, 3, 0), value(0, 1, 1, 3, 1), value(0, 1, 1, 3, 2));
            assertThat(slot(kv, 1, 1, 0, 0)).containsExactly(value(1, 3, 0, 2, 0), value(1, 3, 0, 2, 1), value(1, 3, 0, 2, 2));
        }
    }

    @Test
    void shouldAppendAChunkAfterEachRowAsFarAsItsCapacity() throws OrtException {
        try (KvCache cache = paddedCache(2); KvBuffer kv = KvBuffer.fromPadded(cache, new int[]{0, 3}, 6, new DirectBufferPool(0))) {
            int steps = 3;
            List<FloatBuffer> chunk = new ArrayList<>();
            for (int t = 0; t < 2; t++) {
                float[] data = new float[2 * HEADS * steps * DIM];
                int i = 0;
                for (int r = 0; r < 2; r++) {
                    for (int h = 0; h < HEADS; h++) {
                        for (int p = 0; p < steps; p++) {
                            for (int d = 0; d < DIM; d++) {
                                data[i++] = -value(t, r, h, p, d);
                            }
                        }
                    }
                }
                chunk.add(FloatBuffer.wrap(data));
            }

            kv.append(chunk, steps);

            // row 0 held 4 positions: 2 of the 3 fit; row 1 held 1: all 3 land after it
            assertThat(new int[]{kv.length(0), kv.length(1)}).containsExactly(7, 4);
            assertThat(slot(kv, 0, 0, 1, 3)).containsExactly(value(0, 0, 1, 3, 0), value(0, 0, 1, 3, 1), value(0, 0, 1, 3, 2));
            assertThat(slot(kv, 1, 0, 1, 5)).containsExactly(-value(1, 0, 1, 1, 0), -value(1, 0, 1, 1, 1), -value(1, 0, 1, 1, 2));
            assertThat(slot(kv, 0, 1, 0, 1)).containsExactly(-value(0, 1, 0, 0, 0), -value(0, 1, 0, 0, 1), -value(0, 1, 0, 0, 2));
            assertThat(slot(kv, 1, 1, 1, 3)).containsExactly(-value(1, 1, 1, 2, 0), -value(1, 1, 1, 2, 1), -value(1, 1, 1, 2, 2));
            assertThat(slot(kv, 0, 1, 1, 4)).containsOnly(0f);
            assertThatThrownBy(() -> kv.append(chunk.subList(0, 1), steps)).hasMessage("1 chunk tensors for 2 buffers");
        }
    }

    @Test
    void shouldRefuseRowsThatAreNotIncreasingAndACapacityBelowTheCache() throws OrtException {
        try (KvCache cache = paddedCache(3)) {
            assertThatThrownBy(() -> KvBuffer.fromPadded(cache, new int[]{0, 0, 0}, 3, new DirectBufferPool(0)))
                    .hasMessageContaining("capacity 3 is below the 4 cached positions");
            try (KvBuffer kv = KvBuffer.fromPadded(cache, new int[]{0, 0, 0}, 4, new DirectBufferPool(0))) {
                assertThatThrownBy(() -> kv.keepRows(new int[]{2, 1})).hasMessageContaining("increasing");
                assertThatThrownBy(() -> kv.keepRows(new int[]{0, 3})).hasMessageContaining("below 3");
            }
        }
    }
}

package io.tunestream.model.onnx;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * Native-order direct float buffers kept for reuse between batches: the KV buffers and prefill caches
 * of one model. Why: a fresh direct buffer costs a page fault per 4 kB the first time it is written,
 * which on the machines we measured is about 11 us a page, 17 ms for a 6 MB layer cache: more than a
 * decoding step. ONNX Runtime's own arena reuses memory the same way.
 *
 * <p>Buffers taken may hold old values; their users only read what they wrote. Holds at most
 * {@code maxFree} buffers, dropping the smallest. Thread-safe.
 */
final class DirectBufferPool {

    private final int maxFree;
    private final List<FloatBuffer> free = new ArrayList<>();

    DirectBufferPool(int maxFree) {
        if (maxFree < 0) {
            throw new IllegalArgumentException("maxFree must be >= 0, got " + maxFree);
        }
        this.maxFree = maxFree;
    }

    /** A buffer of at least {@code floats} values (position 0, limit {@code floats}); give it back when done. */
    synchronized FloatBuffer take(int floats) {
        // by index, never List.remove(Object): FloatBuffer.equals compares contents, and drained
        // buffers (nothing remaining) are all equal
        int best = -1;
        for (int i = 0; i < free.size(); i++) {
            int capacity = free.get(i).capacity();
            if (capacity >= floats && (best < 0 || capacity < free.get(best).capacity())) {
                best = i;
            }
        }
        FloatBuffer buffer = best >= 0 ? free.remove(best)
                : ByteBuffer.allocateDirect(Math.multiplyExact(floats, Float.BYTES)).order(ByteOrder.nativeOrder()).asFloatBuffer();
        return buffer.clear().limit(floats);
    }

    /** Returns a buffer from {@link #take}; it must not be used afterwards. */
    synchronized void give(FloatBuffer buffer) {
        free.add(buffer);
        if (free.size() > maxFree) {
            int smallest = 0;
            for (int i = 1; i < free.size(); i++) {
                if (free.get(i).capacity() < free.get(smallest).capacity()) {
                    smallest = i;
                }
            }
            free.remove(smallest);
        }
    }
}

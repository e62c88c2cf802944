package io.tunestream.trainer.run;

import io.tunestream.schemas.DType;
import io.tunestream.schemas.Tensor;
import io.tunestream.schemas.tensor.TensorCodec;

/**
 * A task's virtual-token table as the {@code table} tensor of an adapter: FLOAT32, or FLOAT16 when it
 * is bigger than {@link #FLOAT16_ABOVE_BYTES} as FLOAT32 (half the bytes on the adapters topic, well
 * within FLOAT16's range for embedding-scale values).
 */
public final class AdapterTable {

    /** Tables bigger than this as FLOAT32 are published as FLOAT16. */
    public static final int FLOAT16_ABOVE_BYTES = 4 * 1024 * 1024;

    private AdapterTable() {
    }

    public static DType dtypeFor(int elements) {
        return (long) elements * Float.BYTES > FLOAT16_ABOVE_BYTES ? DType.FLOAT16 : DType.FLOAT32;
    }

    /** The tensor {@code virtual_tokens.<task>} of shape [rows, hidden]. */
    public static Tensor encode(String task, float[] table, int rows, int hidden) {
        return TensorCodec.encodeMatrix("virtual_tokens." + task, table, rows, hidden, dtypeFor(table.length));
    }
}

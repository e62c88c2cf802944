package io.tunestream.schemas.tensor;

import io.tunestream.schemas.DType;
import io.tunestream.schemas.Tensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.ShortBuffer;
import java.util.List;
import java.util.Objects;

/**
 * Packs {@code float[]} into {@link Tensor} records and back: row-major, little-endian,
 * as FLOAT32, FLOAT16 or BFLOAT16 elements.
 *
 * <p>FLOAT16 and BFLOAT16 halve the size of an adapter on the wire (a 100 × 4096 table is
 * 1.6 MB as FLOAT32, 0.8 MB as FLOAT16); decoding always gives back {@code float}s.
 */
public final class TensorCodec {

    private TensorCodec() {
    }

    /** Bytes per element of {@code dtype}. */
    public static int elementSize(DType dtype) {
        return switch (dtype) {
            case FLOAT32 -> 4;
            case FLOAT16, BFLOAT16 -> 2;
        };
    }

    /**
     * A tensor named {@code name} holding {@code values} with {@code shape}, stored as {@code dtype}.
     *
     * @throws IllegalArgumentException if the shape has a negative dimension or its element
     *                                  count differs from {@code values.length}
     */
    public static Tensor encode(String name, float[] values, List<Integer> shape, DType dtype) {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(values, "values");
        Objects.requireNonNull(dtype, "dtype");
        long elements = elementCount(name, shape);
        if (elements != values.length) {
            throw new IllegalArgumentException("tensor '" + name + "': shape " + shape + " holds " + elements
                    + " elements, but " + values.length + " values were given");
        }
        ByteBuffer data = ByteBuffer.allocate(values.length * elementSize(dtype)).order(ByteOrder.LITTLE_ENDIAN);
        switch (dtype) {
            case FLOAT32 -> data.asFloatBuffer().put(values);
            case FLOAT16 -> {
                ShortBuffer shorts = data.asShortBuffer();
                for (int i = 0; i < values.length; i++) {
                    shorts.put(i, HalfPrecision.floatToFloat16(values[i]));
                }
            }
            case BFLOAT16 -> {
                ShortBuffer shorts = data.asShortBuffer();
                for (int i = 0; i < values.length; i++) {
                    shorts.put(i, HalfPrecision.floatToBfloat16(values[i]));
                }
            }
        }
        return Tensor.newBuilder().setName(name).setDtype(dtype).setShape(List.copyOf(shape)).setData(data).build();
    }

    /** A 2-D tensor of {@code rows × columns}. */
    public static Tensor encodeMatrix(String name, float[] values, int rows, int columns, DType dtype) {
        return encode(name, values, List.of(rows, columns), dtype);
    }

    /**
     * The elements of {@code tensor} as floats, row-major.
     *
     * @throws IllegalArgumentException if the data length does not match shape × element size
     */
    public static float[] decode(Tensor tensor) {
        Objects.requireNonNull(tensor, "tensor");
        String name = String.valueOf(tensor.getName());
        long elements = elementCount(name, tensor.getShape());
        ByteBuffer data = tensor.getData().duplicate().order(ByteOrder.LITTLE_ENDIAN);
        long expectedBytes = elements * elementSize(tensor.getDtype());
        if (data.remaining() != expectedBytes) {
            throw new IllegalArgumentException("tensor '" + name + "': shape " + tensor.getShape() + " as "
                    + tensor.getDtype() + " needs " + expectedBytes + " bytes, but data has " + data.remaining());
        }
        float[] values = new float[(int) elements];
        switch (tensor.getDtype()) {
            case FLOAT32 -> data.asFloatBuffer().get(values);
            case FLOAT16 -> {
                ShortBuffer shorts = data.asShortBuffer();
                for (int i = 0; i < values.length; i++) {
                    values[i] = HalfPrecision.float16ToFloat(shorts.get(i));
                }
            }
            case BFLOAT16 -> {
                ShortBuffer shorts = data.asShortBuffer();
                for (int i = 0; i < values.length; i++) {
                    values[i] = HalfPrecision.bfloat16ToFloat(shorts.get(i));
                }
            }
        }
        return values;
    }

    private static long elementCount(String name, List<Integer> shape) {
        Objects.requireNonNull(shape, "shape");
        for (int dimension : shape) {
            if (dimension < 0) {
                throw new IllegalArgumentException("tensor '" + name + "': negative dimension in shape " + shape);
            }
        }
        if (shape.contains(0)) {
            return 0;
        }
        long count = 1;
        for (int dimension : shape) {
            count *= dimension;
            // checked at every step: a product of several large dimensions would wrap around (to 0 for 2^16 × 4)
            if (count > Integer.MAX_VALUE / 4) {
                throw new IllegalArgumentException("tensor '" + name + "': shape " + shape + " is too large (more than "
                        + Integer.MAX_VALUE / 4 + " elements)");
            }
        }
        return count;
    }
}

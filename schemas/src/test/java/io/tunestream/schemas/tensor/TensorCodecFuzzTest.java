package io.tunestream.schemas.tensor;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.tunestream.schemas.DType;
import io.tunestream.schemas.Tensor;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Timeout;

/**
 * Fuzz targets of the fp16/bf16 tensor codec. Regression mode (the normal suite) replays the
 * inputs under {@code TensorCodecFuzzTestInputs/<method>/}; {@code JAZZER_FUZZ=1} fuzzes (see
 * BENCHMARKS.md, "Fuzzing").
 */
@Timeout(30) // per input; the first one also pays for Jazzer's agent and class loading on a busy machine
class TensorCodecFuzzTest {

    /** fp16 values from 65520 up round to infinity (65504 is the largest finite, 65520 the tie, to even). */
    private static final float FLOAT16_OVERFLOW = 65520f;
    /** bf16: halfway between the largest finite (0x7f7f) and infinity rounds to infinity (even). */
    private static final float BFLOAT16_OVERFLOW = Float.intBitsToFloat(0x7f7f_8000);

    /**
     * Any tensor record (dtype, shape, bytes) either decodes to exactly product(shape) floats or is
     * refused with an IllegalArgumentException naming the tensor; what decodes encodes back to the
     * same bytes (NaNs stay NaNs of the same sign; their payload may be quieted).
     */
    @FuzzTest(maxDuration = "3m")
    void anyTensorDecodesToItsShapeOrIsRefused(FuzzedDataProvider data) {
        DType dtype = data.pickValue(DType.values());
        int rank = data.consumeInt(0, 5);
        List<Integer> shape = new ArrayList<>();
        for (int i = 0; i < rank; i++) {
            // mostly small dimensions, sometimes huge or negative ones
            shape.add(data.consumeBoolean() ? data.consumeInt(0, 16) : data.consumeInt());
        }
        byte[] bytes = data.consumeRemainingAsBytes();
        Tensor tensor = Tensor.newBuilder().setName("fuzz").setDtype(dtype).setShape(shape)
                .setData(ByteBuffer.wrap(bytes)).build();

        BigInteger elements = shape.stream().map(BigInteger::valueOf).reduce(BigInteger.ONE, BigInteger::multiply);
        float[] values;
        try {
            values = TensorCodec.decode(tensor);
        } catch (IllegalArgumentException e) {
            assertThat(e).hasMessageStartingWith("tensor 'fuzz': ");
            boolean consistent = shape.stream().allMatch(d -> d >= 0)
                    && elements.multiply(BigInteger.valueOf(TensorCodec.elementSize(dtype)))
                    .equals(BigInteger.valueOf(bytes.length));
            assertThat(consistent).as("refused a consistent tensor: %s", e.getMessage()).isFalse();
            return;
        }
        assertThat(BigInteger.valueOf(values.length)).as("elements of shape %s", shape).isEqualTo(elements);
        assertThat((long) values.length * TensorCodec.elementSize(dtype)).isEqualTo(bytes.length);

        ByteBuffer again = TensorCodec.encode("fuzz", values, shape, dtype).getData().order(ByteOrder.LITTLE_ENDIAN);
        ByteBuffer original = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < values.length; i++) {
            int before = dtype == DType.FLOAT32 ? original.getInt(4 * i) : original.getShort(2 * i) & 0xffff;
            int after = dtype == DType.FLOAT32 ? again.getInt(4 * i) : again.getShort(2 * i) & 0xffff;
            if (Float.isNaN(values[i])) {
                int signBit = dtype == DType.FLOAT32 ? 31 : 15;
                assertThat(after >>> signBit & 1).as("sign of NaN element %d", i).isEqualTo(before >>> signBit & 1);
                assertThat(Float.isNaN(decodeOne(after, dtype))).isTrue();
            } else {
                assertThat(after).as("bits of element %d (%s)", i, dtype).isEqualTo(before);
            }
        }
    }

    /**
     * Every float encodes to the nearest fp16 / bf16 (ties to even, overflow to infinity) and
     * float32 round-trips exactly.
     */
    @FuzzTest(maxDuration = "3m")
    void floatsRoundToTheNearestHalf(FuzzedDataProvider data) {
        int count = data.consumeInt(1, 64);
        float[] values = new float[count];
        for (int i = 0; i < count; i++) {
            values[i] = data.consumeBoolean() ? data.consumeFloat() : Float.intBitsToFloat(data.consumeInt());
        }
        float[] exact = TensorCodec.decode(TensorCodec.encode("f32", values, List.of(count), DType.FLOAT32));
        for (int i = 0; i < count; i++) {
            assertThat(Float.floatToRawIntBits(exact[i])).isEqualTo(Float.floatToRawIntBits(values[i]));
        }
        for (DType dtype : List.of(DType.FLOAT16, DType.BFLOAT16)) {
            Tensor tensor = TensorCodec.encode("half", values, List.of(count), dtype);
            float[] rounded = TensorCodec.decode(tensor);
            ByteBuffer bits = tensor.getData().order(ByteOrder.LITTLE_ENDIAN);
            for (int i = 0; i < count; i++) {
                assertNearest(values[i], rounded[i], bits.getShort(2 * i) & 0xffff, dtype);
            }
        }
    }

    private static void assertNearest(float value, float rounded, int bits, DType dtype) {
        String what = dtype + " of " + value + " (bits " + Integer.toHexString(Float.floatToRawIntBits(value)) + ")";
        if (Float.isNaN(value)) {
            assertThat(Float.isNaN(rounded)).as(what).isTrue();
            return;
        }
        float overflow = dtype == DType.FLOAT16 ? FLOAT16_OVERFLOW : BFLOAT16_OVERFLOW;
        if (Math.abs(value) >= overflow) {
            assertThat(rounded).as(what).isEqualTo(Math.copySign(Float.POSITIVE_INFINITY, value));
            return;
        }
        assertThat(Float.isInfinite(rounded)).as(what).isFalse();
        assertThat(Math.copySign(1f, rounded)).as("sign, " + what).isEqualTo(Math.copySign(1f, value));
        double distance = Math.abs((double) value - rounded);
        // the neighbours of the result in the 16-bit format: none may be nearer, a tie goes to the even one
        for (int neighbour : new int[] {bits - 1, bits + 1}) {
            if ((neighbour & 0x7fff) >= (dtype == DType.FLOAT16 ? 0x7c00 : 0x7f80) || (neighbour & 0xffff) != neighbour
                    || (neighbour & 0x8000) != (bits & 0x8000)) {
                continue;
            }
            double other = Math.abs((double) value - decodeOne(neighbour, dtype));
            assertThat(distance).as("%s gave %s, but %s is nearer", what, rounded, decodeOne(neighbour, dtype))
                    .isLessThanOrEqualTo(other);
            if (distance == other) {
                assertThat(bits & 1).as("tie of %s must go to the even neighbour", what).isZero();
            }
        }
    }

    private static float decodeOne(int bits, DType dtype) {
        return switch (dtype) {
            case FLOAT32 -> Float.intBitsToFloat(bits);
            case FLOAT16 -> HalfPrecision.float16ToFloat((short) bits);
            case BFLOAT16 -> HalfPrecision.bfloat16ToFloat((short) bits);
        };
    }
}

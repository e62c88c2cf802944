package io.tunestream.schemas.tensor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import io.tunestream.schemas.DType;
import io.tunestream.schemas.Tensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class TensorCodecTest {

    private static float[] randomValues(int count) {
        Random random = new Random(42);
        float[] values = new float[count];
        for (int i = 0; i < count; i++) {
            values[i] = (float) random.nextGaussian() * 0.05f;
        }
        return values;
    }

    @Test
    void shouldRoundTripFloat32Exactly() {
        float[] values = randomValues(6 * 8);
        Tensor tensor = TensorCodec.encodeMatrix("table", values, 6, 8, DType.FLOAT32);

        assertThat(tensor.getShape()).containsExactly(6, 8);
        assertThat(tensor.getData().remaining()).isEqualTo(6 * 8 * 4);
        assertThat(TensorCodec.decode(tensor)).containsExactly(values);
    }

    @Test
    void shouldStoreFloat32LittleEndian() {
        Tensor tensor = TensorCodec.encode("one", new float[] {1.0f}, List.of(1), DType.FLOAT32);

        byte[] bytes = new byte[4];
        tensor.getData().duplicate().get(bytes);
        assertThat(bytes).containsExactly(0x00, 0x00, (byte) 0x80, 0x3f);
    }

    @Test
    void shouldRoundTripFloat16WithinHalfPrecision() {
        float[] values = randomValues(1000);
        Tensor tensor = TensorCodec.encode("table", values, List.of(10, 100), DType.FLOAT16);

        assertThat(tensor.getData().remaining()).isEqualTo(2000);
        float[] decoded = TensorCodec.decode(tensor);
        for (int i = 0; i < values.length; i++) {
            // relative error of binary16 is at most 2^-11 for normal values; these are >= 2^-14 mostly
            assertThat(decoded[i]).isCloseTo(values[i], within(Math.abs(values[i]) * 0x1p-11f + 0x1p-25f));
            assertThat(decoded[i]).isEqualTo(HalfPrecision.float16ToFloat(HalfPrecision.floatToFloat16(values[i])));
        }
    }

    @Test
    void shouldRoundTripBfloat16WithinItsPrecision() {
        float[] values = randomValues(1000);
        Tensor tensor = TensorCodec.encode("table", values, List.of(1000), DType.BFLOAT16);

        assertThat(tensor.getData().remaining()).isEqualTo(2000);
        float[] decoded = TensorCodec.decode(tensor);
        for (int i = 0; i < values.length; i++) {
            assertThat(decoded[i]).isCloseTo(values[i], within(Math.abs(values[i]) * 0x1p-8f));
        }
    }

    @Test
    void shouldStoreFloat16LittleEndian() {
        Tensor tensor = TensorCodec.encode("one", new float[] {1.0f, -2.0f}, List.of(2), DType.FLOAT16);

        ByteBuffer data = tensor.getData().duplicate();
        assertThat(data.get()).isEqualTo((byte) 0x00);
        assertThat(data.get()).isEqualTo((byte) 0x3c);
        assertThat(data.order(ByteOrder.LITTLE_ENDIAN).getShort()).isEqualTo((short) 0xc000);
    }

    @Test
    void shouldRefuseValuesThatDoNotFillTheShape() {
        assertThatThrownBy(() -> TensorCodec.encode("table", new float[5], List.of(2, 3), DType.FLOAT32))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("tensor 'table': shape [2, 3] holds 6 elements, but 5 values were given");
    }

    @Test
    void shouldRefuseDataWhoseLengthDoesNotMatchShapeAndDtype() {
        Tensor tensor = Tensor.newBuilder().setName("table").setDtype(DType.FLOAT16).setShape(List.of(2, 3))
                .setData(ByteBuffer.allocate(24)).build();

        assertThatThrownBy(() -> TensorCodec.decode(tensor))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("tensor 'table': shape [2, 3] as FLOAT16 needs 12 bytes, but data has 24");
    }

    @Test
    void shouldRefuseAShapeWhoseElementCountOverflowsInsteadOfDecodingNothing() {
        // 2^16 × 2^16 × 2^16 × 2^16 = 2^64, which a long product wraps to 0: the empty data "matched"
        Tensor tensor = Tensor.newBuilder().setName("table").setDtype(DType.FLOAT32)
                .setShape(List.of(65536, 65536, 65536, 65536)).setData(ByteBuffer.allocate(0)).build();

        assertThatThrownBy(() -> TensorCodec.decode(tensor))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("tensor 'table': shape [65536, 65536, 65536, 65536] is too large");
    }
}

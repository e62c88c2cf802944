package io.tunestream.schemas.peft;

import static io.tunestream.schemas.peft.PeftFixtures.floats;
import static io.tunestream.schemas.peft.PeftFixtures.safetensors;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.tunestream.schemas.DType;
import io.tunestream.schemas.Tensor;
import io.tunestream.schemas.tensor.TensorCodec;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The safetensors format as its README specifies it, read strictly. */
class SafeTensorsTest {

    private static final String ONE = "{\"__metadata__\":{\"format\":\"pt\"},"
            + "\"t\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}}";

    @Test
    void shouldReadAFileOfOneTensorAndItsMetadata() {
        byte[] data = ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN)
                .putFloat(1).putFloat(2).putFloat(3).putFloat(-4).putFloat(5.5f).putFloat(6).array();

        SafeTensors.Contents contents = SafeTensors.read(safetensors(ONE, data));

        assertThat(contents.metadata()).containsExactlyEntriesOf(Map.of("format", "pt"));
        Tensor t = contents.tensors().get("t");
        assertThat(t.getDtype()).isEqualTo(DType.FLOAT32);
        assertThat(t.getShape()).containsExactly(2, 3);
        assertThat(TensorCodec.decode(t)).containsExactly(1, 2, 3, -4, 5.5f, 6);
    }

    @Test
    void shouldWriteWhatItReadsWithAHeaderPaddedToEightBytes() {
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        tensors.put("a", TensorCodec.encode("a", new float[] {1, 2, 3}, List.of(3), DType.FLOAT16));
        tensors.put("b", TensorCodec.encode("b", new float[] {4, 5}, List.of(1, 2), DType.FLOAT32));

        byte[] file = SafeTensors.write(tensors, Map.of("format", "pt"));

        long headerLength = ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN).getLong();
        assertThat(headerLength % 8).isZero();
        assertThat(file.length).isEqualTo(8 + headerLength + 3 * 2 + 2 * 4);
        SafeTensors.Contents again = SafeTensors.read(file);
        assertThat(again.tensors()).containsOnlyKeys("a", "b");
        assertThat(TensorCodec.decode(again.tensors().get("a"))).containsExactly(1, 2, 3);
        assertThat(again.tensors().get("a").getDtype()).isEqualTo(DType.FLOAT16);
        assertThat(TensorCodec.decode(again.tensors().get("b"))).containsExactly(4, 5);
        assertThat(again.metadata()).containsEntry("format", "pt");
    }

    @Test
    void shouldRefuseAFileTooShortForItsHeaderLength() {
        assertRefused(new byte[] {1, 0, 0}, "safetensors", "fewer than the 8 of the header length");
    }

    @Test
    void shouldRefuseATruncatedFile() {
        byte[] file = safetensors(ONE, floats(6, 1));

        assertRefused(Arrays.copyOf(file, 40), "safetensors", "runs past the end of the file");
        assertRefused(Arrays.copyOf(file, file.length - 4), "safetensors", "data_offsets [0, 24] outside the 20 data bytes");
    }

    @Test
    void shouldRefuseAHeaderLengthOfAbsurdSize() {
        byte[] file = safetensors(ONE, floats(6, 1));
        ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN).putLong(0, -1L);

        assertRefused(file, "safetensors", "header length 18446744073709551615 is not between 2 and");
    }

    @Test
    void shouldRefuseOffsetsThatDoNotMatchTheShape() {
        String lying = ONE.replace("[0,24]", "[0,20]");

        assertRefused(safetensors(lying, floats(5, 1)), "safetensors",
                "tensor 't' of shape [2, 3] F32 needs 24 bytes, but its data_offsets [0, 20] hold 20");
    }

    @Test
    void shouldRefuseHolesOverlapsAndTrailingBytes() {
        String two = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[%s]}}";

        assertRefused(safetensors(String.format(two, "8,12"), floats(3, 1)), "safetensors", "(a hole in the data)");
        assertRefused(safetensors(String.format(two, "2,6"), floats(2, 1)), "safetensors", "(overlapping data)");
        assertRefused(safetensors(ONE, floats(7, 1)), "safetensors", "the tensors cover 24 of the 28 data bytes");
    }

    @Test
    void shouldRefuseOtherDtypesByName() {
        assertRefused(safetensors(ONE.replace("F32", "F64"), floats(6, 1)), "dtype",
                "tensor 't' has dtype 'F64'; only F32, F16 and BF16 are read");
        assertRefused(safetensors(ONE.replace("F32", "I32"), floats(6, 1)), "dtype", "dtype 'I32'");
    }

    @Test
    void shouldRefuseMalformedHeaders() {
        assertRefused(safetensors("[1,2,3]", new byte[0]), "safetensors", "the header is not a JSON object");
        assertRefused(safetensors("{\"t\":", new byte[0]), "safetensors", "the header is not valid JSON");
        assertRefused(safetensors("{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                + "\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", floats(2, 1)),
                "safetensors", "Duplicate field 't'");
        assertRefused(safetensors(ONE.replace("\"shape\":[2,3]", "\"shape\":[2,-3]"), floats(6, 1)),
                "safetensors", "dimensions must be integers from 0");
        assertRefused(safetensors(ONE.replace("\"data_offsets\"", "\"offsets\""), floats(6, 1)),
                "safetensors", "unknown field 'offsets'");
        assertRefused(safetensors(ONE.replace("\"pt\"", "7"), floats(6, 1)), "safetensors",
                "__metadata__ entry 'format' is not a string");
        byte[] notUtf8 = safetensors("{\"x\":1}", new byte[0]);
        notUtf8[10] = (byte) 0xff;
        assertRefused(notUtf8, "safetensors", "the header is not UTF-8");
    }

    @Test
    void shouldRefuseAShapeWhoseElementCountOverflows() {
        String huge = ONE.replace("[2,3]", "[2147483647,2147483647,2147483647,2147483647]");

        assertRefused(safetensors(huge, floats(6, 1)), "safetensors", "needs");
    }

    private static void assertRefused(byte[] file, String reason, String message) {
        assertThatThrownBy(() -> SafeTensors.read(file))
                .isInstanceOfSatisfying(PeftFormatException.class, e -> assertThat(e.reason()).isEqualTo(reason))
                .hasMessageContaining(message);
    }
}

package io.tunestream.schemas.adapters;

import static org.assertj.core.api.Assertions.assertThat;

import io.tunestream.schemas.AdapterVersion;
import io.tunestream.schemas.DType;
import io.tunestream.schemas.Tensor;
import io.tunestream.schemas.tensor.TensorCodec;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

class AdapterCheckTest {

    private static final int HIDDEN = 4;
    private static final int ROWS = 2;
    private final AdapterCheck check = new AdapterCheck("model-a", HIDDEN);

    private static AdapterVersion adapter(String fingerprint, int hidden, Tensor table) {
        return AdapterVersion.newBuilder().setTask("squad").setVersion(3).setModelFingerprint(fingerprint)
                .setHiddenSize(hidden).setTable(table).setVirtualTokenSplits(List.of(ROWS)).build();
    }

    private static AdapterVersion withTable(Tensor table) {
        return adapter("model-a", HIDDEN, table);
    }

    private static float[] finite() {
        float[] values = new float[ROWS * HIDDEN];
        Arrays.fill(values, 0.25f);
        return values;
    }

    /** A 16-bit table holding {@code bits} at element 5 (row 1, column 1) and 0.25's bits elsewhere. */
    private static Tensor halfTable(DType dtype, short bits) {
        Tensor finite = TensorCodec.encodeMatrix("t", finite(), ROWS, HIDDEN, dtype);
        ByteBuffer data = ByteBuffer.allocate(ROWS * HIDDEN * 2).order(ByteOrder.LITTLE_ENDIAN);
        data.put(finite.getData().duplicate());
        data.putShort(5 * 2, bits);
        data.flip();
        return new Tensor("t", dtype, List.of(ROWS, HIDDEN), data);
    }

    @Test
    void shouldAcceptAFiniteTableOfTheModel() {
        for (DType dtype : DType.values()) {
            assertThat(check.refusal(withTable(TensorCodec.encodeMatrix("t", finite(), ROWS, HIDDEN, dtype))))
                    .as(dtype.name()).isEmpty();
        }
    }

    @Test
    void shouldRefuseAFloat32TableWithANaNNamingWhere() {
        float[] values = finite();
        values[6] = Float.NaN;
        values[7] = Float.POSITIVE_INFINITY;

        var refusal = check.refusal(withTable(TensorCodec.encodeMatrix("t", values, ROWS, HIDDEN, DType.FLOAT32)));

        assertThat(refusal).hasValueSatisfying(r -> {
            assertThat(r.reason()).isEqualTo("non_finite");
            assertThat(r.message()).isEqualTo("adapter squad v3: table holds 2 non-finite FLOAT32 values, the first "
                    + "NaN at row 1, column 2");
        });
    }

    @Test
    void shouldRefuseANegativeInfinityInFloat32() {
        float[] values = finite();
        values[0] = Float.NEGATIVE_INFINITY;

        assertThat(check.refusal(withTable(TensorCodec.encodeMatrix("t", values, ROWS, HIDDEN, DType.FLOAT32))))
                .hasValueSatisfying(r -> assertThat(r.message()).endsWith("the first -Infinity at row 0, column 0"));
    }

    @Test
    void shouldRefuseFloat16NaNAndInfinity() {
        assertThat(check.refusal(withTable(halfTable(DType.FLOAT16, (short) 0x7e00))))
                .hasValueSatisfying(r -> assertThat(r.message()).isEqualTo("adapter squad v3: table holds 1 "
                        + "non-finite FLOAT16 values, the first NaN at row 1, column 1"));
        assertThat(check.refusal(withTable(halfTable(DType.FLOAT16, (short) 0x7c00))))
                .hasValueSatisfying(r -> assertThat(r.message()).endsWith("the first Infinity at row 1, column 1"));
    }

    @Test
    void shouldRefuseBfloat16NaNAndInfinity() {
        assertThat(check.refusal(withTable(halfTable(DType.BFLOAT16, (short) 0x7fc0))))
                .hasValueSatisfying(r -> assertThat(r.message()).endsWith("BFLOAT16 values, the first NaN at row 1, "
                        + "column 1"));
        assertThat(check.refusal(withTable(halfTable(DType.BFLOAT16, (short) 0xff80))))
                .hasValueSatisfying(r -> assertThat(r.message()).endsWith("the first -Infinity at row 1, column 1"));
    }

    @Test
    void shouldRefuseAnotherModelsAdapterBeforeLookingAtItsValues() {
        float[] values = finite();
        values[0] = Float.NaN;

        var refusal = check.refusal(adapter("model-b", HIDDEN,
                TensorCodec.encodeMatrix("t", values, ROWS, HIDDEN, DType.FLOAT32)));

        assertThat(refusal).hasValueSatisfying(r -> {
            assertThat(r.reason()).isEqualTo("fingerprint");
            assertThat(r.message()).isEqualTo("adapter squad v3 was tuned for model model-b but the serving model "
                    + "is model-a");
        });
    }

    @Test
    void shouldRefuseATableOfTheWrongShape() {
        var refusal = check.refusal(withTable(TensorCodec.encodeMatrix("t", new float[3 * HIDDEN], 3, HIDDEN,
                DType.FLOAT32)));

        assertThat(refusal).hasValueSatisfying(r -> assertThat(r.reason()).isEqualTo("shape"));
    }

    @Test
    void shouldRefuseASplitBelowOneEvenWhenTheSplitsAddUp() {
        AdapterVersion adapter = AdapterVersion.newBuilder(withTable(TensorCodec.encodeMatrix("t", finite(), ROWS, HIDDEN,
                DType.FLOAT32))).setVirtualTokenSplits(List.of(3, 0, -1)).build();

        assertThat(check.refusal(adapter)).hasValueSatisfying(r -> {
            assertThat(r.reason()).isEqualTo("splits");
            assertThat(r.message()).isEqualTo("adapter squad v3: virtualTokenSplits [3, 0, -1] must all be at least 1");
        });
    }

    private static final AdapterCheck.Decoder DECODER = new AdapterCheck.Decoder(2, 1, 2);
    private final AdapterCheck deepCheck = new AdapterCheck("model-a", HIDDEN, DECODER);

    private static AdapterVersion deep(int layers, int kvHeads, int headDim, int width) {
        float[] values = new float[ROWS * width];
        Arrays.fill(values, 0.5f);
        return AdapterVersion.newBuilder(withTable(TensorCodec.encodeMatrix("t", values, ROWS, width, DType.FLOAT32)))
                .setVirtualPromptStyle(io.tunestream.schemas.VirtualPromptStyle.PREFIX_TUNING)
                .setDeepPrompt(new io.tunestream.schemas.DeepPromptShape(layers, kvHeads, headDim)).build();
    }

    @Test
    void shouldAcceptADeepPromptOfTheModelsDecoder() {
        assertThat(deepCheck.refusal(deep(2, 1, 2, 8))).isEmpty();
    }

    @Test
    void shouldRefuseADeepPromptOfOtherLayersKvHeadsOrHeadSizeLikeAWrongFingerprint() {
        assertThat(deepCheck.refusal(deep(3, 1, 2, 12))).hasValue(new AdapterCheck.Refusal("deep_prompt_shape",
                "adapter squad v3 is a deep prompt for 3 layers x 1 kv heads x head size 2 but the serving model "
                        + "has 2 layers x 1 kv heads x head size 2"));
        assertThat(deepCheck.refusal(deep(2, 2, 2, 16))).map(AdapterCheck.Refusal::reason)
                .hasValue("deep_prompt_shape");
        assertThat(deepCheck.refusal(deep(2, 1, 4, 16))).map(AdapterCheck.Refusal::reason)
                .hasValue("deep_prompt_shape");
        assertThat(deepCheck.refusal(deep(0, 1, 2, 8))).map(AdapterCheck.Refusal::reason)
                .hasValue("deep_prompt_shape");
    }

    @Test
    void shouldRefuseADeepPromptWhenTheModelsDecoderIsNotKnown() {
        assertThat(check.refusal(deep(2, 1, 2, 8))).hasValue(new AdapterCheck.Refusal("deep_prompt_shape",
                "adapter squad v3 is a deep prompt, but the serving model's layers, kv heads and head size are not known"));
    }

    @Test
    void shouldRefuseADeepPromptWhoseTableIsNotTwiceLayersKvHeadsHeadSizeWide() {
        assertThat(deepCheck.refusal(deep(2, 1, 2, 16))).hasValue(new AdapterCheck.Refusal("shape",
                "adapter squad v3: table shape [2, 16] is not [2, 8] (sum of virtualTokenSplits [2] × "
                        + "2 x layers x kv heads x head size)"));
    }

    @Test
    void shouldRefuseAStyleAndDeepShapeThatDisagree() {
        AdapterVersion shapeWithoutStyle = AdapterVersion.newBuilder(deep(2, 1, 2, 8))
                .setVirtualPromptStyle(io.tunestream.schemas.VirtualPromptStyle.P_TUNING).build();
        AdapterVersion styleWithoutShape = AdapterVersion.newBuilder(withTable(
                        TensorCodec.encodeMatrix("t", finite(), ROWS, HIDDEN, DType.FLOAT32)))
                .setVirtualPromptStyle(io.tunestream.schemas.VirtualPromptStyle.PREFIX_TUNING).build();

        assertThat(deepCheck.refusal(shapeWithoutStyle)).map(AdapterCheck.Refusal::reason).hasValue("style");
        assertThat(deepCheck.refusal(styleWithoutShape)).map(AdapterCheck.Refusal::reason).hasValue("style");
    }
}

package io.tunestream.model.prompt;

import io.tunestream.model.onnx.ModelConfig;
import io.tunestream.model.onnx.ModelFamily;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** PEFT's layout and the shape checks of a deep prompt. */
class DeepPromptTableTest {

    /** 2 layers, 2 kv heads, head size 3. */
    private static final ModelConfig MODEL = new ModelConfig(ModelFamily.LLAMA, 12, 2, 4, 2, 3, 100, 16, List.of());

    /** Element [p, ((2l + kv)·kvHeads + h)·headDim + d] of PEFT's layout is past[l][kv][h, p, d]. */
    @Test
    void shouldLayOutLayersAsPeftDoes() {
        int p = 2;
        List<float[]> keys = List.of(tensor(1000), tensor(3000));
        List<float[]> values = List.of(tensor(2000), tensor(4000));

        DeepPromptTable table = DeepPromptTable.ofLayers("t", 2, 3, keys, values, "fp");

        assertThat(table.virtualTokens()).isEqualTo(p);
        assertThat(table.rowWidth()).isEqualTo(2 * 2 * 2 * 3);
        // layer 1's value (entry 3), head 1, position 0, d 2 = 4000 + (1·2 + 0)·3 + 2
        assertThat(table.values()[0 * 24 + (3 * 2 + 1) * 3 + 2]).isEqualTo(4000 + (1 * 2 + 0) * 3 + 2);
        // layer 0's key (entry 0), head 0, position 1, d 0 = 1000 + (0·2 + 1)·3
        assertThat(table.values()[1 * 24]).isEqualTo(1000 + 3);
        assertThat(table.key(1)).containsExactly(keys.get(1));
        assertThat(table.value(0)).containsExactly(values.get(0));
        assertThat(DeepPromptTable.ofPeft("t", p, MODEL, table.values(), "fp")).isEqualTo(table);
    }

    @Test
    void shouldPlaceAShorterPrefixRightAlignedInALongerCache() {
        DeepPromptTable table = DeepPromptTable.ofLayers("t", 2, 3, List.of(tensor(1000), tensor(3000)),
                List.of(tensor(2000), tensor(4000)), "fp");
        float[] cache = new float[2 * 5 * 3];

        table.copyEntry(1, cache, 0, 5, 3);

        // head 0: slots 0-2 empty, slots 3-4 the two positions of layer 0's value
        assertThat(cache[3 * 3]).isEqualTo(2000);
        assertThat(cache[4 * 3 + 1]).isEqualTo(2000 + 3 + 1);
        assertThat(cache[(5 + 3) * 3]).isEqualTo(2000 + 2 * 3);
        assertThat(cache[0]).isZero();
    }

    @Test
    void shouldRefuseAPrefixForAnotherShapeOfModel() {
        DeepPromptTable threeLayers = new DeepPromptTable("t", 1, 3, 2, 3, new float[2 * 3 * 2 * 3], "fp");
        DeepPromptTable tooLong = new DeepPromptTable("t", 16, 2, 2, 3, new float[16 * 2 * 2 * 2 * 3], "fp");

        assertThatThrownBy(() -> threeLayers.checkFits(MODEL)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("task 't': the deep prompt is for 3 layers x 2 kv heads x head size 3 but the model has "
                        + "2 layers x 2 kv heads x head size 3");
        assertThatThrownBy(() -> tooLong.checkFits(MODEL)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("task 't': the deep prompt's 16 virtual tokens leave no position of the model's 16");
        assertThatThrownBy(() -> new DeepPromptTable("t", 2, 2, 2, 3, new float[5], "fp"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("task 't': deep prompt of 2 virtual tokens x 2 x 2 layers x 2 kv heads x 3 needs 48 values, "
                        + "got 5");
        assertThatThrownBy(() -> DeepPromptTable.ofLayers("t", 2, 3, List.of(tensor(0), new float[6]),
                List.of(tensor(0), tensor(0)), "fp")).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("task 't': layer 1's key prefix has 6 values, expected 2 x 2 x 3 = 12");
    }

    /** [kvHeads 2, positions 2, headDim 3] with element (h, p, d) = base + (h·2 + p)·3 + d. */
    private static float[] tensor(int base) {
        float[] t = new float[12];
        for (int i = 0; i < t.length; i++) {
            t[i] = base + i;
        }
        return t;
    }
}

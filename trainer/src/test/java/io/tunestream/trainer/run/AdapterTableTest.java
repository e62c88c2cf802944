package io.tunestream.trainer.run;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import io.tunestream.schemas.DType;
import io.tunestream.schemas.Tensor;
import io.tunestream.schemas.tensor.TensorCodec;
import org.junit.jupiter.api.Test;

class AdapterTableTest {

    @Test
    void shouldPublishASmallTableAsFloat32() {
        float[] table = {0.5f, -1.25f, 3f, 0.1f};
        Tensor tensor = AdapterTable.encode("qa", table, 2, 2);
        assertThat(tensor.getName()).isEqualTo("virtual_tokens.qa");
        assertThat(tensor.getDtype()).isEqualTo(DType.FLOAT32);
        assertThat(tensor.getShape()).containsExactly(2, 2);
        assertThat(TensorCodec.decode(tensor)).containsExactly(table);
    }

    @Test
    void shouldPublishATableAboveFourMebibytesAsFloat16() {
        int rows = 100;
        int hidden = 10_500; // 4.2 MB as FLOAT32
        float[] table = new float[rows * hidden];
        for (int i = 0; i < table.length; i++) {
            table[i] = (i % 200 - 100) / 64f;
        }
        Tensor tensor = AdapterTable.encode("big", table, rows, hidden);
        assertThat(tensor.getDtype()).isEqualTo(DType.FLOAT16);
        assertThat(tensor.getData().remaining()).isEqualTo(table.length * 2);
        float[] back = TensorCodec.decode(tensor);
        assertThat(back[123]).isCloseTo(table[123], within(1e-3f));
        assertThat(AdapterTable.dtypeFor(1024 * 1024)).isEqualTo(DType.FLOAT32);
        assertThat(AdapterTable.dtypeFor(1024 * 1024 + 1)).isEqualTo(DType.FLOAT16);
    }
}

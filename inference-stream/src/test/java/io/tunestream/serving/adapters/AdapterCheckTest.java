package io.tunestream.serving.adapters;

import static org.assertj.core.api.Assertions.assertThat;

import io.tunestream.schemas.AdapterVersion;
import io.tunestream.schemas.DType;
import io.tunestream.schemas.tensor.TensorCodec;
import io.tunestream.serving.batch.ServingModelInfo;
import java.util.List;
import org.junit.jupiter.api.Test;

class AdapterCheckTest {

    private static final ServingModelInfo MODEL = new ServingModelInfo("model-sha", 2, 64);
    private final AdapterCheck check = new AdapterCheck(MODEL);

    private static AdapterVersion adapter(List<Integer> splits, float[] values, int rows) {
        return AdapterVersion.newBuilder().setTask("squad").setVersion(3).setModelFingerprint("model-sha").setHiddenSize(2)
                .setTable(TensorCodec.encodeMatrix("virtual_tokens", values, rows, 2, DType.FLOAT16))
                .setVirtualTokenSplits(splits).build();
    }

    @Test
    void shouldAcceptAFiniteTableOfTheSplitsShape() {
        assertThat(check.refusal(adapter(List.of(1, 1), new float[] {0.1f, 0.2f, 0.3f, 0.4f}, 2))).isEmpty();
    }

    @Test
    void shouldRefuseANonFiniteElementNamingRowAndColumn() {
        var refusal = check.refusal(adapter(List.of(2), new float[] {0.1f, 0.2f, 0.3f, Float.NaN}, 2));

        assertThat(refusal).hasValueSatisfying(r -> {
            assertThat(r.reason()).isEqualTo("non_finite");
            assertThat(r.message()).isEqualTo("adapter squad v3: table element [1, 1] is NaN (FLOAT16)");
        });
    }

    @Test
    void shouldRefuseASplitBelowOneEvenWhenTheSplitsAddUp() {
        var refusal = check.refusal(adapter(List.of(3, 0, -1), new float[] {1, 2, 3, 4}, 2));

        assertThat(refusal).hasValueSatisfying(r -> {
            assertThat(r.reason()).isEqualTo("splits");
            assertThat(r.message()).isEqualTo("adapter squad v3: virtualTokenSplits [3, 0, -1] must all be at least 1");
        });
    }
}

package io.tunestream.model.onnx;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class TrainingBatchTest {

    /** 2 virtual slots, prompt [5, 6], answer [7]: loss on the answer only. */
    private static final TrainingRow SHORT = TrainingRow.virtualPromptAnswer(2, new long[] {5, 6}, new long[] {7}, true);
    /** 1 virtual slot, prompt [8, 9, 10, 11], answer [12, 13]. */
    private static final TrainingRow LONG = TrainingRow.virtualPromptAnswer(1, new long[] {8, 9, 10, 11},
            new long[] {12, 13}, true);

    @Test
    void shouldShiftLabelsAndMaskSoThatEachPositionPredictsTheNextToken() {
        TrainingBatch batch = TrainingBatch.pack(List.of(SHORT), TrainingBatch.Padding.RIGHT);

        assertThat(batch.inputIds()).containsExactly(0, 0, 5, 6, 7);
        assertThat(batch.virtualTokenIndex()).containsExactly(0, 1, -1, -1, -1);
        assertThat(batch.positionIds()).containsExactly(0, 1, 2, 3, 4);
        assertThat(batch.attentionMask()).containsExactly(1, 1, 1, 1, 1);
        // position 3 (token 6, the end of the prompt) predicts the answer token 7
        assertThat(batch.labels()).containsExactly(0, 0, 0, 7, 0);
        assertThat(batch.lossMask()).containsExactly(0f, 0f, 0f, 1f, 0f);
        assertThat(batch.lossTokens()).isEqualTo(1);
    }

    @Test
    void shouldPadOnTheRightWithMaskedPositions() {
        TrainingBatch batch = TrainingBatch.pack(List.of(SHORT, LONG), TrainingBatch.Padding.RIGHT);

        assertThat(batch.batchSize()).isEqualTo(2);
        assertThat(batch.sequenceLength()).isEqualTo(7);
        assertThat(batch.attentionMask()).containsExactly(1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1, 1);
        assertThat(batch.virtualTokenIndex()).containsExactly(0, 1, -1, -1, -1, -1, -1, 0, -1, -1, -1, -1, -1, -1);
        assertThat(batch.positionIds()).containsExactly(0, 1, 2, 3, 4, 0, 0, 0, 1, 2, 3, 4, 5, 6);
        assertThat(batch.labels()).containsExactly(0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 12, 13, 0);
        assertThat(batch.lossTokens()).isEqualTo(3);
    }

    @Test
    void shouldPadOnTheLeftWithPositionsStartingAtTheFirstRealToken() {
        TrainingBatch batch = TrainingBatch.pack(List.of(SHORT, LONG), TrainingBatch.Padding.LEFT);

        assertThat(batch.attentionMask()).startsWith(0, 0, 1, 1, 1, 1, 1);
        assertThat(batch.positionIds()).startsWith(0, 0, 0, 1, 2, 3, 4);
        assertThat(batch.inputIds()).startsWith(0, 0, 0, 0, 5, 6, 7);
        assertThat(batch.virtualTokenIndex()).startsWith(-1, -1, 0, 1, -1, -1, -1);
        assertThat(batch.lossMask()).startsWith(0f, 0f, 0f, 0f, 0f, 1f, 0f);
    }

    @Test
    void shouldCountEveryTokenButTheFirstWhenTheLossIsNotAnswerOnly() {
        TrainingRow row = TrainingRow.virtualPromptAnswer(2, new long[] {5, 6}, new long[] {7}, false);

        assertThat(row.lossTokens()).isEqualTo(3);
        assertThat(TrainingBatch.pack(List.of(row), TrainingBatch.Padding.RIGHT).lossMask())
                .containsExactly(0f, 1f, 1f, 1f, 0f);
    }

    @Test
    void shouldRejectALossTargetAtAVirtualSlot() {
        assertThatThrownBy(() -> new TrainingRow(new long[] {0, 5}, new int[] {0, 1}, new boolean[] {false, true}))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("position 1 is a virtual slot and a loss target");
    }

    @Test
    void shouldRejectABatchWithoutLossTokens() {
        TrainingRow noTarget = new TrainingRow(new long[] {5, 6}, new int[] {-1, -1}, new boolean[] {false, false});

        assertThatThrownBy(() -> TrainingBatch.pack(List.of(noTarget), TrainingBatch.Padding.RIGHT))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("none of the 1 rows has a loss target");
    }
}

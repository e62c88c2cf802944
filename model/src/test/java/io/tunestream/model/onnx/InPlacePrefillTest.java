package io.tunestream.model.onnx;

import ai.onnx.proto.OnnxMl;
import io.tunestream.model.TestModels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/**
 * Prompts written straight into the KV buffers ({@link InPlacePrefill}, issue 12 point 7) against today's prefill
 * (the export's attention, left-padded, copied into the buffers): the same logits and greedy tokens on every fixture
 * model, in a batch mixing a one-token prompt, a prompt filling the buffer, a soft prompt (virtual tokens) and rows
 * finishing at different steps.
 *
 * <p>Tolerance 1e-4 on logits, as between the in-place and copying decoding steps ({@link DecodeStateTest},
 * {@link RotaryInPlaceDecodingTest}): the two prefills compute the same function in float32 with other kernels
 * (GroupQueryAttention against the export's MatMul/Softmax over masked positions), so only the order of the sums
 * differs; logits of these models are of order 1 to 10, where float32 rounding of such reorderings stays below 1e-5.
 */
class InPlacePrefillTest {

    private static final int CAPACITY = 40;
    /** Tokens each row generates: the full row only its prefill's token, the others finishing at different steps. */
    private static final int[] NEW_TOKENS = {6, 3, 9, 1, 4};

    /** The copied prefill: the in-place prefill graph refused at load, as a graph that cannot be built is. */
    private static DecoderModel copiedPrefill(String name) {
        return DecoderModel.load(TestModels.model(name), RuntimeConfig.cpu(1), graph -> {
            throw new IllegalArgumentException("refused by the test");
        });
    }

    /**
     * Row 0 one token; row 1 nine; row 2 four virtual tokens then six tokens (a soft prompt); row 3 fills the buffer;
     * row 4 twenty tokens. Seeded tokens, so the rows differ.
     */
    private static List<float[]> prompts(DecoderModel model) {
        int hidden = model.config().hiddenSize();
        Random random = new Random(12);
        List<float[]> rows = new ArrayList<>();
        for (int length : new int[]{1, 9, 6, CAPACITY, 20}) {
            int[] tokens = random.ints(length, 0, model.config().vocabSize()).toArray();
            rows.add(model.embedTokens(tokens));
        }
        float[] soft = new float[10 * hidden];
        for (int i = 0; i < 4 * hidden; i++) {
            soft[i] = (float) Math.cos(0.11 * i) * 0.05f;
        }
        System.arraycopy(rows.get(2), 0, soft, 4 * hidden, 6 * hidden);
        rows.set(2, soft);
        return rows;
    }

    private static GreedyBatch.Decoded greedy(DecoderModel model, List<float[]> prompts) {
        try (DecodeState state = model.newDecodeState(CAPACITY, true)) {
            assertThat(state).isInstanceOf(InPlaceDecodeState.class);
            return GreedyBatch.decode(state, prompts, NEW_TOKENS);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"tiny-gpt2", "tiny-llama", "demo-gpt2"})
    void shouldGiveTheCopiedPrefillsLogitsAndTokensInAMixedBatch(String name) {
        try (DecoderModel direct = DecoderModel.load(TestModels.model(name), RuntimeConfig.cpu(1));
             DecoderModel copied = copiedPrefill(name)) {
            assertThat(direct.prefillsInPlace()).isTrue();
            assertThat(direct.decoding()).contains("prompts prefilled straight into the KV buffers");
            assertThat(copied.prefillsInPlace()).isFalse();
            assertThat(copied.decodesInPlace()).isTrue();
            List<float[]> prompts = prompts(direct);

            GreedyBatch.Decoded written = greedy(direct, prompts);
            GreedyBatch.Decoded copiedTokens = greedy(copied, prompts);

            assertThat(written.tokens()).extracting(List::size).containsExactly(6, 3, 9, 1, 4);
            // rows that generate alike could hide a mix-up of rows
            assertThat(written.tokens().stream().map(t -> t.get(0)).distinct().count()).isGreaterThanOrEqualTo(3);
            assertThat(written.tokens()).isEqualTo(copiedTokens.tokens());
            for (int row = 0; row < prompts.size(); row++) {
                for (int t = 0; t < NEW_TOKENS[row]; t++) {
                    assertThat(written.logits().get(row).get(t)).as("%s row %d, token %d", name, row, t)
                            .containsExactly(copiedTokens.logits().get(row).get(t), within(1e-4f));
                }
            }
        }
    }

    /** One row alone gives the logits it gets in the mixed batch: its padding reaches no other position. */
    @Test
    void shouldGiveARowTheLogitsItGetsAlone() {
        try (DecoderModel model = DecoderModel.load(TestModels.model("tiny-llama"), RuntimeConfig.cpu(1))) {
            int vocab = model.config().vocabSize();
            List<float[]> prompts = prompts(model);
            InPlacePrefill.Prefilled batch = InPlacePrefill.run(model, prompts, CAPACITY, null);
            batch.kv().close();
            for (int row : new int[]{0, 2}) {
                InPlacePrefill.Prefilled alone = InPlacePrefill.run(model, List.of(prompts.get(row)), CAPACITY, null);
                alone.kv().close();
                assertThat(Arrays.copyOfRange(batch.logits(), row * vocab, (row + 1) * vocab)).as("row %d", row)
                        .containsExactly(alone.logits(), within(1e-4f));
            }
            assertThat(batch.lengths()).containsExactly(1, 9, 10, CAPACITY, 20);
        }
    }

    /**
     * The prefill is one run of the model's session calls: counted in {@link DecoderModel#transfers()} (every input
     * and pinned output, the buffers at their capacity), and stopped by a terminated {@link RunControl}.
     */
    @Test
    void shouldRunOnceThroughTheModelsRunWithItsControl() {
        try (DecoderModel model = DecoderModel.load(TestModels.model("tiny-gpt2"), RuntimeConfig.cpu(1))) {
            ModelConfig c = model.config();
            List<float[]> prompts = List.of(model.embedTokens(new int[]{5, 6, 7}), model.embedTokens(new int[]{1, 2, 3, 4, 5}));
            RunTransfers before = model.transfers();
            try (DecodeState state = model.newDecodeState(CAPACITY, true)) {
                state.prefill(prompts);
            }
            RunTransfers prefill = model.transfers().since(before);
            long buffers = 2L * c.layers() * 2 * c.kvHeads() * CAPACITY * c.headDim() * Float.BYTES;
            // embeddings [2, 5, hidden], position ids [2, 5], seqlens_k [2], total_sequence_length, last_positions [2, 1, 1]
            long small = 2L * 5 * c.hiddenSize() * Float.BYTES + 2 * 5 * Long.BYTES + 2 * Integer.BYTES + Integer.BYTES
                    + 2 * Long.BYTES;
            assertThat(prefill).isEqualTo(new RunTransfers(1, small + buffers, buffers + 2L * c.vocabSize() * Float.BYTES));

            try (RunControl control = RunControl.create();
                 DecodeState state = model.newDecodeState(CAPACITY, true, control)) {
                control.terminate();
                assertThatThrownBy(() -> state.prefill(prompts))
                        .isInstanceOf(IllegalStateException.class)
                        .hasMessageStartingWith("in-place prefill of model " + TestModels.model("tiny-gpt2")
                                + " failed (batch 2, sequence 5, capacity " + CAPACITY + "): ")
                        .hasMessageContaining("terminate");
            }
        }
    }

    @Test
    void shouldRefuseAPromptLongerThanTheBuffers() {
        try (DecoderModel model = DecoderModel.load(TestModels.model("tiny-gpt2"), RuntimeConfig.cpu(1))) {
            float[] tooLong = model.embedTokens(new int[CAPACITY + 1]);
            assertThatThrownBy(() -> InPlacePrefill.run(model, List.of(tooLong), CAPACITY, null))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("capacity " + CAPACITY + " is below the " + (CAPACITY + 1)
                            + " positions of the longest prompt");
        }
    }

    /** A prefill graph that cannot be built, or does not start, leaves the copied prefill, with the reason. */
    @Test
    void shouldPrefillTheOldWayWhenThePrefillGraphCannotBeBuiltOrStarted() {
        try (DecoderModel refused = copiedPrefill("tiny-gpt2");
             DecoderModel broken = DecoderModel.load(TestModels.model("tiny-gpt2"), RuntimeConfig.cpu(1), graph -> graph.toBuilder()
                     .setGraph(graph.getGraph().toBuilder().addNode(OnnxMl.NodeProto.newBuilder().setOpType("NoSuchOperator")
                             .setName("broken").addInput("position_ids").addOutput("nowhere"))).build());
             DecoderModel direct = DecoderModel.load(TestModels.model("tiny-gpt2"), RuntimeConfig.cpu(1))) {
            assertThat(refused.decoding()).contains("prompts prefilled by the export's attention and copied into the KV "
                    + "buffers: the in-place prefill graph cannot be built (refused by the test)");
            assertThat(broken.decoding()).contains("prompts prefilled by the export's attention and copied into the KV "
                    + "buffers: the in-place prefill graph did not start (");
            assertThat(broken.prefillsInPlace()).isFalse();
            assertThat(broken.decodesInPlace()).isTrue();
            List<float[]> prompts = prompts(direct);
            assertThat(greedy(broken, prompts).tokens()).isEqualTo(greedy(direct, prompts).tokens());
            assertThatThrownBy(() -> InPlacePrefill.run(broken, prompts, CAPACITY, null))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageEndingWith(" has no in-place prefill graph");
        }
    }
}

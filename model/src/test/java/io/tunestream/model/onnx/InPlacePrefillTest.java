package io.tunestream.model.onnx;

import ai.onnx.proto.OnnxMl;
import io.tunestream.model.TestModels;
import io.tunestream.model.prompt.DeepPromptTable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
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

    private static List<Optional<? extends KvPrefix>> none(List<float[]> prompts) {
        return none(prompts.size());
    }

    private static List<Optional<? extends KvPrefix>> none(int rows) {
        return Collections.nCopies(rows, Optional.empty());
    }

    /**
     * A batch of one row after a prefix, a deep prompt (seeded keys and values) or a cached prompt start (the keys and
     * values of real tokens), is written straight into the buffers as GroupQueryAttention's subsequent prompt, with the
     * copied prefill's logits and tokens; a larger batch with a prefix takes the copied prefill.
     */
    @ParameterizedTest
    @ValueSource(strings = {"tiny-gpt2", "tiny-llama", "demo-gpt2"})
    void shouldContinueAPrefixInABatchOfOneRow(String name) {
        try (DecoderModel direct = DecoderModel.load(TestModels.model(name), RuntimeConfig.cpu(1));
             DecoderModel copied = copiedPrefill(name)) {
            ModelConfig c = direct.config();
            Random random = new Random(3);
            float[] deepValues = new float[5 * 2 * c.layers() * c.kvHeads() * c.headDim()];
            for (int i = 0; i < deepValues.length; i++) {
                deepValues[i] = (float) random.nextGaussian() * 0.5f;
            }
            KvPrefix deep = new DeepPromptTable("deep", 5, c.layers(), c.kvHeads(), c.headDim(), deepValues,
                    direct.fingerprint());
            KvPrefix start = ComputedPrefix.compute(direct, direct.embedTokens(random.ints(6, 0, c.vocabSize()).toArray()),
                    Optional.empty(), null);
            List<float[]> prompt = List.of(direct.embedTokens(random.ints(7, 0, c.vocabSize()).toArray()));
            long buffers = 2L * c.layers() * c.kvHeads() * CAPACITY * c.headDim() * Float.BYTES;
            for (KvPrefix prefix : List.of(deep, start)) {
                List<Optional<? extends KvPrefix>> prefixes = List.of(Optional.of(prefix));
                RunTransfers before = direct.transfers();
                GreedyBatch.Decoded written;
                try (DecodeState state = direct.newDecodeState(CAPACITY, true)) {
                    written = GreedyBatch.decode(state, prompt, prefixes, new int[]{6});
                }
                GreedyBatch.Decoded copiedTokens;
                try (DecodeState state = copied.newDecodeState(CAPACITY, true)) {
                    copiedTokens = GreedyBatch.decode(state, prompt, prefixes, new int[]{6});
                }
                // the prefill wrote the buffers (pinned, at capacity) and the logits; then 5 steps did the same
                assertThat(direct.transfers().since(before).bytesOut())
                        .isEqualTo(6 * (buffers + (long) c.vocabSize() * Float.BYTES));
                assertThat(written.tokens()).as("%s after %d positions", name, prefix.positions())
                        .isEqualTo(copiedTokens.tokens());
                for (int t = 0; t < 6; t++) {
                    assertThat(written.logits().get(0).get(t)).as("%s, token %d", name, t)
                            .containsExactly(copiedTokens.logits().get(0).get(t), within(1e-4f));
                }
            }
            // the prefix changes the logits, so a prefill that ignored it could not pass
            try (DecodeState with = direct.newDecodeState(CAPACITY, true);
                 DecodeState without = direct.newDecodeState(CAPACITY, true)) {
                float[] after = with.prefill(prompt, List.of(Optional.of(deep)));
                float[] alone = without.prefill(prompt);
                float max = 0;
                for (int i = 0; i < after.length; i++) {
                    max = Math.max(max, Math.abs(after[i] - alone[i]));
                }
                assertThat(max).isGreaterThan(1e-3f);
            }
            List<float[]> two = List.of(prompt.get(0), prompt.get(0));
            List<Optional<? extends KvPrefix>> mixed = List.of(Optional.of(deep), Optional.empty());
            assertThat(InPlacePrefill.handles(mixed)).isFalse();
            try (DecodeState d = direct.newDecodeState(CAPACITY, true);
                 DecodeState k = copied.newDecodeState(CAPACITY, true)) {
                assertThat(d.prefill(two, mixed)).containsExactly(k.prefill(two, mixed), within(1e-4f));
            }
        }
    }

    /** One row alone gives the logits it gets in the mixed batch: its padding reaches no other position. */
    @Test
    void shouldGiveARowTheLogitsItGetsAlone() {
        try (DecoderModel model = DecoderModel.load(TestModels.model("tiny-llama"), RuntimeConfig.cpu(1))) {
            int vocab = model.config().vocabSize();
            List<float[]> prompts = prompts(model);
            InPlacePrefill.Prefilled batch = InPlacePrefill.run(model, prompts, none(prompts), CAPACITY, null);
            batch.kv().close();
            for (int row : new int[]{0, 2}) {
                InPlacePrefill.Prefilled alone = InPlacePrefill.run(model, List.of(prompts.get(row)), none(1), CAPACITY, null);
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
            assertThatThrownBy(() -> InPlacePrefill.run(model, List.of(tooLong), none(1), CAPACITY, null))
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
            assertThatThrownBy(() -> InPlacePrefill.run(broken, prompts, none(prompts), CAPACITY, null))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageEndingWith(" has no in-place prefill graph");
        }
    }
}

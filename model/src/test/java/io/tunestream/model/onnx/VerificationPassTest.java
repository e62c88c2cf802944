package io.tunestream.model.onnx;

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
 * The verification pass of prompt-lookup decoding ({@link DecodeState#verify}, {@link DecodeState#keepVerified}): a
 * row fed several tokens at once gets the logits that as many steps give, and after keeping some of the fed positions
 * it steps on as if only those had been stepped. Tolerance 1e-4 on logits, as between the in-place prefill and the
 * copied one ({@link InPlacePrefillTest}): the same function with other kernel shapes (a Gemm over several positions,
 * GroupQueryAttention's subsequent prompt instead of its decode step), so only the order of sums differs.
 */
class VerificationPassTest {

    private static final int CAPACITY = 40;

    private static int[] promptTokens(DecoderModel model, int length, long seed) {
        return new Random(seed).ints(length, 0, model.config().vocabSize()).toArray();
    }

    /** Greedy tokens and the logits of each, stepping from the prompt: what a verification must reproduce. */
    private static List<float[]> steppedLogits(DecoderModel model, int[] prompt, int[] fed) {
        try (DecodeState state = model.newDecodeState(CAPACITY, true)) {
            state.prefill(List.of(model.embedTokens(prompt)));
            List<float[]> out = new ArrayList<>();
            for (int token : fed) {
                out.add(state.step(new int[] {token}));
            }
            return out;
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"tiny-gpt2", "tiny-llama", "demo-gpt2"})
    void shouldGiveEveryFedPositionTheLogitsOfSteps(String name) {
        try (DecoderModel model = DecoderModel.load(TestModels.model(name), RuntimeConfig.cpu(1))) {
            assertThat(model.decoding()).contains("drafts verified by a one-row graph");
            int vocab = model.config().vocabSize();
            int[] prompt = promptTokens(model, 12, 5);
            int[] fed = promptTokens(model, 5, 6);
            List<float[]> stepped = steppedLogits(model, prompt, fed);
            try (DecodeState state = model.newDecodeState(CAPACITY, true)) {
                state.prefill(List.of(model.embedTokens(prompt)));
                assertThat(state.verifiablePositions()).isEqualTo(CAPACITY - 12);
                RunTransfers before = model.transfers();
                float[] verified = state.verify(fed);
                assertThat(model.transfers().since(before).runs()).as("one model run").isEqualTo(1);
                assertThat(verified).hasSize(fed.length * vocab);
                for (int j = 0; j < fed.length; j++) {
                    assertThat(Arrays.copyOfRange(verified, j * vocab, (j + 1) * vocab)).as("%s position %d", name, j)
                            .containsExactly(stepped.get(j), within(1e-4f));
                }
                assertThat(state.verifiablePositions()).isEqualTo(CAPACITY - 12 - fed.length);
            }
        }
    }

    /** Without its own session (a model nobody looks up drafts with) a pass runs in the prefill session, same logits. */
    @Test
    void shouldRunPassesInThePrefillSessionWithoutTheirOwn() {
        try (DecoderModel model = DecoderModel.load(TestModels.model("tiny-gpt2"), RuntimeConfig.cpu(1).withVerifySession(false))) {
            assertThat(model.decoding()).contains("prompts prefilled straight into the KV buffers")
                    .doesNotContain("drafts verified by a one-row graph");
            int vocab = model.config().vocabSize();
            int[] prompt = promptTokens(model, 12, 5);
            int[] fed = promptTokens(model, 3, 6);
            List<float[]> stepped = steppedLogits(model, prompt, fed);
            try (DecodeState state = model.newDecodeState(CAPACITY, true)) {
                state.prefill(List.of(model.embedTokens(prompt)));
                float[] verified = state.verify(fed);
                for (int j = 0; j < fed.length; j++) {
                    assertThat(Arrays.copyOfRange(verified, j * vocab, (j + 1) * vocab)).as("position %d", j)
                            .containsExactly(stepped.get(j), within(1e-4f));
                }
            }
        }
    }

    /**
     * Keeping 2 of 5 fed positions leaves the row as if 2 tokens were stepped: the next step (another token than the
     * third fed one) and a second verification after it give the stepped logits, so the rejected positions are never
     * read.
     */
    @ParameterizedTest
    @ValueSource(strings = {"tiny-gpt2", "tiny-llama", "demo-gpt2"})
    void shouldForgetThePositionsNotKept(String name) {
        try (DecoderModel model = DecoderModel.load(TestModels.model(name), RuntimeConfig.cpu(1))) {
            int vocab = model.config().vocabSize();
            int[] prompt = promptTokens(model, 9, 7);
            int[] draft = promptTokens(model, 5, 8);
            int[] path = promptTokens(model, 5, 9);
            path[0] = draft[0];
            path[1] = draft[1];
            path[2] = (draft[2] + 1) % vocab;
            List<float[]> stepped = steppedLogits(model, prompt, path);
            try (DecodeState state = model.newDecodeState(CAPACITY, true)) {
                state.prefill(List.of(model.embedTokens(prompt)));
                state.verify(draft);
                state.keepVerified(2);
                assertThat(state.verifiablePositions()).isEqualTo(CAPACITY - 9 - 2);
                assertThat(state.step(new int[] {path[2]})).containsExactly(stepped.get(2), within(1e-4f));
                float[] again = state.verify(new int[] {path[3], path[4]});
                assertThat(Arrays.copyOfRange(again, 0, vocab)).containsExactly(stepped.get(3), within(1e-4f));
                assertThat(Arrays.copyOfRange(again, vocab, 2 * vocab)).containsExactly(stepped.get(4), within(1e-4f));
            }
        }
    }

    @Test
    void shouldRefuseBatchesOfSeveralRowsADraftPastTheCapacityAndKeepingWithoutAVerification() {
        try (DecoderModel model = DecoderModel.load(TestModels.model("tiny-gpt2"), RuntimeConfig.cpu(1));
             DecodeState two = model.newDecodeState(CAPACITY, true);
             DecodeState one = model.newDecodeState(CAPACITY, true)) {
            two.prefill(List.of(model.embedTokens(new int[] {1, 2}), model.embedTokens(new int[] {3})));
            assertThat(two.verifiablePositions()).isZero();
            assertThatThrownBy(() -> two.verify(new int[] {1, 2})).isInstanceOf(UnsupportedOperationException.class)
                    .hasMessageContaining("one row");
            two.keepRows(new int[] {1});
            assertThat(two.verifiablePositions()).as("one row left").isEqualTo(CAPACITY - 1);

            one.prefill(List.of(model.embedTokens(promptTokens(model, CAPACITY - 3, 1))));
            assertThat(one.verifiablePositions()).isEqualTo(3);
            assertThatThrownBy(() -> one.verify(new int[] {1, 2, 3, 4})).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("takes 1 to 3 tokens");
            assertThatThrownBy(() -> one.keepVerified(1)).isInstanceOf(IllegalStateException.class);
            one.verify(new int[] {1, 2, 3});
            assertThat(one.verifiablePositions()).isZero();
            assertThatThrownBy(() -> one.keepVerified(4)).isInstanceOf(IllegalArgumentException.class);
            one.keepVerified(1);
            assertThat(one.verifiablePositions()).isEqualTo(2);
        }
    }

    /** A pass stopped by its RunControl fails as a step does and leaves the row holding what it held. */
    @Test
    void shouldStopOnATerminatedRunControlAndKeepTheRowAsItWas() {
        try (DecoderModel model = DecoderModel.load(TestModels.model("demo-gpt2"), RuntimeConfig.cpu(1));
             RunControl control = RunControl.create();
             DecodeState state = model.newDecodeState(CAPACITY, true, control)) {
            state.prefill(List.of(model.embedTokens(promptTokens(model, 10, 2))));
            control.terminate();
            RunTransfers before = model.transfers();
            assertThatThrownBy(() -> state.verify(new int[] {1, 2, 3})).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("verification pass of model").hasMessageContaining("terminate");
            assertThat(state.verifiablePositions()).isEqualTo(CAPACITY - 10);
            assertThatThrownBy(() -> state.keepVerified(1)).isInstanceOf(IllegalStateException.class);
            assertThatThrownBy(() -> state.step(new int[] {1})).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("terminate");
            assertThat(model.transfers().since(before).runs()).as("a terminated run counts as a step's: not at all")
                    .isZero();
        }
    }

    /**
     * The verification graph is the prefill graph with its shape arithmetic folded for one row: on demo-gpt2 it runs
     * about as few operators as a decoding step (DecodeStepOperatorsTest), where the prefill graph runs hundreds.
     */
    @Test
    void shouldFoldTheShapeArithmeticOfTheVerificationGraph(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
            throws Exception {
        DecoderModel.Parsed parsed = DecoderModel.parse(TestModels.model("demo-gpt2"));
        ModelConfig config = parsed.weights().config();
        ai.onnx.proto.OnnxMl.ModelProto prefill = DecoderModel.prefillGraph(DecoderModel.servingGraph(parsed), config,
                LargeStack.environment(), null, false);

        int prefillOperators = operators(prefill, java.nio.file.Files.createDirectory(dir.resolve("prefill")));
        int verifyOperators = operators(DecoderModel.verifyGraph(prefill, config),
                java.nio.file.Files.createDirectory(dir.resolve("verify")));

        assertThat(prefillOperators).isGreaterThan(200);
        assertThat(verifyOperators).isLessThanOrEqualTo(120);
    }

    /** Operators ONNX Runtime runs for {@code graph} after its own optimisations (those of our sessions). */
    private static int operators(ai.onnx.proto.OnnxMl.ModelProto graph, java.nio.file.Path dir) throws Exception {
        java.nio.file.Path optimized = dir.resolve("optimized.onnx");
        try (ai.onnxruntime.OrtSession.SessionOptions options = OrtSessions.options(RuntimeConfig.cpu(1),
                ExecutionProvider.CPU)) {
            options.setOptimizedModelFilePath(optimized.toString());
            OrtSessions.create(LargeStack.environment(), "a graph", graph.toByteArray(), dir, false, options).close();
        }
        return ai.onnx.proto.OnnxMl.ModelProto.parseFrom(java.nio.file.Files.readAllBytes(optimized)).getGraph()
                .getNodeCount();
    }

    @Test
    void shouldNotVerifyWithTheCopyingOrRecomputingState() {
        try (DecoderModel model = DecoderModel.load(TestModels.model("tiny-gpt2"), RuntimeConfig.cpu(1));
             DecodeState recomputing = model.newDecodeState(CAPACITY, false)) {
            recomputing.prefill(List.of(model.embedTokens(new int[] {1, 2})));
            assertThat(recomputing.verifiablePositions()).isZero();
            assertThatThrownBy(() -> recomputing.verify(new int[] {1})).isInstanceOf(UnsupportedOperationException.class);
        }
    }
}

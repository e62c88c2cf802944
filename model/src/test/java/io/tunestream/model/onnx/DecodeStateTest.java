package io.tunestream.model.onnx;

import io.tunestream.model.TestModels;
import io.tunestream.model.tokenize.HuggingFaceTextTokenizer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/** The contract of {@link DecodeState}, the same for the in-place, the copying and the recomputing state. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class DecodeStateTest {

    /** Prompts of different lengths, the second the longest: dropping it drops padding the others do not need. */
    private static final List<String> TEXTS = List.of(
            "set an alarm for seven",
            "Context: Kamiro lives in Talenburg. Kamiro works as a pilot.\n\nQuestion: Where does Kamiro live?\n\nAnswer:",
            "Context: Naan has a pet horse.\n\nQuestion: What pet does Naan have?\n\nAnswer:",
            "play some music in the kitchen");
    /** Tokens each row generates: the rows finish at different steps. */
    private static final int[] NEW_TOKENS = {5, 2, 8, 3};
    private static final int CAPACITY = 64;

    private final int[][] prompts = new int[TEXTS.size()][];

    enum Kind { IN_PLACE, COPYING, RECOMPUTING }

    private DecoderModel inPlace;
    private DecoderModel copying;

    @BeforeAll
    void load() {
        inPlace = DecoderModel.load(TestModels.model("demo-gpt2"), RuntimeConfig.cpu(1));
        try (HuggingFaceTextTokenizer tokenizer = HuggingFaceTextTokenizer.load(TestModels.model("demo-gpt2"))) {
            for (int i = 0; i < prompts.length; i++) {
                prompts[i] = tokenizer.encode(TEXTS.get(i));
            }
        }
        copying = DecoderModel.load(TestModels.model("demo-gpt2"), RuntimeConfig.cpu(1).withInPlaceKvCache(false));
    }

    @AfterAll
    void close() {
        inPlace.close();
        copying.close();
    }

    private DecodeState state(Kind kind) {
        return switch (kind) {
            case IN_PLACE -> inPlace.newDecodeState(CAPACITY, true);
            case COPYING -> copying.newDecodeState(CAPACITY, true);
            case RECOMPUTING -> inPlace.newDecodeState(CAPACITY, false);
        };
    }

    private List<float[]> prompts(int... rows) {
        List<float[]> out = new ArrayList<>();
        for (int r : rows) {
            out.add(inPlace.embedTokens(prompts[r]));
        }
        return out;
    }

    @Test
    void shouldChooseTheStateFromWhatTheModelLoaded() {
        try (DecoderModel llama = DecoderModel.load(TestModels.model("tiny-llama"), RuntimeConfig.cpu(1));
             DecodeState gpt2InPlace = inPlace.newDecodeState(CAPACITY, true);
             DecodeState gpt2Copying = copying.newDecodeState(CAPACITY, true);
             DecodeState gpt2Recomputing = inPlace.newDecodeState(CAPACITY, false);
             DecodeState llamaInPlace = llama.newDecodeState(CAPACITY, true)) {
            assertThat(gpt2InPlace).isInstanceOf(InPlaceDecodeState.class);
            assertThat(gpt2Copying).isInstanceOf(CopyingDecodeState.class);
            assertThat(gpt2Recomputing).isInstanceOf(RecomputingDecodeState.class);
            // rotary attention too: GroupQueryAttention rotates with the export's cos/sin tables
            assertThat(llamaInPlace).isInstanceOf(InPlaceDecodeState.class);
        }
        assertThatThrownBy(() -> inPlace.newDecodeState(inPlace.config().maxPositions() + 1, true))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("capacity " + (inPlace.config().maxPositions() + 1) + " is outside [1, "
                        + inPlace.config().maxPositions() + "]");
    }

    /** Greedy decoding of {@link #PROMPTS} through nothing but the state's contract; each row's tokens. */
    private List<List<Integer>> greedy(DecodeState state) {
        return GreedyBatch.decode(state, prompts(0, 1, 2, 3), NEW_TOKENS).tokens();
    }

    @Test
    void shouldGiveEqualTokensFromEveryStateThroughTheSameLoop() {
        List<List<Integer>> inPlaceTokens;
        List<List<Integer>> copyingTokens;
        List<List<Integer>> recomputedTokens;
        try (DecodeState s = state(Kind.IN_PLACE)) {
            inPlaceTokens = greedy(s);
        }
        try (DecodeState s = state(Kind.COPYING)) {
            copyingTokens = greedy(s);
        }
        try (DecodeState s = state(Kind.RECOMPUTING)) {
            recomputedTokens = greedy(s);
        }

        assertThat(inPlaceTokens).extracting(List::size).containsExactly(5, 2, 8, 3);
        // rows that generate alike could hide a mix-up of rows
        assertThat(inPlaceTokens.stream().map(t -> t.subList(0, 2)).distinct()).hasSize(4);
        assertThat(inPlaceTokens).isEqualTo(copyingTokens).isEqualTo(recomputedTokens);
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void shouldKeepTheRightRowsInOrder(Kind kind) {
        int vocab = inPlace.config().vocabSize();
        float[] kept;
        float[] alone;
        try (DecodeState state = state(kind)) {
            state.prefill(prompts(0, 1, 2));
            state.step(new int[]{10, 20, 30});
            // drop the middle row, the longest prompt: the others keep their tokens and positions
            state.keepRows(new int[]{0, 2});
            assertThat(state.batch()).isEqualTo(2);
            kept = state.step(new int[]{11, 31});
        }
        try (DecodeState state = state(kind)) {
            state.prefill(prompts(0, 2));
            state.step(new int[]{10, 30});
            alone = state.step(new int[]{11, 31});
        }

        assertThat(kept).hasSize(2 * vocab);
        assertThat(kept).containsExactly(alone, within(1e-4f));
        // the rows differ, so keeping the wrong one could not pass
        assertThat(Arrays.copyOfRange(kept, 0, vocab)).isNotEqualTo(Arrays.copyOfRange(kept, vocab, 2 * vocab));
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void shouldRefuseCallsOutsideTheContract(Kind kind) {
        try (DecodeState state = state(kind)) {
            assertThat(state.batch()).isZero();
            assertThatThrownBy(() -> state.step(new int[]{1}))
                    .isInstanceOf(IllegalStateException.class).hasMessage("the decode state has not been prefilled");
            state.prefill(prompts(0, 2));
            assertThatThrownBy(() -> state.prefill(prompts(0)))
                    .isInstanceOf(IllegalStateException.class).hasMessage("the decode state is already prefilled");
            assertThatThrownBy(() -> state.step(new int[]{1}))
                    .isInstanceOf(IllegalArgumentException.class).hasMessage("a step of 2 rows takes one token a row, got 1");
            assertThatThrownBy(() -> state.keepRows(new int[]{1, 0}))
                    .isInstanceOf(IllegalArgumentException.class).hasMessage("rows to keep must be increasing indices below 2, got [1, 0]");
            assertThatThrownBy(() -> state.keepRows(new int[0]))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("keep at least one row");
            state.keepRows(new int[]{0});
            // row 0 holds its prompt; these steps fill the capacity
            for (int i = 0; i < CAPACITY - prompts[0].length; i++) {
                state.step(new int[]{7});
            }
            assertThatThrownBy(() -> state.step(new int[]{7}))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessage("row 0 already holds 64 positions, the capacity of this decode state");
        }
    }
}

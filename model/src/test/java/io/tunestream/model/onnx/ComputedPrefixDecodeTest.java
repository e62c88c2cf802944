package io.tunestream.model.onnx;

import io.tunestream.model.TestModels;
import io.tunestream.model.prompt.DeepPromptTable;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * A {@link ComputedPrefix} in the {@link DecodeState}s: rows whose first positions (virtual rows and tokens, after a
 * deep prompt or not) come from a computed prefix get the logits of running them whole, at prefill and at every step,
 * in one batch with rows that have no prefix, for the in-place, copying and recomputing states.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ComputedPrefixDecodeTest {

    private static final int CAPACITY = 64;
    private static final int STEPS = 5;

    enum Kind { IN_PLACE, COPYING, RECOMPUTING }

    private final Map<String, DecoderModel> inPlace = new HashMap<>();
    private final Map<String, DecoderModel> copying = new HashMap<>();

    @BeforeAll
    void load() {
        for (String name : List.of("tiny-gpt2", "tiny-llama", "demo-gpt2")) {
            inPlace.put(name, DecoderModel.load(TestModels.model(name), RuntimeConfig.cpu(1)));
            copying.put(name, DecoderModel.load(TestModels.model(name), RuntimeConfig.cpu(1).withInPlaceKvCache(false)));
        }
    }

    @AfterAll
    void close() {
        inPlace.values().forEach(DecoderModel::close);
        copying.values().forEach(DecoderModel::close);
    }

    Stream<Arguments> states() {
        List<Arguments> args = new ArrayList<>();
        for (String model : List.of("tiny-gpt2", "tiny-llama", "demo-gpt2")) {
            for (Kind kind : Kind.values()) {
                args.add(Arguments.of(model, kind));
            }
        }
        return args.stream();
    }

    private DecodeState state(String model, Kind kind) {
        return switch (kind) {
            case IN_PLACE -> inPlace.get(model).newDecodeState(CAPACITY, true);
            case COPYING -> copying.get(model).newDecodeState(CAPACITY, true);
            case RECOMPUTING -> copying.get(model).newDecodeState(CAPACITY, false);
        };
    }

    private static float[] concat(float[] a, float[] b) {
        float[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("states")
    void shouldGiveEachRowTheLogitsOfItsWholePromptWhenItsStartComesFromAComputedPrefix(String model, Kind kind) {
        DecoderModel m = copying.get(model);
        int hidden = m.config().hiddenSize();
        int vocab = m.config().vocabSize();
        float[] virtual = new float[3 * hidden];
        for (int i = 0; i < virtual.length; i++) {
            virtual[i] = (float) Math.sin(0.37 * i) * 0.3f;
        }
        // a soft-prompt task's start: 3 virtual rows then 7 tokens
        float[] softStart = concat(virtual, m.embedTokens(new int[] {41, 7, 300, 12, 88, 5, 19}));
        ComputedPrefix soft = ComputedPrefix.compute(m, softStart, Optional.empty(), null);
        // a deep-prompt task's start: 6 tokens after its 4-position deep prompt
        DeepPromptTable deep = DeepPromptTable.ofPeft("deep", 4, m.config(), m.keysAndValues(new int[] {9, 77, 3, 140}),
                m.fingerprint());
        float[] deepStart = m.embedTokens(new int[] {61, 2, 95, 17, 230, 8});
        ComputedPrefix afterDeep = ComputedPrefix.compute(m, deepStart, Optional.of(deep), null);
        assertThat(soft.positions()).isEqualTo(10);
        assertThat(afterDeep.positions()).isEqualTo(10);

        float[] softRest = m.embedTokens(new int[] {500, 31, 66});
        float[] deepRest = m.embedTokens(new int[] {12, 404, 7, 81, 20});
        float[] plain = m.embedTokens(new int[] {50, 28, 84, 9});
        // row 0: all of the soft start; row 1: its first 8 positions (a BPE merge at the boundary), then the row's own
        float[] ownTail = m.embedTokens(new int[] {23, 99});
        List<float[]> whole = List.of(concat(softStart, softRest),
                concat(Arrays.copyOf(softStart, 8 * hidden), concat(ownTail, softRest)),
                concat(deepStart, deepRest), plain);
        List<Optional<? extends KvPrefix>> wholePrefixes = List.of(Optional.empty(), Optional.empty(), Optional.of(deep),
                Optional.empty());
        List<float[]> rests = List.of(softRest, concat(ownTail, softRest), deepRest, plain);
        List<Optional<? extends KvPrefix>> restPrefixes = List.of(Optional.of(soft), Optional.of(soft.firstPositions(8)),
                Optional.of(afterDeep.firstPositions(4 + 6)), Optional.empty());

        List<List<float[]>> expected;
        List<List<float[]>> got;
        try (DecodeState a = state(model, kind); DecodeState b = state(model, kind)) {
            expected = greedy(a, whole, wholePrefixes, vocab);
            got = greedy(b, rests, restPrefixes, vocab);
        }

        for (int r = 0; r < whole.size(); r++) {
            for (int s = 0; s <= STEPS; s++) {
                assertThat(maxAbsDifference(got.get(r).get(s), expected.get(r).get(s))).as("row %d step %d", r, s)
                        .isLessThan(1e-4);
            }
        }
        // the prefix matters: the soft row's rest alone gives other logits
        try (DecodeState state = state(model, kind)) {
            assertThat(maxAbsDifference(state.prefill(List.of(softRest)), expected.get(0).get(0))).isGreaterThan(1e-3);
        }
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("states")
    void shouldRefuseAViewLongerThanThePrefix(String model, Kind kind) {
        DecoderModel m = copying.get(model);
        ComputedPrefix prefix = ComputedPrefix.compute(m, m.embedTokens(new int[] {1, 2, 3}), Optional.empty(), null);
        assertThatThrownBy(() -> prefix.firstPositions(4)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("cannot take 4 of a prefix of 3 positions");
        assertThat(prefix.bytes()).isEqualTo(2L * m.config().layers() * m.config().kvHeads() * 3 * m.config().headDim() * 4);
    }

    /** Prefill then {@link #STEPS} greedy steps of every row; the logits of each row at each step. */
    private static List<List<float[]>> greedy(DecodeState state, List<float[]> prompts,
                                              List<Optional<? extends KvPrefix>> prefixes, int vocab) {
        List<List<float[]>> out = new ArrayList<>();
        for (int r = 0; r < prompts.size(); r++) {
            out.add(new ArrayList<>());
        }
        float[] logits = state.prefill(prompts, prefixes);
        for (int s = 0; s <= STEPS; s++) {
            int[] next = new int[prompts.size()];
            for (int r = 0; r < prompts.size(); r++) {
                out.get(r).add(Arrays.copyOfRange(logits, r * vocab, (r + 1) * vocab));
                next[r] = argmax(logits, r * vocab, vocab);
            }
            if (s < STEPS) {
                logits = state.step(next);
            }
        }
        return out;
    }

    private static int argmax(float[] logits, int from, int n) {
        int best = 0;
        for (int i = 1; i < n; i++) {
            if (logits[from + i] > logits[from + best]) {
                best = i;
            }
        }
        return best;
    }

    private static double maxAbsDifference(float[] a, float[] b) {
        assertThat(a).hasSameSizeAs(b);
        double max = 0;
        for (int i = 0; i < a.length; i++) {
            max = Math.max(max, Math.abs(a[i] - b[i]));
        }
        return max;
    }
}

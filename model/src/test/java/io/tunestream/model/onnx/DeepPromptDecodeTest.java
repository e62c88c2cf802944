package io.tunestream.model.onnx;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tunestream.model.TestModels;
import io.tunestream.model.prompt.DeepPromptTable;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
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
 * Deep prompts in the {@link DecodeState}s: each row's prefix at the start of its KV cache, tokens at
 * positions P.. (PEFT's convention), for the in-place, copying and recomputing states.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class DeepPromptDecodeTest {

    private static final int CAPACITY = 64;
    private static final int STEPS = 6;

    enum Kind { IN_PLACE, COPYING, RECOMPUTING }

    private final Map<String, DecoderModel> inPlace = new HashMap<>();
    private final Map<String, DecoderModel> copying = new HashMap<>();
    private final Map<String, JsonNode> references = new HashMap<>();

    @BeforeAll
    void load() throws IOException {
        for (String name : List.of("tiny-gpt2", "tiny-llama")) {
            inPlace.put(name, DecoderModel.load(TestModels.model(name), RuntimeConfig.cpu(1)));
            copying.put(name, DecoderModel.load(TestModels.model(name), RuntimeConfig.cpu(1).withInPlaceKvCache(false)));
            references.put(name, new ObjectMapper().readTree(TestModels.model(name).resolve("deep-prompt-reference.json")
                    .toFile()));
        }
    }

    @AfterAll
    void close() {
        inPlace.values().forEach(DecoderModel::close);
        copying.values().forEach(DecoderModel::close);
    }

    Stream<Arguments> states() {
        List<Arguments> args = new ArrayList<>();
        for (String model : List.of("tiny-gpt2", "tiny-llama")) {
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

    private DeepPromptTable prefixOf(String model, String task, int[] tokens) {
        DecoderModel m = copying.get(model);
        return DeepPromptTable.ofPeft(task, tokens.length, m.config(), m.keysAndValues(tokens), m.fingerprint());
    }

    /**
     * A prefix made of the keys and values of real tokens (ids[:split] at positions 0..split-1) gives the
     * logits of running those tokens, at the prompt's last position (PyTorch's full run) and at every
     * greedy step after it.
     */
    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("states")
    void shouldGiveTheLogitsOfTheRealTokensWhenThePrefixIsTheirKeysAndValues(String model, Kind kind) {
        JsonNode exactness = references.get(model).get("exactness");
        int[] ids = TestModels.ints(exactness.get("ids"));
        int split = exactness.get("split").asInt();
        DecoderModel m = copying.get(model);
        DeepPromptTable prefix = prefixOf(model, "exact", Arrays.copyOf(ids, split));
        int vocab = m.config().vocabSize();

        List<float[]> withPrefix;
        List<float[]> full;
        try (DecodeState prefixed = state(model, kind); DecodeState plain = state(model, kind)) {
            withPrefix = greedy(prefixed, List.of(m.embedTokens(Arrays.copyOfRange(ids, split, ids.length))),
                    List.of(Optional.of(prefix)), vocab);
            full = greedy(plain, List.of(m.embedTokens(ids)), List.of(Optional.empty()), vocab);
        }

        float[] pytorch = floats(exactness.get("last_logits"));
        assertThat(maxAbsDifference(withPrefix.get(0), pytorch)).isLessThan(1e-4);
        for (int s = 0; s < full.size(); s++) {
            assertThat(maxAbsDifference(withPrefix.get(s), full.get(s))).as("step %d", s).isLessThan(1e-4);
        }
    }

    /**
     * One batch mixing two deep prompts of different tasks and lengths, a soft-prompt row (virtual rows
     * in its input) and a base-model row: each row gets the logits it gets alone, at every step, also
     * after a finished row is dropped.
     */
    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("states")
    void shouldGiveEachRowOfAMixedBatchWhatItGetsAlone(String model, Kind kind) {
        DecoderModel m = copying.get(model);
        int vocab = m.config().vocabSize();
        int hidden = m.config().hiddenSize();
        DeepPromptTable taskA = prefixOf(model, "a", new int[] {5, 17, 42, 8, 99, 3, 61, 7, 12, 30});
        DeepPromptTable taskB = prefixOf(model, "b", new int[] {77, 21, 9, 140});
        float[] soft = new float[(4 + 6) * hidden];
        for (int i = 0; i < 4 * hidden; i++) {
            soft[i] = (float) Math.sin(0.37 * i) * 0.1f;
        }
        System.arraycopy(m.embedTokens(new int[] {11, 23, 5, 88, 2, 64}), 0, soft, 4 * hidden, 6 * hidden);
        List<float[]> prompts = List.of(
                m.embedTokens(new int[] {31, 4, 15, 92, 65}),
                m.embedTokens(new int[] {35, 89, 79, 32, 38, 46, 26, 43}),
                soft,
                m.embedTokens(new int[] {50, 28, 84}));
        List<Optional<? extends KvPrefix>> prefixes = List.of(Optional.of(taskA), Optional.of(taskB), Optional.empty(),
                Optional.empty());

        List<List<float[]>> alone = new ArrayList<>();
        for (int r = 0; r < prompts.size(); r++) {
            try (DecodeState state = state(model, kind)) {
                alone.add(greedy(state, List.of(prompts.get(r)), List.of(prefixes.get(r)), vocab));
            }
        }
        List<List<float[]>> batched = new ArrayList<>();
        for (int r = 0; r < prompts.size(); r++) {
            batched.add(new ArrayList<>());
        }
        try (DecodeState state = state(model, kind)) {
            float[] logits = state.prefill(prompts, prefixes);
            int[] active = {0, 1, 2, 3};
            for (int s = 0; s <= STEPS; s++) {
                int[] next = new int[active.length];
                for (int b = 0; b < active.length; b++) {
                    batched.get(active[b]).add(Arrays.copyOfRange(logits, b * vocab, (b + 1) * vocab));
                    next[b] = argmax(logits, b * vocab, vocab);
                }
                if (s == STEPS) {
                    break;
                }
                if (s == 2) {
                    // row 1 (the second deep prompt) finishes early
                    state.keepRows(new int[] {0, 2, 3});
                    active = new int[] {0, 2, 3};
                    next = new int[] {next[0], next[2], next[3]};
                }
                logits = state.step(next);
            }
        }

        for (int r = 0; r < prompts.size(); r++) {
            List<float[]> got = batched.get(r);
            for (int s = 0; s < got.size(); s++) {
                assertThat(maxAbsDifference(got.get(s), alone.get(r).get(s))).as("row %d step %d", r, s).isLessThan(1e-4);
            }
        }
        assertThat(batched.get(1)).hasSize(3);
        assertThat(batched.get(0)).hasSize(STEPS + 1);
        // the prefix matters: row 0 without it gets other logits
        try (DecodeState state = state(model, kind)) {
            float[] without = state.prefill(List.of(prompts.get(0)));
            assertThat(maxAbsDifference(without, alone.get(0).get(0))).isGreaterThan(1e-3);
        }
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("states")
    void shouldRefuseAPrefixOfAnotherShape(String model, Kind kind) {
        DecoderModel m = copying.get(model);
        ModelConfig c = m.config();
        DeepPromptTable other = new DeepPromptTable("other", 2, c.layers() + 1, c.kvHeads(), c.headDim(),
                new float[2 * 2 * (c.layers() + 1) * c.kvHeads() * c.headDim()], m.fingerprint());
        try (DecodeState state = state(model, kind)) {
            assertThatThrownBy(() -> state.prefill(List.of(m.embedTokens(new int[] {1, 2})), List.of(Optional.of(other))))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("task 'other': the deep prompt is for " + (c.layers() + 1) + " layers x " + c.kvHeads()
                            + " kv heads x head size " + c.headDim() + " but the model has " + c.layers() + " layers x "
                            + c.kvHeads() + " kv heads x head size " + c.headDim());
        }
    }

    /** Prefill then {@link #STEPS} greedy steps of one row; the logits of each step. */
    private static List<float[]> greedy(DecodeState state, List<float[]> prompt, List<Optional<? extends KvPrefix>> prefix,
                                        int vocab) {
        List<float[]> out = new ArrayList<>();
        float[] logits = state.prefill(prompt, prefix);
        out.add(logits);
        for (int s = 0; s < STEPS; s++) {
            logits = state.step(new int[] {argmax(logits, 0, vocab)});
            out.add(logits);
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

    private static float[] floats(JsonNode array) {
        float[] v = new float[array.size()];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) array.get(i).asDouble();
        }
        return v;
    }
}

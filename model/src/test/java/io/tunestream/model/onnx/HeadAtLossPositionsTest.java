package io.tunestream.model.onnx;

import io.tunestream.model.TestModels;
import io.tunestream.model.autodiff.HeadPositions;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * The training graphs that run the final norm and LM head only at the positions carrying loss
 * ({@link HeadPositions#LOSS_ONLY}, the default) give the loss and gradient of the graphs that run them
 * everywhere ({@link HeadPositions#ALL}), soft prompt and deep prompt, on every model, for a batch of
 * rows with different prompt and answer lengths, padded left or right, with answer-only loss and with
 * loss over prompt and answer.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class HeadAtLossPositionsTest {

    private static final List<String> MODELS = List.of("tiny-gpt2", "tiny-llama", "demo-gpt2");
    private static final int VIRTUAL_TOKENS = 4;

    private final Map<String, TrainingSession> sliced = new HashMap<>();
    private final Map<String, TrainingSession> full = new HashMap<>();
    private final Map<String, DeepPromptTrainingSession> deepSliced = new HashMap<>();
    private final Map<String, DeepPromptTrainingSession> deepFull = new HashMap<>();

    @BeforeAll
    void open() {
        for (String model : MODELS) {
            sliced.put(model, TrainingSession.open(TestModels.model(model), RuntimeConfig.cpu(2)));
            full.put(model, TrainingSession.open(TestModels.model(model), RuntimeConfig.cpu(2), HeadPositions.ALL));
            deepSliced.put(model, DeepPromptTrainingSession.open(TestModels.model(model), RuntimeConfig.cpu(2)));
            deepFull.put(model, DeepPromptTrainingSession.open(TestModels.model(model), RuntimeConfig.cpu(2),
                    HeadPositions.ALL));
        }
    }

    @AfterAll
    void close() {
        sliced.values().forEach(TrainingSession::close);
        full.values().forEach(TrainingSession::close);
        deepSliced.values().forEach(DeepPromptTrainingSession::close);
        deepFull.values().forEach(DeepPromptTrainingSession::close);
    }

    Stream<Arguments> cases() {
        List<Arguments> args = new ArrayList<>();
        for (String model : MODELS) {
            for (TrainingBatch.Padding padding : TrainingBatch.Padding.values()) {
                for (boolean answerOnly : new boolean[] {true, false}) {
                    args.add(Arguments.of(model, padding, answerOnly));
                }
            }
        }
        return args.stream();
    }

    @ParameterizedTest(name = "{0} {1} padding, answer only {2}")
    @MethodSource("cases")
    void shouldGiveTheSoftPromptLossAndGradientOfTheFullHead(String model, TrainingBatch.Padding padding,
                                                             boolean answerOnly) {
        Random random = new Random(7);
        TrainingBatch batch = TrainingBatch.pack(rows(random, VIRTUAL_TOKENS, answerOnly), padding);
        float[] table = gaussian(random, VIRTUAL_TOKENS * sliced.get(model).hiddenSize());

        TrainingSession.Result expected = full.get(model).lossAndGradient(table, VIRTUAL_TOKENS, batch);
        TrainingSession.Result actual = sliced.get(model).lossAndGradient(table, VIRTUAL_TOKENS, batch);
        TrainingSession.Result lossOnly = sliced.get(model).loss(table, VIRTUAL_TOKENS, batch);

        assertSame(expected, actual);
        assertThat(lossOnly.loss()).isCloseTo(expected.loss(), within(1e-5 * expected.loss()));
    }

    @ParameterizedTest(name = "{0} {1} padding, answer only {2}")
    @MethodSource("cases")
    void shouldGiveTheDeepPromptLossAndGradientOfTheFullHead(String model, TrainingBatch.Padding padding,
                                                             boolean answerOnly) {
        Random random = new Random(11);
        TrainingBatch batch = TrainingBatch.pack(rows(random, 0, answerOnly), padding);
        float[] prefix = gaussian(random, VIRTUAL_TOKENS * deepSliced.get(model).rowWidth());

        TrainingSession.Result expected = deepFull.get(model).lossAndGradient(prefix, VIRTUAL_TOKENS, batch);
        TrainingSession.Result actual = deepSliced.get(model).lossAndGradient(prefix, VIRTUAL_TOKENS, batch);

        assertSame(expected, actual);
    }

    private static void assertSame(TrainingSession.Result expected, TrainingSession.Result actual) {
        assertThat(actual.lossTokens()).isEqualTo(expected.lossTokens());
        assertThat(actual.loss()).isCloseTo(expected.loss(), within(1e-5 * expected.loss()));
        assertThat(TrainingSessionReferenceTest.relativeL2(actual.tableGradient(), expected.tableGradient()))
                .isLessThanOrEqualTo(1e-5);
        assertThat(max(expected.tableGradient())).isGreaterThan(0f);
    }

    /** Three rows of different prompt and answer lengths (answers of 1, 3 and 6 tokens). */
    private static List<TrainingRow> rows(Random random, int virtualTokens, boolean answerOnly) {
        int[][] lengths = {{5, 1}, {2, 3}, {9, 6}};
        List<TrainingRow> rows = new ArrayList<>();
        for (int[] l : lengths) {
            rows.add(TrainingRow.virtualPromptAnswer(virtualTokens, random.longs(l[0], 1, 200).toArray(),
                    random.longs(l[1], 1, 200).toArray(), answerOnly));
        }
        return rows;
    }

    private static float[] gaussian(Random random, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) (random.nextGaussian() * 0.1);
        }
        return v;
    }

    private static float max(float[] v) {
        float m = 0;
        for (float x : v) {
            m = Math.max(m, Math.abs(x));
        }
        return m;
    }
}

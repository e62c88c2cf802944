package io.tunestream.model.onnx;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tunestream.model.TestModels;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/**
 * The deep-prompt (prefix-tuning) training graph against PEFT in PyTorch
 * ({@code models/*}/deep-prompt-reference.json, see tools/references/README.md): a 10-token prefix in
 * PEFT's layout, the answer loss of reference.json case 0 with the tokens at positions P.., and
 * d loss / d prefix to a relative L2 error of 1e-4 on every model.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class DeepPromptTrainingReferenceTest {

    private static final List<String> MODELS = List.of("tiny-gpt2", "tiny-llama", "demo-gpt2");

    private final Map<String, DeepPromptTrainingSession> sessions = new HashMap<>();
    private final Map<String, Reference> references = new HashMap<>();

    /** The reference's prefix and case. */
    record Reference(int virtualTokens, float[] prefix, long[] promptIds, long[] answerIds, double loss, float[] gradient) {
        TrainingRow row() {
            return TrainingRow.virtualPromptAnswer(0, promptIds, answerIds, true);
        }
    }

    @BeforeAll
    void open() throws IOException {
        ObjectMapper json = new ObjectMapper();
        for (String model : MODELS) {
            sessions.put(model, DeepPromptTrainingSession.open(TestModels.model(model), RuntimeConfig.cpu(2)));
            JsonNode r = json.readTree(TestModels.model(model).resolve("deep-prompt-reference.json").toFile());
            JsonNode c = r.get("cases").get(0);
            references.put(model, new Reference(r.get("num_virtual_tokens").asInt(), floats(r.get("prefix")),
                    longs(c.get("prompt_ids")), longs(c.get("answer_ids")), c.get("loss").asDouble(),
                    floats(c.get("gradient"))));
        }
    }

    @AfterAll
    void close() {
        sessions.values().forEach(DeepPromptTrainingSession::close);
    }

    Stream<String> models() {
        return MODELS.stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("models")
    void shouldMatchPeftLossAndPrefixGradient(String model) {
        Reference ref = references.get(model);
        TrainingBatch batch = TrainingBatch.pack(List.of(ref.row()), TrainingBatch.Padding.RIGHT);

        TrainingSession.Result result = sessions.get(model).lossAndGradient(ref.prefix(), ref.virtualTokens(), batch);

        assertThat(result.loss()).isCloseTo(ref.loss(), within(1e-5 * ref.loss()));
        assertThat(result.lossTokens()).isEqualTo(ref.answerIds().length);
        assertThat(TrainingSessionReferenceTest.relativeL2(result.tableGradient(), ref.gradient()))
                .isLessThanOrEqualTo(1e-4);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("models")
    void shouldComputeTheSameLossWithoutTheGradient(String model) {
        Reference ref = references.get(model);

        TrainingSession.Result result = sessions.get(model).loss(ref.prefix(), ref.virtualTokens(),
                TrainingBatch.pack(List.of(ref.row()), TrainingBatch.Padding.RIGHT));

        assertThat(result.loss()).isCloseTo(ref.loss(), within(1e-5 * ref.loss()));
        assertThat(result.tableGradient()).isEmpty();
    }

    Stream<Arguments> paddings() {
        List<Arguments> args = new ArrayList<>();
        for (String model : List.of("tiny-gpt2", "tiny-llama")) {
            for (TrainingBatch.Padding padding : TrainingBatch.Padding.values()) {
                args.add(Arguments.of(model, padding));
            }
        }
        return args.stream();
    }

    /**
     * The reference row batched with a shorter row: every row sits after the same prefix, whatever its
     * padding, so loss and gradient are the token-weighted means of the rows run alone.
     */
    @ParameterizedTest(name = "{0} {1} padding")
    @MethodSource("paddings")
    void shouldAverageOverTheAnswerTokensOfAPaddedBatch(String model, TrainingBatch.Padding padding) {
        Reference ref = references.get(model);
        DeepPromptTrainingSession session = sessions.get(model);
        TrainingRow a = ref.row();
        TrainingRow b = TrainingRow.virtualPromptAnswer(0, java.util.Arrays.copyOf(ref.promptIds(), 3), ref.answerIds(), true);
        TrainingSession.Result alone1 = session.lossAndGradient(ref.prefix(), ref.virtualTokens(),
                TrainingBatch.pack(List.of(a), padding));
        TrainingSession.Result alone2 = session.lossAndGradient(ref.prefix(), ref.virtualTokens(),
                TrainingBatch.pack(List.of(b), padding));

        TrainingSession.Result batched = session.lossAndGradient(ref.prefix(), ref.virtualTokens(),
                TrainingBatch.pack(List.of(a, b), padding));

        double na = alone1.lossTokens();
        double nb = alone2.lossTokens();
        float[] grad = new float[ref.prefix().length];
        for (int i = 0; i < grad.length; i++) {
            grad[i] = (float) ((alone1.tableGradient()[i] * na + alone2.tableGradient()[i] * nb) / (na + nb));
        }
        assertThat(alone1.loss()).isCloseTo(ref.loss(), within(1e-5 * ref.loss()));
        assertThat(alone2.loss()).isNotCloseTo(alone1.loss(), within(1e-3));
        assertThat(batched.loss()).isCloseTo((alone1.loss() * na + alone2.loss() * nb) / (na + nb),
                within(1e-5 * alone1.loss()));
        assertThat(TrainingSessionReferenceTest.relativeL2(batched.tableGradient(), grad)).isLessThanOrEqualTo(1e-4);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("models")
    void shouldRefuseAPrefixOfTheWrongWidth(String model) {
        Reference ref = references.get(model);
        TrainingBatch batch = TrainingBatch.pack(List.of(ref.row()), TrainingBatch.Padding.RIGHT);
        float[] tooShort = java.util.Arrays.copyOf(ref.prefix(), ref.prefix().length - 1);

        assertThatThrownBy(() -> sessions.get(model).lossAndGradient(tooShort, ref.virtualTokens(), batch))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("the deep prompt must have " + ref.virtualTokens() + " x "
                        + sessions.get(model).rowWidth());
    }

    private static long[] longs(JsonNode array) {
        long[] v = new long[array.size()];
        for (int i = 0; i < v.length; i++) {
            v[i] = array.get(i).asLong();
        }
        return v;
    }

    private static float[] floats(JsonNode array) {
        float[] v = new float[array.size()];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) array.get(i).asDouble();
        }
        return v;
    }
}

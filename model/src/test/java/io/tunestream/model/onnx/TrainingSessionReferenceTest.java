package io.tunestream.model.onnx;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/**
 * The training graph against PyTorch autograd ({@code models/*}/reference.json): the loss to 1e-5
 * relative and d loss / d virtual to a relative L2 error of 1e-4 (tiny models) or 1e-3 (demo-gpt2),
 * alone and batched with padding on either side.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class TrainingSessionReferenceTest {

    private static final List<String> MODELS = List.of("tiny-gpt2", "tiny-llama", "demo-gpt2");

    private final Map<String, TrainingSession> sessions = new HashMap<>();
    private final Map<String, List<ReferenceCase>> references = new HashMap<>();

    /** One case of reference.json. */
    record ReferenceCase(long[] promptIds, long[] answerIds, int virtualTokens, float[] virtual, double loss,
                         float[] grad) {
        TrainingRow row() {
            return TrainingRow.virtualPromptAnswer(virtualTokens, promptIds, answerIds, true);
        }
    }

    static Path modelDir(String name) {
        return Path.of(System.getProperty("tunestream.home", "..")).resolve("models").resolve(name);
    }

    @BeforeAll
    void open() throws IOException {
        ObjectMapper json = new ObjectMapper();
        for (String model : MODELS) {
            sessions.put(model, TrainingSession.open(modelDir(model), RuntimeConfig.cpu(2)));
            List<ReferenceCase> cases = new ArrayList<>();
            for (JsonNode c : json.readTree(modelDir(model).resolve("reference.json").toFile()).get("cases")) {
                cases.add(new ReferenceCase(longs(c.get("prompt_ids")), longs(c.get("answer_ids")),
                        c.get("virtual").size(), flat(c.get("virtual")), c.get("loss").asDouble(), flat(c.get("grad"))));
            }
            references.put(model, cases);
        }
    }

    @AfterAll
    void close() {
        sessions.values().forEach(TrainingSession::close);
    }

    private static long[] longs(JsonNode array) {
        long[] v = new long[array.size()];
        for (int i = 0; i < v.length; i++) {
            v[i] = array.get(i).asLong();
        }
        return v;
    }

    private static float[] flat(JsonNode matrix) {
        int rows = matrix.size();
        int cols = matrix.get(0).size();
        float[] v = new float[rows * cols];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                v[r * cols + c] = (float) matrix.get(r).get(c).asDouble();
            }
        }
        return v;
    }

    static double relativeL2(float[] actual, float[] expected) {
        double diff = 0;
        double norm = 0;
        for (int i = 0; i < expected.length; i++) {
            diff += Math.pow(actual[i] - expected[i], 2);
            norm += Math.pow(expected[i], 2);
        }
        return Math.sqrt(diff / norm);
    }

    static double gradientTolerance(String model) {
        return model.startsWith("tiny-") ? 1e-4 : 1e-3;
    }

    Stream<Arguments> referenceCases() {
        List<Arguments> args = new ArrayList<>();
        for (String model : MODELS) {
            for (int i = 0; i < 2; i++) {
                args.add(Arguments.of(model, i));
            }
        }
        return args.stream();
    }

    @ParameterizedTest(name = "{0} case {1}")
    @MethodSource("referenceCases")
    void shouldMatchPyTorchLossAndVirtualTableGradient(String model, int index) {
        ReferenceCase c = references.get(model).get(index);
        TrainingBatch batch = TrainingBatch.pack(List.of(c.row()), TrainingBatch.Padding.RIGHT);

        TrainingSession.Result result = sessions.get(model).lossAndGradient(c.virtual(), c.virtualTokens(), batch);

        assertThat(result.loss()).isCloseTo(c.loss(), within(1e-5 * Math.abs(c.loss())));
        assertThat(result.lossTokens()).isEqualTo(c.answerIds().length);
        assertThat(relativeL2(result.tableGradient(), c.grad())).isLessThanOrEqualTo(gradientTolerance(model));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("models")
    void shouldComputeTheSameLossWithoutTheGradient(String model) {
        ReferenceCase c = references.get(model).get(0);
        TrainingBatch batch = TrainingBatch.pack(List.of(c.row()), TrainingBatch.Padding.RIGHT);

        TrainingSession.Result result = sessions.get(model).loss(c.virtual(), c.virtualTokens(), batch);

        assertThat(result.loss()).isCloseTo(c.loss(), within(1e-5 * Math.abs(c.loss())));
        assertThat(result.tableGradient()).isEmpty();
    }

    Stream<String> models() {
        return MODELS.stream();
    }

    Stream<Arguments> paddings() {
        List<Arguments> args = new ArrayList<>();
        for (String model : MODELS) {
            for (TrainingBatch.Padding padding : TrainingBatch.Padding.values()) {
                args.add(Arguments.of(model, padding));
            }
        }
        return args.stream();
    }

    /**
     * Both prompts in one padded batch (with the first case's table): the loss is the mean over all
     * answer tokens of the batch, so the token-weighted mean of the rows' losses run alone, and the
     * gradient likewise. Padding must change nothing.
     */
    @ParameterizedTest(name = "{0} {1} padding")
    @MethodSource("paddings")
    void shouldAverageOverTheAnswerTokensOfAPaddedBatch(String model, TrainingBatch.Padding padding) {
        ReferenceCase a = references.get(model).get(0);
        ReferenceCase b = references.get(model).get(1);
        float[] table = a.virtual();
        TrainingSession session = sessions.get(model);
        TrainingSession.Result alone1 = session.lossAndGradient(table, a.virtualTokens(),
                TrainingBatch.pack(List.of(a.row()), padding));
        TrainingSession.Result alone2 = session.lossAndGradient(table, a.virtualTokens(),
                TrainingBatch.pack(List.of(b.row()), padding));
        assertThat(a.row().length()).isNotEqualTo(b.row().length());

        TrainingSession.Result batched = session.lossAndGradient(table, a.virtualTokens(),
                TrainingBatch.pack(List.of(a.row(), b.row()), padding));

        double na = alone1.lossTokens();
        double nb = alone2.lossTokens();
        double loss = (alone1.loss() * na + alone2.loss() * nb) / (na + nb);
        float[] grad = new float[table.length];
        for (int i = 0; i < grad.length; i++) {
            grad[i] = (float) ((alone1.tableGradient()[i] * na + alone2.tableGradient()[i] * nb) / (na + nb));
        }
        assertThat(batched.lossTokens()).isEqualTo((long) (na + nb));
        assertThat(batched.loss()).isCloseTo(loss, within(1e-5 * loss));
        assertThat(relativeL2(batched.tableGradient(), grad)).isLessThanOrEqualTo(1e-4);
    }

    /**
     * Without answer_only_loss the mean runs over every non-virtual token: its total equals the
     * answer-only total plus the total over the prompt tokens alone.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("models")
    void shouldAverageOverAllNonVirtualTokensWithoutAnswerOnlyLoss(String model) {
        ReferenceCase c = references.get(model).get(0);
        TrainingSession session = sessions.get(model);
        TrainingRow all = TrainingRow.virtualPromptAnswer(c.virtualTokens(), c.promptIds(), c.answerIds(), false);
        boolean[] promptOnly = all.lossTarget().clone();
        for (int i = c.virtualTokens() + c.promptIds().length; i < promptOnly.length; i++) {
            promptOnly[i] = false;
        }
        TrainingRow prompt = new TrainingRow(all.tokenIds(), all.virtualIndex(), promptOnly);

        TrainingSession.Result everything = session.loss(c.virtual(), c.virtualTokens(),
                TrainingBatch.pack(List.of(all), TrainingBatch.Padding.RIGHT));
        TrainingSession.Result promptPart = session.loss(c.virtual(), c.virtualTokens(),
                TrainingBatch.pack(List.of(prompt), TrainingBatch.Padding.RIGHT));

        assertThat(everything.lossTokens()).isEqualTo(c.promptIds().length + c.answerIds().length);
        double total = promptPart.loss() * promptPart.lossTokens() + c.loss() * c.answerIds().length;
        assertThat(everything.loss() * everything.lossTokens()).isCloseTo(total, within(1e-5 * total));
    }

    @Test
    void shouldFallBackToCpuWhenCudaCannotStart() {
        ReferenceCase c = references.get("tiny-gpt2").get(0);
        TrainingBatch batch = TrainingBatch.pack(List.of(c.row()), TrainingBatch.Padding.RIGHT);

        // the build ships the CPU runtime: asking for CUDA must still give a working session
        try (TrainingSession session = TrainingSession.open(modelDir("tiny-gpt2"), RuntimeConfig.cuda(0))) {
            assertThat(session.provider()).isEqualTo(ExecutionProvider.CPU);
            assertThat(session.lossAndGradient(c.virtual(), c.virtualTokens(), batch).loss())
                    .isCloseTo(c.loss(), within(1e-5 * c.loss()));
        }
    }

    @Test
    void shouldNameTheDirectoryWhenTheModelIsMissing() {
        Path missing = modelDir("no-such-model");

        assertThatThrownBy(() -> TrainingSession.open(missing, RuntimeConfig.cpu()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("model directory " + missing + " has no model.onnx");
    }

    @Test
    void shouldRejectATableOfTheWrongSize() {
        ReferenceCase c = references.get("tiny-gpt2").get(0);
        TrainingBatch batch = TrainingBatch.pack(List.of(c.row()), TrainingBatch.Padding.RIGHT);

        assertThatThrownBy(() -> sessions.get("tiny-gpt2").lossAndGradient(new float[64 * 9], 10, batch))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("the virtual-token table must have 10 x 64 = 640 floats, got 576");
    }

    @Test
    void shouldRejectAVirtualIndexOutsideTheTable() {
        ReferenceCase c = references.get("tiny-gpt2").get(0);
        TrainingBatch batch = TrainingBatch.pack(List.of(c.row()), TrainingBatch.Padding.RIGHT);

        assertThatThrownBy(() -> sessions.get("tiny-gpt2").lossAndGradient(new float[64 * 5], 5, batch))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("virtual index 5 at row 0, position 5 is outside the table of 5 rows");
    }
}

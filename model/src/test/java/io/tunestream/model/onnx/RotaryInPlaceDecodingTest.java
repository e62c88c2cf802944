package io.tunestream.model.onnx;

import ai.onnx.proto.OnnxMl;
import com.fasterxml.jackson.databind.JsonNode;
import io.tunestream.model.TestModels;
import io.tunestream.model.tokenize.HuggingFaceTextTokenizer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/**
 * tiny-llama (rotary embeddings, 4 query heads over 2 key/value heads) decodes in place through
 * GroupQueryAttention's rotary caches, with the tokens and logits of the export's own attention (issue 12, point 2).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class RotaryInPlaceDecodingTest {

    /** Prompts of different lengths: left padding differs per row in the prefill, lengths differ in the buffers. */
    private static final List<String> TEXTS = List.of(
            "set an alarm for seven",
            "Context: Kamiro lives in Talenburg. Kamiro works as a pilot.\n\nQuestion: Where does Kamiro live?\n\nAnswer:",
            "Context: Naan has a pet horse.\n\nQuestion: What pet does Naan have?\n\nAnswer:",
            "play some music in the kitchen");
    /** Tokens each row generates: the rows finish at different steps, the longest prompt first. */
    private static final int[] NEW_TOKENS = {9, 3, 12, 6};
    private static final int CAPACITY = 64;

    private final int[][] prompts = new int[TEXTS.size()][];
    private DecoderModel inPlace;
    private DecoderModel copying;

    @BeforeAll
    void load() {
        inPlace = DecoderModel.load(TestModels.model("tiny-llama"), RuntimeConfig.cpu(1));
        copying = DecoderModel.load(TestModels.model("tiny-llama"), RuntimeConfig.cpu(1).withInPlaceKvCache(false));
        try (HuggingFaceTextTokenizer tokenizer = HuggingFaceTextTokenizer.load(TestModels.model("tiny-llama"))) {
            for (int i = 0; i < prompts.length; i++) {
                prompts[i] = tokenizer.encode(TEXTS.get(i));
            }
        }
    }

    @AfterAll
    void close() {
        inPlace.close();
        copying.close();
    }

    @Test
    void shouldDecodeTinyLlamaInPlace() {
        assertThat(inPlace.decodesInPlace()).isTrue();
        assertThat(copying.decodesInPlace()).isFalse();
        try (DecodeState state = inPlace.newDecodeState(CAPACITY, true)) {
            assertThat(state).isInstanceOf(InPlaceDecodeState.class);
        }
    }

    /** Greedy decoding of every prompt in one batch, rows dropped as they finish; each row's tokens and logits. */
    private GreedyBatch.Decoded greedy(DecoderModel model) {
        List<float[]> embedded = new ArrayList<>();
        for (int[] prompt : prompts) {
            embedded.add(model.embedTokens(prompt));
        }
        try (DecodeState state = model.newDecodeState(CAPACITY, true)) {
            return GreedyBatch.decode(state, embedded, NEW_TOKENS);
        }
    }

    @Test
    void shouldGiveTheCopyingPathsTokensAndLogitsInAMixedBatchWhoseRowsFinishAtDifferentSteps() {
        GreedyBatch.Decoded appended = greedy(inPlace);
        GreedyBatch.Decoded copied = greedy(copying);

        assertThat(appended.tokens()).extracting(List::size).containsExactly(9, 3, 12, 6);
        // rows that generate alike could hide a mix-up of rows
        assertThat(appended.tokens().stream().map(t -> t.subList(0, 3)).distinct()).hasSize(4);
        assertThat(appended.tokens()).isEqualTo(copied.tokens());
        for (int row = 0; row < prompts.length; row++) {
            for (int t = 0; t < NEW_TOKENS[row]; t++) {
                assertThat(appended.logits().get(row).get(t)).as("row %d, token %d", row, t)
                        .containsExactly(copied.logits().get(row).get(t), within(1e-4f));
            }
        }
    }

    /**
     * A row whose cache holds more than its positions (a deep prompt's prefix) rotates at its position ids, not
     * at its cache length: the in-place step agrees with the export's step at a position other than the length.
     */
    @Test
    void shouldRotateAtTheStepsPositionIdsNotAtTheRowsCacheLength() {
        int[] prompt = prompts[0];
        int n = prompt.length;
        long[] ones = new long[n];
        long[] positions = new long[n];
        for (int i = 0; i < n; i++) {
            ones[i] = 1;
            positions[i] = i;
        }
        int token = 42;
        long[] mask = new long[n + 1];
        Arrays.fill(mask, 1);
        DecoderModel.Step prefill = inPlace.forward(new StepInput(1, n, inPlace.embedTokens(prompt), ones, positions), null);
        try (KvCache cache = prefill.cache()) {
            float[][] copied = new float[2][];
            float[][] appended = new float[2][];
            for (int shift = 0; shift < 2; shift++) {
                long position = n + 5L * shift;
                DecoderModel.Step step = inPlace.forward(new StepInput(1, 1, inPlace.embedTokens(new int[]{token}),
                        mask, new long[]{position}), cache);
                step.cache().close();
                copied[shift] = step.lastLogits();
                try (KvBuffer kv = inPlace.toKvBuffer(cache, new int[]{0}, CAPACITY)) {
                    appended[shift] = inPlace.decode(inPlace.embedTokens(new int[]{token}), new long[]{position}, kv, null);
                }
            }
            assertThat(appended[1]).containsExactly(copied[1], within(1e-4f));
            assertThat(appended[0]).containsExactly(copied[0], within(1e-4f));
            // the position matters, so a step rotating at the cache length could not pass
            assertThat(maxDifference(copied[0], copied[1])).isGreaterThan(1e-3f);
            // the caches end at the model's last position
            int beyond = inPlace.config().maxPositions();
            try (KvBuffer kv = inPlace.toKvBuffer(cache, new int[]{0}, CAPACITY)) {
                assertThatThrownBy(() -> inPlace.decode(inPlace.embedTokens(new int[]{token}), new long[]{beyond}, kv, null))
                        .isInstanceOf(IllegalArgumentException.class)
                        .hasMessageStartingWith("row 0's position " + beyond + " is outside [0, " + beyond + ")");
            }
        }
    }

    private static float maxDifference(float[] a, float[] b) {
        float max = 0;
        for (int i = 0; i < a.length; i++) {
            max = Math.max(max, Math.abs(a[i] - b[i]));
        }
        return max;
    }

    /**
     * Qwen2's attention is Llama's with biases on the q/k/v projections. No Qwen2 export is at hand: this is
     * tiny-llama with a seeded random bias {@code Add} after each projection, as the export writes Qwen2's.
     */
    @Test
    void shouldKeepTheProjectionBiasesInPlace(@TempDir Path dir) throws IOException {
        Path biased = withQkvBiases(dir);
        try (DecoderModel biasedInPlace = DecoderModel.load(biased, RuntimeConfig.cpu(1));
             DecoderModel biasedCopying = DecoderModel.load(biased, RuntimeConfig.cpu(1).withInPlaceKvCache(false))) {
            assertThat(biasedInPlace.config().family()).isEqualTo(ModelFamily.QWEN2);
            assertThat(biasedInPlace.decodesInPlace()).isTrue();

            GreedyBatch.Decoded appended = greedy(biasedInPlace);
            GreedyBatch.Decoded copied = greedy(biasedCopying);
            GreedyBatch.Decoded unbiased = greedy(inPlace);

            assertThat(appended.tokens()).isEqualTo(copied.tokens());
            for (int row = 0; row < prompts.length; row++) {
                for (int t = 0; t < NEW_TOKENS[row]; t++) {
                    assertThat(appended.logits().get(row).get(t)).as("row %d, token %d", row, t)
                            .containsExactly(copied.logits().get(row).get(t), within(1e-4f));
                }
            }
            // the biases change every step's logits, so a rewrite dropping them could not pass
            for (int row = 0; row < prompts.length; row++) {
                assertThat(maxDifference(appended.logits().get(row).get(1), unbiased.logits().get(row).get(1)))
                        .as("row %d", row).isGreaterThan(1e-2f);
            }
        }
    }

    /** tiny-llama with {@code Add(MatMul, bias)} for every q/k/v projection, as a Qwen2 model (config.json). */
    private static Path withQkvBiases(Path dir) throws IOException {
        Path source = TestModels.model("tiny-llama");
        OnnxMl.ModelProto model = OnnxMl.ModelProto.parseFrom(Files.readAllBytes(source.resolve("model.onnx")));
        Map<String, Long> widths = new HashMap<>();
        model.getGraph().getInitializerList().forEach(t -> widths.put(t.getName(), t.getDimsCount() == 2 ? t.getDims(1) : 0));
        Random random = new Random(12);
        OnnxMl.GraphProto.Builder g = model.getGraph().toBuilder().clearNode();
        int added = 0;
        for (OnnxMl.NodeProto n : model.getGraph().getNodeList()) {
            if (!n.getName().matches("/m/model/layers\\.\\d+/self_attn/[qkv]_proj/MatMul")) {
                g.addNode(n);
                continue;
            }
            String out = n.getOutput(0);
            String bias = n.getName().replace("/MatMul", "/bias");
            int width = Math.toIntExact(widths.get(n.getInput(1)));
            OnnxMl.TensorProto.Builder b = OnnxMl.TensorProto.newBuilder().setName(bias)
                    .setDataType(OnnxMl.TensorProto.DataType.FLOAT.getNumber()).addDims(width);
            for (int j = 0; j < width; j++) {
                b.addFloatData((float) random.nextGaussian());
            }
            g.addInitializer(b);
            g.addNode(n.toBuilder().setOutput(0, out + "/unbiased"));
            g.addNode(OnnxMl.NodeProto.newBuilder().setOpType("Add").setName(n.getName().replace("/MatMul", "/Add_bias"))
                    .addInput(out + "/unbiased").addInput(bias).addOutput(out));
            added++;
        }
        assertThat(added).isEqualTo(3 * 2);
        Files.write(dir.resolve("model.onnx"), model.toBuilder().setGraph(g).build().toByteArray());
        String config = Files.readString(source.resolve("config.json"));
        assertThat(config).contains("\"model_type\": \"llama\"", "\"attention_bias\": false");
        Files.writeString(dir.resolve("config.json"), config.replace("\"model_type\": \"llama\"", "\"model_type\": \"qwen2\"")
                .replace("\"attention_bias\": false", "\"attention_bias\": true"));
        return dir;
    }

    @Test
    void shouldKeepTheCopyingPathForARotationGroupQueryAttentionCannotExpress(@TempDir Path dir) throws IOException {
        Path source = TestModels.model("tiny-llama");
        OnnxMl.ModelProto model = OnnxMl.ModelProto.parseFrom(Files.readAllBytes(source.resolve("model.onnx")));
        // layer 1's keys rotate by Concat(x1, -x2): a valid graph, but not rotate_half
        OnnxMl.GraphProto.Builder g = model.getGraph().toBuilder();
        for (int i = 0; i < g.getNodeCount(); i++) {
            OnnxMl.NodeProto n = g.getNode(i);
            if (n.getName().equals("/m/model/layers.1/self_attn/Concat_4")) {
                g.setNode(i, n.toBuilder().setInput(0, n.getInput(1)).setInput(1, n.getInput(0)));
            }
        }
        Files.write(dir.resolve("model.onnx"), model.toBuilder().setGraph(g).build().toByteArray());
        Files.copy(source.resolve("config.json"), dir.resolve("config.json"));

        try (DecoderModel changed = DecoderModel.load(dir, RuntimeConfig.cpu(1));
             DecodeState state = changed.newDecodeState(CAPACITY, true)) {
            assertThat(changed.decodesInPlace()).isFalse();
            assertThat(state).isInstanceOf(CopyingDecodeState.class);
            assertThat(state.prefill(List.of(changed.embedTokens(prompts[0])))).hasSize(changed.config().vocabSize());
        }
    }

    @Test
    void shouldGivePyTorchsGreedyTokensInPlace() {
        JsonNode greedy = TestModels.reference("tiny-llama").get("greedy");
        int[] prompt = TestModels.ints(greedy.get("prompt_ids"));
        int[] expected = TestModels.ints(greedy.get("generated_ids"));
        int vocab = inPlace.config().vocabSize();
        List<Integer> tokens = new ArrayList<>();
        try (DecodeState state = inPlace.newDecodeState(prompt.length + expected.length, true)) {
            assertThat(state).isInstanceOf(InPlaceDecodeState.class);
            float[] logits = state.prefill(List.of(inPlace.embedTokens(prompt)));
            while (true) {
                int next = GreedyBatch.argmax(logits, 0, vocab);
                tokens.add(next);
                if (tokens.size() == expected.length) {
                    break;
                }
                logits = state.step(new int[]{next});
            }
        }
        assertThat(tokens).containsExactly(Arrays.stream(expected).boxed().toArray(Integer[]::new));
    }
}

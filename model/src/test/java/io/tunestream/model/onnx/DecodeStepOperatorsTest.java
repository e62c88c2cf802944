package io.tunestream.model.onnx;

import ai.onnx.proto.OnnxMl;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import com.fasterxml.jackson.databind.JsonNode;
import io.tunestream.model.TestModels;
import io.tunestream.model.graph.GroupQueryAttentionRewrite;
import io.tunestream.model.graph.RotaryCache;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A decoding step of demo-gpt2 runs few operators once its shape arithmetic is folded (issue 12, point 4),
 * and still gives PyTorch's tokens; one of tiny-llama in place runs few once its attention is GroupQueryAttention.
 */
class DecodeStepOperatorsTest {

    /** Operators ONNX Runtime runs for {@code graph} after its own optimisations (those of our sessions). */
    private static int operatorsAStep(OnnxMl.ModelProto graph, Path dir) throws OrtException, IOException {
        Path optimized = dir.resolve("optimized.onnx");
        try (OrtSession.SessionOptions options = OrtSessions.options(RuntimeConfig.cpu(1), ExecutionProvider.CPU)) {
            options.setOptimizedModelFilePath(optimized.toString());
            OrtSessions.create(LargeStack.environment(), "a decode graph", graph.toByteArray(), dir, false, options).close();
        }
        return OnnxMl.ModelProto.parseFrom(Files.readAllBytes(optimized)).getGraph().getNodeCount();
    }

    @Test
    void shouldRunAtMost120OperatorsADecodingStepOfDemoGpt2(@TempDir Path dir) throws Exception {
        DecoderModel.Parsed parsed = DecoderModel.parse(TestModels.model("demo-gpt2"));
        ModelConfig config = parsed.weights().config();
        OnnxMl.ModelProto serving = DecoderModel.servingGraph(parsed);
        OnnxMl.ModelProto unfolded = GroupQueryAttentionRewrite.rewrite(serving, config.layers(), config.heads(), config.kvHeads());

        int before = operatorsAStep(unfolded, Files.createDirectory(dir.resolve("before")));
        int after = operatorsAStep(DecoderModel.decodeGraph(serving, config), Files.createDirectory(dir.resolve("after")));

        // 238 before the folding (ONNX Runtime 1.29), 69 after: 4 layers x (4 Gemm with their 8 Reshapes,
        // attention, GELU, 2 layer norms), the final norm and reshape, the position embedding and the head
        assertThat(before).isGreaterThan(200);
        assertThat(after).isLessThanOrEqualTo(120);
    }

    @Test
    void shouldRunAtMost40OperatorsADecodingStepOfTinyLlamaInPlace(@TempDir Path dir) throws Exception {
        DecoderModel.Parsed parsed = DecoderModel.parse(TestModels.model("tiny-llama"));
        ModelConfig config = parsed.weights().config();
        OnnxMl.ModelProto serving = DecoderModel.servingGraph(parsed);
        OnnxMl.ModelProto unfolded = GroupQueryAttentionRewrite.rewrite(serving, config.layers(), config.heads(),
                config.kvHeads(), new RotaryCache(config.maxPositions(), config.headDim() / 2,
                        new float[config.maxPositions() * config.headDim() / 2], new float[config.maxPositions() * config.headDim() / 2]));

        int export = operatorsAStep(serving, Files.createDirectory(dir.resolve("export")));
        int before = operatorsAStep(unfolded, Files.createDirectory(dir.resolve("before")));
        int after = operatorsAStep(DecoderModel.decodeGraph(serving, config), Files.createDirectory(dir.resolve("after")));
        // ONNX Runtime 1.29: 253 for the export's step; 31 in place: 2 layers x (7 MatMul, GroupQueryAttention, 2 RMS
        // norms, 2 residual Adds, SiLU, the gate Mul), the final norm, the last-position Slice and the head. The
        // rewrite leaves no shape arithmetic, so the folding has nothing to do here.
        assertThat(export).isGreaterThan(200);
        assertThat(before).isLessThanOrEqualTo(40);
        assertThat(after).isEqualTo(before);
    }

    @Test
    void shouldGiveTheReferenceTokensFromTheFoldedDecodeGraph() {
        JsonNode greedy = TestModels.reference("demo-gpt2").get("greedy");
        int[] prompt = TestModels.ints(greedy.get("prompt_ids"));
        int[] expected = TestModels.ints(greedy.get("generated_ids"));
        try (DecoderModel model = DecoderModel.load(TestModels.model("demo-gpt2"), RuntimeConfig.cpu(1));
             DecodeState state = model.newDecodeState(prompt.length + expected.length, true)) {
            assertThat(state).isInstanceOf(InPlaceDecodeState.class);
            int vocab = model.config().vocabSize();
            List<Integer> tokens = new ArrayList<>();
            float[] logits = state.prefill(List.of(model.embedTokens(prompt)));
            while (true) {
                int next = 0;
                for (int i = 1; i < vocab; i++) {
                    next = logits[i] > logits[next] ? i : next;
                }
                tokens.add(next);
                if (tokens.size() == expected.length) {
                    break;
                }
                logits = state.step(new int[]{next});
            }
            assertThat(tokens).containsExactly(java.util.Arrays.stream(expected).boxed().toArray(Integer[]::new));
        }
    }
}

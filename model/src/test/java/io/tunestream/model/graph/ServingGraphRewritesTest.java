package io.tunestream.model.graph;

import ai.onnx.proto.OnnxMl;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import io.tunestream.model.TestModels;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/** The serving-only rewrites keep the numbers: last_logits is the last row of logits. */
class ServingGraphRewritesTest {

    private static final long[] IDS = {639, 82, 65, 295, 294, 17};

    private static OnnxMl.ModelProto gpt2() throws IOException {
        return OnnxMl.ModelProto.parseFrom(Files.readAllBytes(TestModels.model("tiny-gpt2").resolve("model.onnx")));
    }

    @Test
    void shouldSliceTheHeadInputSoLastLogitsEqualTheLastRowOfLogits() throws Exception {
        OnnxMl.ModelProto original = gpt2();
        OnnxMl.ModelProto serving = SingleInputConcatRemoval.rewrite(LastTokenLogits.rewrite(original));

        assertThat(serving.getGraph().getOutputList()).extracting(OnnxMl.ValueInfoProto::getName)
                .contains(LastTokenLogits.LAST_LOGITS).doesNotContain("logits");
        assertThat(serving.getGraph().getNodeList())
                .noneMatch(n -> n.getOpType().equals("Concat") && n.getInputCount() == 1);
        assertThat(run(serving, LastTokenLogits.LAST_LOGITS)).containsExactly(run(original, "logits"), within(1e-5f));
    }

    @Test
    void shouldSliceTheLogitsWhenTheHeadIsNotAMatMul() throws Exception {
        OnnxMl.ModelProto original = gpt2();
        // move the head's output behind an Identity, so that logits are not produced by a MatMul
        OnnxMl.GraphProto.Builder g = original.getGraph().toBuilder();
        for (int i = 0; i < g.getNodeCount(); i++) {
            if (g.getNode(i).getOutputList().contains("logits")) {
                g.setNode(i, g.getNode(i).toBuilder().setOutput(0, "head_out"));
            }
        }
        g.addNode(OnnxMl.NodeProto.newBuilder().setOpType("Identity").setName("id").addInput("head_out").addOutput("logits"));
        OnnxMl.ModelProto wrapped = original.toBuilder().setGraph(g).build();

        OnnxMl.ModelProto serving = LastTokenLogits.rewrite(wrapped);

        assertThat(serving.getGraph().getNodeList()).anyMatch(n -> n.getOpType().equals("Slice")
                && n.getInput(0).equals("logits"));
        assertThat(run(serving, LastTokenLogits.LAST_LOGITS)).containsExactly(run(original, "logits"), within(1e-5f));
    }

    @Test
    void shouldFuseEveryResidualAddAndLayerNormWithoutChangingTheLogits() throws Exception {
        OnnxMl.ModelProto original = gpt2();
        OnnxMl.ModelProto serving = LastTokenLogits.rewrite(original);

        OnnxMl.ModelProto fused = SkipLayerNormRewrite.rewrite(serving);

        // tiny-gpt2 has 2 layers: ln_1 and ln_2 of each, and ln_f
        assertThat(fused.getGraph().getNodeList()).filteredOn(n -> n.getOpType().equals("SkipLayerNormalization"))
                .hasSize(5).allMatch(n -> n.getDomain().equals("com.microsoft"));
        assertThat(fused.getGraph().getNodeList()).noneMatch(n -> n.getOpType().equals("LayerNormalization"));
        assertThat(run(fused, LastTokenLogits.LAST_LOGITS)).containsExactly(run(original, "logits"), within(1e-5f));
    }

    @Test
    void shouldLeaveAGraphWithoutTheAddAndLayerNormPatternUnchanged() throws Exception {
        OnnxMl.ModelProto llama = OnnxMl.ModelProto.parseFrom(
                Files.readAllBytes(TestModels.model("tiny-llama").resolve("model.onnx")));

        assertThat(SkipLayerNormRewrite.rewrite(llama)).isSameAs(llama);
    }

    @Test
    void shouldReplaceEachLayersAttentionByOneGroupQueryAttentionReadingNoMask() throws Exception {
        OnnxMl.ModelProto serving = SingleInputConcatRemoval.rewrite(LastTokenLogits.rewrite(gpt2()));

        OnnxMl.ModelProto decode = GroupQueryAttentionRewrite.rewrite(serving, 2, 4, 4);

        OnnxMl.GraphProto g = decode.getGraph();
        assertThat(g.getNodeList()).filteredOn(n -> n.getOpType().equals("GroupQueryAttention")).hasSize(2)
                .allSatisfy(n -> {
                    assertThat(n.getInput(3)).startsWith("past_key_values.");
                    assertThat(n.getOutputList()).contains("present." + n.getInput(3).charAt(16) + ".key");
                });
        assertThat(g.getInputList()).extracting(OnnxMl.ValueInfoProto::getName)
                .contains(GroupQueryAttentionRewrite.SEQLENS_K, GroupQueryAttentionRewrite.TOTAL_SEQUENCE_LENGTH)
                .doesNotContain("attention_mask");
        assertThat(g.getNodeList()).noneMatch(n -> n.getOpType().equals("Concat") && n.getOutput(0).startsWith("present."));
        assertThat(g.getNodeList()).noneMatch(n -> n.getOpType().equals("Softmax"));
    }

    @Test
    void shouldRefuseAnAttentionItDoesNotKnowNamingTheLayerAndTheNode() throws Exception {
        OnnxMl.ModelProto serving = SingleInputConcatRemoval.rewrite(LastTokenLogits.rewrite(gpt2()));
        OnnxMl.GraphProto.Builder g = serving.getGraph().toBuilder();
        for (int i = 0; i < g.getNodeCount(); i++) {
            if (g.getNode(i).getOpType().equals("Softmax")) {
                g.setNode(i, g.getNode(i).toBuilder().setOpType("LogSoftmax"));
            }
        }
        OnnxMl.ModelProto changed = serving.toBuilder().setGraph(g).build();
        OnnxMl.ModelProto llama = OnnxMl.ModelProto.parseFrom(
                Files.readAllBytes(TestModels.model("tiny-llama").resolve("model.onnx")));

        assertThatThrownBy(() -> GroupQueryAttentionRewrite.rewrite(changed, 2, 4, 4))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("layer 0").hasMessageContaining("Softmax").hasMessageContaining("LogSoftmax");
        assertThatThrownBy(() -> GroupQueryAttentionRewrite.rewrite(llama, 2, 4, 4))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("layer 0");
    }

    /** The last position's logits of {@code output} for {@link #IDS}. */
    private static float[] run(OnnxMl.ModelProto model, String output) throws OrtException {
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        long[] mask = new long[IDS.length];
        long[] pos = new long[IDS.length];
        for (int i = 0; i < IDS.length; i++) {
            mask[i] = 1;
            pos[i] = i;
        }
        List<OnnxTensor> owned = new ArrayList<>();
        try (OrtSession.SessionOptions options = new OrtSession.SessionOptions();
             OrtSession session = env.createSession(model.toByteArray(), options)) {
            Map<String, OnnxTensor> feeds = new HashMap<>();
            owned.add(OnnxTensor.createTensor(env, LongBuffer.wrap(IDS), new long[]{1, IDS.length}));
            feeds.put("input_ids", owned.get(owned.size() - 1));
            owned.add(OnnxTensor.createTensor(env, LongBuffer.wrap(mask), new long[]{1, IDS.length}));
            feeds.put("attention_mask", owned.get(owned.size() - 1));
            owned.add(OnnxTensor.createTensor(env, LongBuffer.wrap(pos), new long[]{1, IDS.length}));
            feeds.put("position_ids", owned.get(owned.size() - 1));
            for (var e : session.getInputInfo().entrySet()) {
                if (e.getKey().startsWith("past_key_values")) {
                    long[] shape = ((TensorInfo) e.getValue().getInfo()).getShape();
                    owned.add(OnnxTensor.createTensor(env, FloatBuffer.allocate(0), new long[]{1, shape[1], 0, shape[3]}));
                    feeds.put(e.getKey(), owned.get(owned.size() - 1));
                }
            }
            try (OrtSession.Result result = session.run(feeds, Set.of(output))) {
                float[][][] logits = (float[][][]) result.get(0).getValue();
                return logits[0][logits[0].length - 1];
            }
        } finally {
            owned.forEach(OnnxTensor::close);
        }
    }
}

package io.tunestream.model.graph;

import ai.onnx.proto.OnnxMl;
import io.tunestream.model.TestModels;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** Reshape targets of a decode step become constants where the input shapes determine them, and only there. */
class DecodeShapeFoldingTest {

    private static final long B = DecodeShapeFolding.BATCH;

    private static OnnxMl.ModelProto demoGpt2DecodeGraph() throws IOException {
        OnnxMl.ModelProto original = OnnxMl.ModelProto.parseFrom(Files.readAllBytes(TestModels.model("demo-gpt2").resolve("model.onnx")));
        OnnxMl.ModelProto serving = SkipLayerNormRewrite.rewrite(SingleInputConcatRemoval.rewrite(
                LastTokenLogits.rewrite(InputsEmbedsRewrite.rewrite(original).model())));
        return GroupQueryAttentionRewrite.rewrite(serving, 4, 8, 8);
    }

    private static Map<String, long[]> constantTargets(OnnxMl.ModelProto model) {
        Map<String, OnnxMl.TensorProto> initializers = new HashMap<>();
        model.getGraph().getInitializerList().forEach(t -> initializers.put(t.getName(), t));
        Map<String, long[]> targets = new HashMap<>();
        for (OnnxMl.NodeProto n : model.getGraph().getNodeList()) {
            if (n.getOpType().equals("Reshape") && initializers.containsKey(n.getInput(1))) {
                targets.put(n.getName(), TensorProtoReader.longs(initializers.get(n.getInput(1))));
            }
        }
        return targets;
    }

    @Test
    void shouldFoldEveryReshapeTargetOfTheGpt2DecodeStep() throws IOException {
        OnnxMl.ModelProto decode = demoGpt2DecodeGraph();
        long reshapes = decode.getGraph().getNodeList().stream().filter(n -> n.getOpType().equals("Reshape")).count();

        OnnxMl.ModelProto folded = DecodeShapeFolding.rewrite(decode, Map.of(
                "inputs_embeds", List.of(B, 1L, 256L), "position_ids", List.of(B, 1L)));

        Map<String, long[]> targets = constantTargets(folded);
        assertThat(targets).hasSize((int) reshapes);
        // GPT-2's Conv1D: [batch * sequence, in] before its Gemm, [batch, sequence, out] after
        assertThat(targets.get("/m/transformer/h.0/attn/c_attn/Reshape")).containsExactly(-1, 256);
        assertThat(targets.get("/m/transformer/h.0/attn/c_attn/Reshape_1")).containsExactly(-1, 1, 768);
        assertThat(targets.get("/m/transformer/h.2/mlp/c_proj/Reshape")).containsExactly(-1, 1024);
        assertThat(targets.get("/m/transformer/h.2/mlp/c_proj/Reshape_1")).containsExactly(-1, 1, 256);
        assertThat(folded.getGraph().getNodeList()).noneMatch(n -> n.getOpType().equals("Shape"));
        assertThat(folded.getGraph().getNodeCount()).isLessThan(decode.getGraph().getNodeCount() / 3);
    }

    @Test
    void shouldLeaveTargetsThatDependOnAnUnknownSize() throws IOException {
        OnnxMl.ModelProto decode = demoGpt2DecodeGraph();

        // the sequence length is not given: no target of the form [batch, sequence, out] is determined
        OnnxMl.ModelProto folded = DecodeShapeFolding.rewrite(decode, Map.of("inputs_embeds", Arrays.asList(B, null, 256L)));

        Map<String, long[]> targets = constantTargets(folded);
        assertThat(targets.get("/m/transformer/h.0/attn/c_attn/Reshape")).containsExactly(-1, 256);
        assertThat(targets).doesNotContainKey("/m/transformer/h.0/attn/c_attn/Reshape_1");
        assertThat(DecodeShapeFolding.rewrite(decode, Map.of())).isSameAs(decode);
    }

    @Test
    void shouldWriteTheBatchAsZeroWhenTheTargetAlreadyInfersADimension() {
        // Reshape(x [batch, 6], Concat(Shape(x)[0], [-1], [2])) -> [0, -1, 2]
        OnnxMl.GraphProto.Builder g = OnnxMl.GraphProto.newBuilder()
                .addInput(OnnxMl.ValueInfoProto.newBuilder().setName("x"))
                .addOutput(OnnxMl.ValueInfoProto.newBuilder().setName("y"))
                .addInitializer(ints("zero", 0)).addInitializer(ints("axes", 0)).addInitializer(ints("rest", -1, 2))
                .addNode(node("Shape", "shape", "x"))
                .addNode(node("Gather", "batch", "shape", "zero"))
                .addNode(node("Concat", "target", "batch", "rest").toBuilder().addAttribute(OnnxMl.AttributeProto.newBuilder()
                        .setName("axis").setType(OnnxMl.AttributeProto.AttributeType.INT).setI(0)))
                .addNode(node("Reshape", "y", "x", "target"));
        OnnxMl.ModelProto model = OnnxMl.ModelProto.newBuilder().setGraph(g).build();

        OnnxMl.ModelProto folded = DecodeShapeFolding.rewrite(model, Map.of("x", List.of(B, 6L)));

        assertThat(folded.getGraph().getNodeList()).extracting(OnnxMl.NodeProto::getOpType).containsExactly("Reshape");
        assertThat(constantTargets(folded).values()).singleElement().satisfies(t -> assertThat(t).containsExactly(0, -1, 2));
    }

    private static OnnxMl.TensorProto ints(String name, long... values) {
        OnnxMl.TensorProto.Builder t = OnnxMl.TensorProto.newBuilder().setName(name)
                .setDataType(OnnxMl.TensorProto.DataType.INT64.getNumber()).addDims(values.length);
        for (long v : values) {
            t.addInt64Data(v);
        }
        return t.build();
    }

    private static OnnxMl.NodeProto node(String op, String output, String... inputs) {
        OnnxMl.NodeProto.Builder n = OnnxMl.NodeProto.newBuilder().setOpType(op).setName(output).addOutput(output);
        for (String in : inputs) {
            n.addInput(in);
        }
        return n.build();
    }
}

package io.tunestream.model.graph;

import static org.assertj.core.api.Assertions.assertThat;

import ai.onnx.proto.OnnxMl;
import org.junit.jupiter.api.Test;

class UnreadInitializersTest {

    private static OnnxMl.TensorProto constant(String name) {
        return OnnxMl.TensorProto.newBuilder().setName(name).setDataType(OnnxMl.TensorProto.DataType.INT64.getNumber())
                .addDims(1).addInt64Data(1).build();
    }

    private static OnnxMl.NodeProto add(String a, String b, String out) {
        return OnnxMl.NodeProto.newBuilder().setOpType("Add").addInput(a).addInput(b).addOutput(out).build();
    }

    @Test
    void shouldDropOnlyTheInitializersNothingReads() {
        // "inner" is read only inside an If branch, "direct" is a graph output, "read" by a node, "left" by nothing
        OnnxMl.GraphProto branch = OnnxMl.GraphProto.newBuilder().addNode(add("x", "inner", "z"))
                .addOutput(OnnxMl.ValueInfoProto.newBuilder().setName("z")).build();
        OnnxMl.GraphProto graph = OnnxMl.GraphProto.newBuilder()
                .addInput(OnnxMl.ValueInfoProto.newBuilder().setName("x"))
                .addInitializer(constant("read")).addInitializer(constant("inner")).addInitializer(constant("direct"))
                .addInitializer(constant("left"))
                .addNode(add("x", "read", "y"))
                .addNode(OnnxMl.NodeProto.newBuilder().setOpType("If").addInput("cond").addOutput("w")
                        .addAttribute(OnnxMl.AttributeProto.newBuilder().setName("then_branch").setG(branch)))
                .addOutput(OnnxMl.ValueInfoProto.newBuilder().setName("y"))
                .addOutput(OnnxMl.ValueInfoProto.newBuilder().setName("direct")).build();
        OnnxMl.ModelProto model = OnnxMl.ModelProto.newBuilder().setGraph(graph).build();

        OnnxMl.ModelProto cleaned = UnreadInitializers.removed(model);

        assertThat(cleaned.getGraph().getInitializerList()).extracting(OnnxMl.TensorProto::getName)
                .containsExactly("read", "inner", "direct");
        assertThat(cleaned.getGraph().getNodeList()).isEqualTo(graph.getNodeList());
        assertThat(UnreadInitializers.removed(cleaned)).as("nothing left to drop: the same model").isSameAs(cleaned);
    }
}

package io.tunestream.model.autodiff;

import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.OperatorSetIdProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.TypeProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto.Builder;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class GradientGraphBuilderTest {

    private static Builder floatValue(String name) {
        return ValueInfoProto.newBuilder().setName(name).setType(TypeProto.newBuilder().setTensorType(
                TypeProto.Tensor.newBuilder().setElemType(TensorProto.DataType.FLOAT.getNumber())));
    }

    private static NodeProto node(String op, String name, List<String> inputs, String output) {
        return NodeProto.newBuilder().setOpType(op).setName(name).addAllInput(inputs).addOutput(output).build();
    }

    /** x → Cos → c; c·w → y (loss); x → Sin → unused output s; w frozen. */
    private static ModelProto model(String firstOp) {
        GraphProto graph = GraphProto.newBuilder()
                .addInput(floatValue("x")).addInput(floatValue("w"))
                .addNode(node(firstOp, "first", List.of("x"), "c"))
                .addNode(node("Mul", "scale", List.of("c", "w"), "y"))
                .addNode(node("Sin", "side", List.of("x"), "s"))
                .addOutput(floatValue("y")).addOutput(floatValue("s"))
                .build();
        return ModelProto.newBuilder().setIrVersion(8)
                .addOpsetImport(OperatorSetIdProto.newBuilder().setVersion(17)).setGraph(graph).build();
    }

    @Test
    void shouldThrowNamingOpAndNodeWhenAnOpOnThePathHasNoRule() {
        assertThatThrownBy(() -> GradientGraphBuilder.build(model("Cos"), Set.of("x"), "y"))
                .isInstanceOf(GradientGraphException.class)
                .hasMessageStartingWith("no gradient rule for op Cos (node 'first') on the path from [x] to [y]");
    }

    @Test
    void shouldIgnoreOpsWithoutRuleOffThePath() {
        // Sin has no rule but only feeds the output 's', which is not differentiated
        ModelProto gradient = GradientGraphBuilder.build(model("Tanh"), Set.of("x"), "y");

        assertThat(gradient.getGraph().getOutputList()).extracting(ValueInfoProto::getName)
                .containsExactly("y", "grad.x");
        assertThat(gradient.getGraph().getNodeList()).extracting(NodeProto::getOpType).doesNotContain("Sin");
    }

    @Test
    void shouldNotDifferentiateFrozenInputs() {
        ModelProto gradient = GradientGraphBuilder.build(model("Neg"), Set.of("x"), "y");

        // d y / d c = w is emitted; nothing multiplies by c (d y / d w = c would), only c's shape is read
        List<NodeProto> backward = gradient.getGraph().getNodeList().stream()
                .filter(n -> n.getName().startsWith("/tunestream/autodiff/")).toList();
        assertThat(backward).filteredOn(n -> n.getInputList().contains("c"))
                .extracting(NodeProto::getOpType).containsOnly("Shape");
        assertThat(backward).filteredOn(n -> n.getOpType().equals("Mul")).isNotEmpty();
    }

    @Test
    void shouldSkipTheRunTimeUnbroadcastWhereShapesProvablyMatch() {
        TensorProto half = TensorProto.newBuilder().setName("half").setDataType(TensorProto.DataType.FLOAT.getNumber())
                .addFloatData(0.5f).build();
        GraphProto graph = GraphProto.newBuilder()
                .addInput(floatValue("x")).addInitializer(half)
                .addNode(node("Tanh", "t", List.of("x"), "t"))
                .addNode(node("Mul", "scaled", List.of("t", "half"), "s"))
                .addNode(node("Add", "sum", List.of("s", "t"), "y"))
                .addOutput(floatValue("y"))
                .build();
        ModelProto model = ModelProto.newBuilder().setIrVersion(8)
                .addOpsetImport(OperatorSetIdProto.newBuilder().setVersion(17)).setGraph(graph).build();

        ModelProto gradient = GradientGraphBuilder.build(model, Set.of("x"), "y");

        assertThat(gradient.getGraph().getNodeList()).extracting(NodeProto::getOpType).doesNotContain("ReduceSum");
    }

    @Test
    void shouldUnbroadcastAtRunTimeWhenAnOperandMayHaveBeenBroadcast() {
        ModelProto gradient = GradientGraphBuilder.build(model("Tanh"), Set.of("x", "w"), "y");

        // c · w with two graph inputs of unknown shapes: each gradient is summed back at run time
        assertThat(gradient.getGraph().getNodeList()).extracting(NodeProto::getOpType)
                .filteredOn("ReduceSum"::equals).hasSize(2);
    }

    /** GPT-2's gelu_new as exported: (x·0.5)·(1 + tanh(k·(x + c·x³))). */
    private static ModelProto tanhGelu() {
        GraphProto.Builder g = GraphProto.newBuilder().addInput(floatValue("x")).addOutput(floatValue("y"));
        String[] names = {"half", "three", "c", "k", "one"};
        float[] values = {0.5f, 3f, 0.044715f, 0.7978846f, 1f};
        for (int i = 0; i < names.length; i++) {
            g.addInitializer(TensorProto.newBuilder().setName(names[i]).setDataType(TensorProto.DataType.FLOAT.getNumber())
                    .addFloatData(values[i]));
        }
        g.addNode(node("Mul", "m0", List.of("x", "half"), "m0"))
                .addNode(node("Pow", "p", List.of("x", "three"), "p"))
                .addNode(node("Mul", "m1", List.of("p", "c"), "m1"))
                .addNode(node("Add", "a0", List.of("x", "m1"), "a0"))
                .addNode(node("Mul", "m2", List.of("a0", "k"), "m2"))
                .addNode(node("Tanh", "t", List.of("m2"), "t"))
                .addNode(node("Add", "a1", List.of("t", "one"), "a1"))
                .addNode(node("Mul", "y", List.of("m0", "a1"), "y"));
        return ModelProto.newBuilder().setIrVersion(8)
                .addOpsetImport(OperatorSetIdProto.newBuilder().setVersion(17)).setGraph(g).build();
    }

    @Test
    void shouldDifferentiateTheTanhGeluAsAWholeSoItsForwardStaysFusable() {
        ModelProto gradient = GradientGraphBuilder.build(tanhGelu(), Set.of("x"), "y");

        List<NodeProto> backward = gradient.getGraph().getNodeList().stream()
                .filter(n -> n.getName().startsWith("/tunestream/autodiff/")).toList();
        assertThat(backward).allSatisfy(n -> assertThat(n.getInputList())
                .doesNotContainAnyElementsOf(List.of("m0", "p", "m1", "a0", "m2", "t", "a1")));
    }

    @Test
    void shouldDifferentiateTheGeluNodeByNodeWhenAnIntermediateHasAnotherReader() {
        ModelProto model = tanhGelu();
        ModelProto tapped = model.toBuilder().setGraph(model.getGraph().toBuilder().addOutput(floatValue("t"))).build();

        ModelProto gradient = GradientGraphBuilder.vectorJacobianProduct(tapped, Set.of("x"), Set.of("y", "t"), List.of());

        // the gradient reaching t from outside the pattern must not be lost: the per-node rules run
        assertThat(gradient.getGraph().getNodeList()).extracting(NodeProto::getInputList)
                .anySatisfy(inputs -> assertThat(inputs).contains("grad.t"));
    }

    @Test
    void shouldRejectATrainableInputTheGraphDoesNotHave() {
        assertThatThrownBy(() -> GradientGraphBuilder.build(model("Tanh"), Set.of("virtual"), "y"))
                .isInstanceOf(GradientGraphException.class)
                .hasMessage("trainable input 'virtual' is not an input of the graph (inputs: [x, w])");
    }

    @Test
    void shouldRejectALossTheGraphDoesNotOutput() {
        assertThatThrownBy(() -> GradientGraphBuilder.build(model("Tanh"), Set.of("x"), "loss"))
                .isInstanceOf(GradientGraphException.class)
                .hasMessage("output 'loss' to differentiate is not an output of the graph (outputs: [y, s])");
    }

    @Test
    void shouldTakeTheSeedOfAVectorJacobianProductAsAnInput() {
        ModelProto vjp = GradientGraphBuilder.vectorJacobianProduct(model("Tanh"), Set.of("x"), Set.of("y"), List.of());

        assertThat(vjp.getGraph().getInputList()).extracting(ValueInfoProto::getName).contains("grad.y");
        assertThat(vjp.getGraph().getOutputList()).extracting(ValueInfoProto::getName).containsExactly("grad.x");
    }
}

package io.tunestream.model.graph;

import ai.onnx.proto.OnnxMl;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The decode-chunk graph's structure, and the graphs it refuses to wrap (which keep the step path). */
class DecodeChunkGraphTest {

    private static OnnxMl.ModelProto serving(InputsEmbedsRewrite.Rewritten rewritten) {
        return LastTokenLogits.rewrite(rewritten.model());
    }

    @Test
    void shouldRunTheStepInALoopWhoseBodyHoldsTheWeights() {
        InputsEmbedsRewrite.Rewritten rewritten = TinyGpt2Graphs.rewritten();
        OnnxMl.ModelProto serving = serving(rewritten);

        OnnxMl.ModelProto chunk = DecodeChunkGraph.wrap(serving, 2, rewritten.embeddingTable(), 1024, List.of(0));

        OnnxMl.GraphProto outer = chunk.getGraph();
        List<OnnxMl.NodeProto> loops = outer.getNodeList().stream().filter(n -> n.getOpType().equals("Loop")).toList();
        assertThat(loops).hasSize(1);
        OnnxMl.GraphProto body = loops.get(0).getAttribute(0).getG();
        // every weight of the step is the body's; the outer graph holds only the wrapper's small constants
        assertThat(body.getInitializerList()).extracting(OnnxMl.TensorProto::getName)
                .containsAll(serving.getGraph().getInitializerList().stream().map(OnnxMl.TensorProto::getName).toList());
        assertThat(outer.getInitializerList()).allSatisfy(t -> assertThat(t.getName()).startsWith("/tunestream/chunk/"));
        assertThat(outer.getInputList()).extracting(OnnxMl.ValueInfoProto::getName).contains(DecodeChunkGraph.TOKEN,
                DecodeChunkGraph.ATTENTION_MASK, DecodeChunkGraph.UNIFORMS, DecodeChunkGraph.pastInput(1, "value"));
        assertThat(outer.getOutputList()).extracting(OnnxMl.ValueInfoProto::getName).containsExactly(
                DecodeChunkGraph.presentOutput(0, "key"), DecodeChunkGraph.presentOutput(0, "value"),
                DecodeChunkGraph.presentOutput(1, "key"), DecodeChunkGraph.presentOutput(1, "value"), DecodeChunkGraph.TOKENS);
        // loop-carried: token, position, mask, finished, seen, then the cache; one scan output
        assertThat(body.getInputCount()).isEqualTo(2 + 5 + 4);
        assertThat(body.getOutputCount()).isEqualTo(1 + 5 + 4 + 1);
    }

    @Test
    void shouldRefuseAStepWithoutLastLogits() {
        InputsEmbedsRewrite.Rewritten rewritten = TinyGpt2Graphs.rewritten();

        assertThatThrownBy(() -> DecodeChunkGraph.wrap(rewritten.model(), 2, rewritten.embeddingTable(), 1024, List.of(0)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("the serving graph has no output 'last_logits'");
    }

    @Test
    void shouldRefuseAnOpsetWithoutShapeChangingLoops() {
        InputsEmbedsRewrite.Rewritten rewritten = TinyGpt2Graphs.rewritten();
        OnnxMl.ModelProto serving = serving(rewritten);
        OnnxMl.ModelProto.Builder old = serving.toBuilder().clearOpsetImport();
        old.addOpsetImport(OnnxMl.OperatorSetIdProto.newBuilder().setDomain("").setVersion(10));

        assertThatThrownBy(() -> DecodeChunkGraph.wrap(old.build(), 2, rewritten.embeddingTable(), 1024, List.of(0)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("opset 10 is older than 11");
    }

    @Test
    void shouldRefuseAStepThatUsesTheWrappersNames() {
        InputsEmbedsRewrite.Rewritten rewritten = TinyGpt2Graphs.rewritten();
        OnnxMl.ModelProto serving = serving(rewritten);
        OnnxMl.GraphProto.Builder g = serving.getGraph().toBuilder();
        g.addNode(OnnxMl.NodeProto.newBuilder().setOpType("Identity").addInput("position_ids").addOutput("chunk.tokens"));

        assertThatThrownBy(() -> DecodeChunkGraph.wrap(serving.toBuilder().setGraph(g).build(), 2,
                rewritten.embeddingTable(), 1024, List.of(0)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("the serving graph already has a tensor named 'chunk.tokens'");
    }
}

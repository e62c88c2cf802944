package io.tunestream.model.graph;

import ai.onnx.proto.OnnxMl;
import org.junit.jupiter.api.Test;

import java.util.List;

import static io.tunestream.model.graph.TinyGpt2Graphs.LAYERS;
import static io.tunestream.model.graph.TinyGpt2Graphs.HEAD_DIM;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The decode-chunk graph that reads its past: what the loop carries, what its body reads, what it refuses. */
class ChunkSegmentAttentionTest {


    @Test
    void shouldCarryOnlyTheChunksKeysAndValuesAndReadThePastWithoutCopyingIt() {
        InputsEmbedsRewrite.Rewritten rewritten = TinyGpt2Graphs.rewritten();

        OnnxMl.ModelProto chunk = ChunkSegmentAttention.wrap(TinyGpt2Graphs.decode(rewritten), LAYERS, HEAD_DIM, rewritten.embeddingTable(),
                1024, List.of(0));

        OnnxMl.GraphProto outer = chunk.getGraph();
        assertThat(outer.getInputList()).extracting(OnnxMl.ValueInfoProto::getName)
                .contains(DecodeChunkGraph.SEQLENS, DecodeChunkGraph.pastInput(0, "key"), DecodeChunkGraph.pastInput(1, "value"))
                .doesNotContain(GroupQueryAttentionRewrite.TOTAL_SEQUENCE_LENGTH);
        assertThat(outer.getOutputList()).extracting(OnnxMl.ValueInfoProto::getName).containsExactly(
                DecodeChunkGraph.chunkOutput(0, "key"), DecodeChunkGraph.chunkOutput(0, "value"),
                DecodeChunkGraph.chunkOutput(1, "key"), DecodeChunkGraph.chunkOutput(1, "value"), DecodeChunkGraph.TOKENS);
        OnnxMl.GraphProto body = outer.getNodeList().stream().filter(n -> n.getOpType().equals("Loop")).findFirst()
                .orElseThrow().getAttribute(0).getG();
        // loop-carried: token, position, lengths, finished, seen, then each layer's chunk keys and values
        assertThat(body.getInputCount()).isEqualTo(2 + 5 + 2 * LAYERS);
        assertThat(body.getNodeList()).noneMatch(n -> n.getOpType().equals("GroupQueryAttention"));
        // the past is read by the products alone, in place: no node of a step copies, transposes or slices it
        List<OnnxMl.NodeProto> readers = body.getNodeList().stream()
                .filter(n -> n.getInputList().stream().anyMatch(i -> i.startsWith("chunk.past_key_values."))).toList();
        assertThat(readers).extracting(OnnxMl.NodeProto::getOpType)
                .containsExactlyInAnyOrder("FusedMatMul", "MatMul", "FusedMatMul", "MatMul");
        assertThat(readers.stream().filter(n -> n.getOpType().equals("FusedMatMul")))
                .allSatisfy(n -> assertThat(n.getAttributeList()).anyMatch(a -> a.getName().equals("transB") && a.getI() == 1));
        // outside the loop nothing copies the past either: it is read for its shape and for empty slices only
        assertThat(outer.getNodeList().stream().filter(n -> n.getInputList().stream()
                .anyMatch(i -> i.startsWith("chunk.past_key_values."))).map(OnnxMl.NodeProto::getOpType).distinct())
                .containsExactlyInAnyOrder("Shape", "Slice");
    }

    @Test
    void shouldRefuseALayerWithoutGroupQueryAttention() {
        InputsEmbedsRewrite.Rewritten rewritten = TinyGpt2Graphs.rewritten();
        OnnxMl.ModelProto decode = TinyGpt2Graphs.decode(rewritten);
        OnnxMl.GraphProto.Builder g = decode.getGraph().toBuilder().clearNode();
        decode.getGraph().getNodeList().stream()
                .filter(n -> !(n.getOpType().equals("GroupQueryAttention") && n.getInput(3).equals("past_key_values.1.key")))
                .forEach(g::addNode);

        assertThatThrownBy(() -> ChunkSegmentAttention.wrap(decode.toBuilder().setGraph(g).build(), LAYERS, HEAD_DIM,
                rewritten.embeddingTable(), 1024, List.of(0)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("layer 1 has no GroupQueryAttention reading past_key_values.1.key");
    }
}

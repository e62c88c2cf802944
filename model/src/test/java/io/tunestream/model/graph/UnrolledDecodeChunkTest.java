package io.tunestream.model.graph;

import ai.onnx.proto.OnnxMl;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static io.tunestream.model.graph.TinyGpt2Graphs.LAYERS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The unrolled decode chunk: no Loop, every copy's attention reading the previous copy's present output. */
class UnrolledDecodeChunkTest {

    private static final int COPIES = 3;

    @Test
    void shouldChainEveryCopysAttentionThroughPresentOutputsWithoutALoop() {
        InputsEmbedsRewrite.Rewritten rewritten = TinyGpt2Graphs.rewritten();

        OnnxMl.ModelProto chunk = UnrolledDecodeChunk.wrap(TinyGpt2Graphs.decode(rewritten), LAYERS, rewritten.embeddingTable(), 1024,
                List.of(0), COPIES);

        OnnxMl.GraphProto graph = chunk.getGraph();
        assertThat(graph.getNodeList()).noneMatch(n -> n.getOpType().equals("Loop"));
        assertThat(graph.getInputList()).extracting(OnnxMl.ValueInfoProto::getName)
                .contains(DecodeChunkGraph.TOKEN, DecodeChunkGraph.SEQLENS, GroupQueryAttentionRewrite.TOTAL_SEQUENCE_LENGTH,
                        DecodeChunkGraph.UNIFORMS, DecodeChunkGraph.pastInput(0, "key"), DecodeChunkGraph.pastInput(1, "value"))
                .doesNotContain(DecodeChunkGraph.MAX_STEPS);
        List<String> expectedOutputs = new ArrayList<>();
        for (int copy = 0; copy < COPIES; copy++) {
            for (int layer = 0; layer < LAYERS; layer++) {
                expectedOutputs.add(UnrolledDecodeChunk.presentOutput(copy, layer, "key"));
                expectedOutputs.add(UnrolledDecodeChunk.presentOutput(copy, layer, "value"));
            }
        }
        expectedOutputs.add(DecodeChunkGraph.TOKENS);
        expectedOutputs.add(UnrolledDecodeChunk.GOING);
        assertThat(graph.getOutputList()).extracting(OnnxMl.ValueInfoProto::getName).containsExactlyElementsOf(expectedOutputs);
        // copy j's attention reads copy j-1's present (the graph output the caller pins to the buffers) and writes its
        // own: past and present are one memory at every copy
        List<OnnxMl.NodeProto> attention = graph.getNodeList().stream()
                .filter(n -> n.getOpType().equals("GroupQueryAttention")).toList();
        assertThat(attention).hasSize(COPIES * LAYERS);
        for (int copy = 0; copy < COPIES; copy++) {
            for (int layer = 0; layer < LAYERS; layer++) {
                OnnxMl.NodeProto gqa = attention.get(copy * LAYERS + layer);
                // GroupQueryAttention: query, key, value, past_key, past_value, seqlens_k, total_sequence_length, ...
                assertThat(gqa.getInput(3)).isEqualTo(copy == 0 ? DecodeChunkGraph.pastInput(layer, "key")
                        : UnrolledDecodeChunk.presentOutput(copy - 1, layer, "key"));
                assertThat(gqa.getInput(4)).isEqualTo(copy == 0 ? DecodeChunkGraph.pastInput(layer, "value")
                        : UnrolledDecodeChunk.presentOutput(copy - 1, layer, "value"));
                assertThat(gqa.getOutput(1)).isEqualTo(UnrolledDecodeChunk.presentOutput(copy, layer, "key"));
                assertThat(gqa.getOutput(2)).isEqualTo(UnrolledDecodeChunk.presentOutput(copy, layer, "value"));
            }
        }
        // the weights once, shared by the copies
        long matrices = graph.getInitializerList().stream().map(OnnxMl.TensorProto::getName).distinct().count();
        assertThat(matrices).isEqualTo(graph.getInitializerCount());
    }

    @Test
    void shouldRefuseAStepWithoutGroupQueryAttentionsLengths() {
        InputsEmbedsRewrite.Rewritten rewritten = TinyGpt2Graphs.rewritten();

        assertThatThrownBy(() -> UnrolledDecodeChunk.wrap(LastTokenLogits.rewrite(rewritten.model()), LAYERS,
                rewritten.embeddingTable(), 1024, List.of(0), COPIES))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("seqlens_k");
    }
}

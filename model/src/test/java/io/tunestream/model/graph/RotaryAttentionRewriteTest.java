package io.tunestream.model.graph;

import ai.onnx.proto.OnnxMl;
import io.tunestream.model.TestModels;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The decode-step rewrite of a Llama attention (rotary embeddings, separate projections, grouped KV heads)
 * into GroupQueryAttention, and its refusals. The numbers are checked against the export's attention in
 * {@code RotaryInPlaceDecodingTest}.
 */
class RotaryAttentionRewriteTest {

    private static final int LAYERS = 2;
    private static final int HEADS = 4;
    private static final int KV_HEADS = 2;
    private static final int HEAD_DIM = 16;

    /** tiny-llama as DecoderModel serves it. */
    static OnnxMl.ModelProto llamaServing() throws IOException {
        OnnxMl.ModelProto original = OnnxMl.ModelProto.parseFrom(
                Files.readAllBytes(TestModels.model("tiny-llama").resolve("model.onnx")));
        return SkipLayerNormRewrite.rewrite(SingleInputConcatRemoval.rewrite(
                LastTokenLogits.rewrite(InputsEmbedsRewrite.rewrite(original).model())));
    }

    /** Caches of the right size whose values do not matter to the structure. */
    private static RotaryCache someCache(int positions) {
        return new RotaryCache(positions, HEAD_DIM / 2, new float[positions * HEAD_DIM / 2], new float[positions * HEAD_DIM / 2]);
    }

    private static OnnxMl.AttributeProto attribute(OnnxMl.NodeProto node, String name) {
        return node.getAttributeList().stream().filter(a -> a.getName().equals(name)).findFirst().orElseThrow();
    }

    @Test
    void shouldReplaceEachLayersAttentionByGroupQueryAttentionRotatingWithTheCaches() throws IOException {
        OnnxMl.ModelProto decode = GroupQueryAttentionRewrite.rewrite(llamaServing(), LAYERS, HEADS, KV_HEADS, someCache(256));

        OnnxMl.GraphProto g = decode.getGraph();
        List<OnnxMl.NodeProto> attention = g.getNodeList().stream()
                .filter(n -> n.getOpType().equals("GroupQueryAttention")).toList();
        assertThat(attention).hasSize(LAYERS);
        for (int i = 0; i < LAYERS; i++) {
            OnnxMl.NodeProto n = attention.get(i);
            // the separate projections feed the operator unsplit, [batch, 1, heads * head_dim]
            assertThat(n.getInputList().subList(0, 3)).containsExactly("/m/model/layers." + i + "/self_attn/q_proj/MatMul_output_0",
                    "/m/model/layers." + i + "/self_attn/k_proj/MatMul_output_0",
                    "/m/model/layers." + i + "/self_attn/v_proj/MatMul_output_0");
            assertThat(n.getInputList().subList(3, 10)).containsExactly("past_key_values." + i + ".key",
                    "past_key_values." + i + ".value", GroupQueryAttentionRewrite.SEQLENS_K,
                    GroupQueryAttentionRewrite.TOTAL_SEQUENCE_LENGTH, "/tunestream/gqa/cos_cache", "/tunestream/gqa/sin_cache",
                    "position_ids");
            assertThat(attribute(n, "num_heads").getI()).isEqualTo(HEADS);
            assertThat(attribute(n, "kv_num_heads").getI()).isEqualTo(KV_HEADS);
            assertThat(attribute(n, "do_rotary").getI()).isEqualTo(1);
            assertThat(attribute(n, "rotary_interleaved").getI()).isZero();
            assertThat(attribute(n, "scale").getF()).isEqualTo(0.25f);
        }
        assertThat(g.getInitializerList()).filteredOn(t -> t.getName().startsWith("/tunestream/gqa/"))
                .allSatisfy(t -> assertThat(t.getDimsList()).containsExactly(256L, (long) HEAD_DIM / 2));
        // the export's rotation, its tables, the repeated heads and the mask are gone
        assertThat(g.getNodeList()).extracting(OnnxMl.NodeProto::getOpType)
                .doesNotContain("Cos", "Sin", "Neg", "Expand", "Softmax");
        assertThat(g.getInputList()).extracting(OnnxMl.ValueInfoProto::getName).doesNotContain("attention_mask");
    }

    @Test
    void shouldCutOutTheExportsRotaryTablesAsAGraphOfThePositionIdsAlone() throws IOException {
        OnnxMl.ModelProto tables = GroupQueryAttentionRewrite.rotaryTables(llamaServing(), LAYERS, HEADS, KV_HEADS, 256)
                .orElseThrow();

        OnnxMl.GraphProto g = tables.getGraph();
        assertThat(g.getInputList()).extracting(OnnxMl.ValueInfoProto::getName).containsExactly("position_ids");
        assertThat(g.getInput(0).getType().getTensorType().getShape().getDimList())
                .extracting(OnnxMl.TensorShapeProto.Dimension::getDimValue).containsExactly(1L, 256L);
        assertThat(g.getOutputList()).extracting(OnnxMl.ValueInfoProto::getName)
                .containsExactly(GroupQueryAttentionRewrite.TABLE_COS, GroupQueryAttentionRewrite.TABLE_SIN);
        assertThat(g.getNodeList()).extracting(OnnxMl.NodeProto::getOpType).contains("Cos", "Sin").doesNotContain("Softmax");
        // nothing of the layers: the one MatMul is the rotary embedding's (inverse frequencies times positions)
        assertThat(g.getNodeList()).filteredOn(n -> n.getOpType().equals("MatMul")).hasSize(1)
                .allMatch(n -> n.getName().contains("rotary_emb"));
        assertThat(g.getInitializerList()).noneMatch(t -> t.getName().contains("layers"));
    }

    @Test
    void shouldFindNoRotaryTablesInGpt2() throws IOException {
        OnnxMl.ModelProto gpt2 = OnnxMl.ModelProto.parseFrom(
                Files.readAllBytes(TestModels.model("tiny-gpt2").resolve("model.onnx")));
        OnnxMl.ModelProto serving = SingleInputConcatRemoval.rewrite(LastTokenLogits.rewrite(gpt2));

        assertThat(GroupQueryAttentionRewrite.rotaryTables(serving, 2, 4, 4, 64)).isEmpty();
        assertThatThrownBy(() -> GroupQueryAttentionRewrite.rewrite(serving, 2, 4, 4, someCache(64)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("cos/sin caches given for an attention without rotary embeddings");
    }

    @Test
    void shouldRefuseARotatingAttentionWithoutCaches() throws IOException {
        OnnxMl.ModelProto serving = llamaServing();

        assertThatThrownBy(() -> GroupQueryAttentionRewrite.rewrite(serving, LAYERS, HEADS, KV_HEADS))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("the attention applies rotary embeddings: the rewrite needs their cos/sin caches");
    }

    @Test
    void shouldRefuseARotationOtherThanRotateHalfNamingTheLayer() throws IOException {
        OnnxMl.ModelProto serving = llamaServing();
        // Concat(x1, -x2) instead of Concat(-x2, x1): the rotation GroupQueryAttention's caches cannot express
        OnnxMl.GraphProto.Builder g = serving.getGraph().toBuilder();
        for (int i = 0; i < g.getNodeCount(); i++) {
            OnnxMl.NodeProto n = g.getNode(i);
            if (n.getName().equals("/m/model/layers.0/self_attn/Concat_4")) {
                g.setNode(i, n.toBuilder().setInput(0, n.getInput(1)).setInput(1, n.getInput(0)));
            }
        }
        OnnxMl.ModelProto changed = serving.toBuilder().setGraph(g).build();

        assertThatThrownBy(() -> GroupQueryAttentionRewrite.rotaryTables(changed, LAYERS, HEADS, KV_HEADS, 256))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("layer 0: new keys: /m/model/layers.0/self_attn/Add_1 adds two products, but not "
                        + "x * cos + rotate_half(x) * sin");
    }

    @Test
    void shouldRefuseGroupsThatDoNotDivideTheHeads() throws IOException {
        OnnxMl.ModelProto serving = llamaServing();

        assertThatThrownBy(() -> GroupQueryAttentionRewrite.rewrite(serving, LAYERS, HEADS, 3, someCache(256)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("4 query heads do not group over 3 key/value heads");
    }

    @Test
    void shouldTakeTheFirstHalfOfRotateHalfTables() {
        // two positions, head_dim 4: each row is [a, b, a, b]
        float[] cos = {1f, 1f, 1f, 1f, 0.5f, 0.9f, 0.5f, 0.9f};
        float[] sin = {0f, 0f, 0f, 0f, 0.8f, 0.4f, 0.8f, 0.4f};

        RotaryCache cache = RotaryCache.fromTables(cos, sin, 2, 4);

        assertThat(cache.positions()).isEqualTo(2);
        assertThat(cache.halfDim()).isEqualTo(2);
        assertThat(cache.cos()).containsExactly(1f, 1f, 0.5f, 0.9f);
        assertThat(cache.sin()).containsExactly(0f, 0f, 0.8f, 0.4f);
    }

    @Test
    void shouldRefuseTablesWhoseHalvesDiffer() {
        // interleaved (GPT-J) tables repeat each angle twice in a row: [a, a, b, b]
        float[] cos = {1f, 1f, 1f, 1f, 0.5f, 0.5f, 0.9f, 0.9f};
        float[] sin = {0f, 0f, 0f, 0f, 0.8f, 0.8f, 0.4f, 0.4f};

        assertThatThrownBy(() -> RotaryCache.fromTables(cos, sin, 2, 4))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("the rotary tables' halves differ at position 1, angle 0 (cos 0.5 vs 0.9): not rotate_half tables");
    }
}

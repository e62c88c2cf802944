package io.tunestream.model.graph;

import ai.onnx.proto.OnnxMl;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

class InputsEmbedsRewriteTest {

    static Path modelDir(String name) {
        return Path.of(System.getProperty("tunestream.home", "..")).resolve("models").resolve(name);
    }

    static OnnxMl.ModelProto load(String name) throws IOException {
        return OnnxMl.ModelProto.parseFrom(Files.readAllBytes(modelDir(name).resolve("model.onnx")));
    }

    @ParameterizedTest
    @ValueSource(strings = {"tiny-gpt2", "tiny-llama"})
    void shouldReplaceInputIdsByInputsEmbedsAndKeepTheTable(String name) throws IOException {
        InputsEmbedsRewrite.Rewritten r = InputsEmbedsRewrite.rewrite(load(name));
        OnnxMl.GraphProto g = r.model().getGraph();

        assertThat(g.getInputList()).extracting(OnnxMl.ValueInfoProto::getName)
                .startsWith(InputsEmbedsRewrite.INPUTS_EMBEDS, "attention_mask", "position_ids")
                .doesNotContain(InputsEmbedsRewrite.INPUT_IDS);
        assertThat(g.getInput(0).getType().getTensorType().getShape().getDim(2).getDimValue()).isEqualTo(64);
        assertThat(g.getNodeList()).allSatisfy(n -> assertThat(n.getInputList()).doesNotContain("input_ids"));
        assertThat(r.embeddingTableName()).isEqualTo(name.equals("tiny-gpt2")
                ? "m.transformer.wte.weight" : "m.model.embed_tokens.weight");
        assertThat(r.vocabSize()).isEqualTo(1024);
        assertThat(r.hiddenSize()).isEqualTo(64);
        assertThat(r.embeddingTable().getDimsList()).containsExactly(1024L, 64L);
        // every initializer the rewrite added is read by a node it kept (ONNX Runtime warns about unread ones)
        java.util.Set<String> read = new java.util.HashSet<>();
        g.getNodeList().forEach(n -> read.addAll(n.getInputList()));
        assertThat(g.getInitializerList()).extracting(OnnxMl.TensorProto::getName)
                .filteredOn(t -> t.startsWith("/tunestream/inputs_embeds/")).allMatch(read::contains);
    }

    @Test
    void shouldKeepTheEmbeddingInitializerWhenNoNodeReadsItAnyMore() throws IOException {
        InputsEmbedsRewrite.Rewritten r = InputsEmbedsRewrite.rewrite(load("tiny-llama"));
        assertThat(r.model().getGraph().getInitializerList()).extracting(OnnxMl.TensorProto::getName)
                .contains("m.model.embed_tokens.weight");
    }

    @ParameterizedTest
    @ValueSource(strings = {"tiny-gpt2", "tiny-llama"})
    void shouldGiveTheSameLogitsForEmbeddedIdsAsTheOriginalForIds(String name) throws Exception {
        OnnxMl.ModelProto original = load(name);
        InputsEmbedsRewrite.Rewritten r = InputsEmbedsRewrite.rewrite(original);
        float[] table = TensorProtoReader.floats(r.embeddingTable(), modelDir(name));
        long[] ids = {639, 82, 65, 295, 294, 17, 3};
        int hidden = r.hiddenSize();
        float[] embeds = new float[ids.length * hidden];
        for (int t = 0; t < ids.length; t++) {
            System.arraycopy(table, (int) ids[t] * hidden, embeds, t * hidden, hidden);
        }
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        try (OrtSession.SessionOptions opts = new OrtSession.SessionOptions();
             OrtSession before = env.createSession(original.toByteArray(), opts);
             OrtSession after = env.createSession(r.model().toByteArray(), opts);
             OnnxTensor idTensor = OnnxTensor.createTensor(env, LongBuffer.wrap(ids), new long[]{1, ids.length});
             OnnxTensor embedTensor = OnnxTensor.createTensor(env, FloatBuffer.wrap(embeds), new long[]{1, ids.length, hidden})) {
            float[] expected = lastLogits(env, before, "input_ids", idTensor, ids.length);
            float[] actual = lastLogits(env, after, "inputs_embeds", embedTensor, ids.length);
            assertThat(actual).containsExactly(expected, within(1e-5f));
        }
    }

    private static float[] lastLogits(OrtEnvironment env, OrtSession session, String firstName, OnnxTensor first, int len)
            throws OrtException {
        Map<String, OnnxTensor> feeds = new HashMap<>();
        long[] mask = new long[len];
        long[] pos = new long[len];
        for (int i = 0; i < len; i++) {
            mask[i] = 1;
            pos[i] = i;
        }
        try (OnnxTensor m = OnnxTensor.createTensor(env, LongBuffer.wrap(mask), new long[]{1, len});
             OnnxTensor p = OnnxTensor.createTensor(env, LongBuffer.wrap(pos), new long[]{1, len})) {
            feeds.put(firstName, first);
            feeds.put("attention_mask", m);
            feeds.put("position_ids", p);
            var pasts = new java.util.ArrayList<OnnxTensor>();
            try {
                for (var e : session.getInputInfo().entrySet()) {
                    if (e.getKey().startsWith("past_key_values")) {
                        long[] shape = ((ai.onnxruntime.TensorInfo) e.getValue().getInfo()).getShape();
                        OnnxTensor t = OnnxTensor.createTensor(env, FloatBuffer.allocate(0), new long[]{1, shape[1], 0, shape[3]});
                        pasts.add(t);
                        feeds.put(e.getKey(), t);
                    }
                }
                try (OrtSession.Result result = session.run(feeds, java.util.Set.of("logits"))) {
                    float[][][] logits = (float[][][]) result.get(0).getValue();
                    return logits[0][len - 1];
                }
            } finally {
                pasts.forEach(OnnxTensor::close);
            }
        }
    }

    @Test
    void shouldNameTheMissingInputWhenTheGraphHasNoInputIds() {
        OnnxMl.ModelProto model = OnnxMl.ModelProto.newBuilder().setGraph(OnnxMl.GraphProto.newBuilder()
                .addInput(OnnxMl.ValueInfoProto.newBuilder().setName("pixel_values"))).build();
        assertThatThrownBy(() -> InputsEmbedsRewrite.rewrite(model))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("cannot rewrite to inputs_embeds: the graph has no input 'input_ids' (inputs: [pixel_values])");
    }

    @Test
    void shouldFailWhenNoEmbeddingGatherReadsTheIds() {
        OnnxMl.ModelProto model = OnnxMl.ModelProto.newBuilder().setGraph(OnnxMl.GraphProto.newBuilder()
                .addInput(OnnxMl.ValueInfoProto.newBuilder().setName("input_ids"))
                .addNode(OnnxMl.NodeProto.newBuilder().setOpType("Cast").setName("cast").addInput("input_ids").addOutput("x"))
                .addOutput(OnnxMl.ValueInfoProto.newBuilder().setName("x"))).build();
        assertThatThrownBy(() -> InputsEmbedsRewrite.rewrite(model))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("cannot rewrite to inputs_embeds: no Gather reads a rank-2 initializer at the indices of "
                        + "'input_ids' (the token-embedding lookup is missing)");
    }
}

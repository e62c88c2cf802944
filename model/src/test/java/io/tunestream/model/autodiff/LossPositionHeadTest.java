package io.tunestream.model.autodiff;

import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import io.tunestream.model.graph.InputsEmbedsRewrite;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Where the loss graphs run the final norm and head: the region found in each export, and the head
 * reading the gathered hidden state in both training graphs (the equality of loss and gradient with the
 * unsliced graph is {@code io.tunestream.model.onnx.HeadAtLossPositionsTest}).
 */
class LossPositionHeadTest {

    private static InputsEmbedsRewrite.Rewritten decoder(String name) throws IOException {
        Path file = Path.of(System.getProperty("tunestream.home", "..")).resolve("models").resolve(name)
                .resolve("model.onnx");
        return InputsEmbedsRewrite.rewrite(ModelProto.parseFrom(Files.readAllBytes(file)));
    }

    @ParameterizedTest
    @CsvSource({
            "tiny-gpt2, /m/transformer/h.1/Add_1_output_0, LayerNormalization",
            "demo-gpt2, /m/transformer/h.3/Add_1_output_0, LayerNormalization",
            "tiny-llama, /m/model/norm/Cast_output_0, ReduceMean"})
    void shouldFindTheFinalNormAndHead(String model, String hidden, String norm) throws IOException {
        LossPositionHead.Region region = LossPositionHead.find(decoder(model).model().getGraph()).orElseThrow();

        assertThat(region.hidden()).isEqualTo(hidden);
        assertThat(region.nodes()).extracting(NodeProto::getOpType).contains("MatMul", norm)
                .doesNotContain("Gemm", "Softmax", "Concat");
    }

    @ParameterizedTest
    @CsvSource({"tiny-gpt2", "tiny-llama", "demo-gpt2"})
    void shouldFeedTheHeadOnlyTheGatheredPositionsInBothTrainingGraphs(String model) throws IOException {
        InputsEmbedsRewrite.Rewritten decoder = decoder(model);
        ModelProto soft = SoftPromptTrainingGraph.lossGraph(decoder.model(), decoder.embeddingTableName());
        ModelProto deep = DeepPromptTrainingGraph.lossGraph(decoder.model(), decoder.embeddingTableName(),
                layers(decoder.model()), kvHeads(decoder.model()), headDim(decoder.model()));
        ModelProto unsliced = SoftPromptTrainingGraph.lossGraph(decoder.model(), decoder.embeddingTableName(),
                HeadPositions.ALL);

        for (ModelProto graph : List.of(soft, deep)) {
            List<NodeProto> normInputs = normReaders(graph);
            assertThat(normInputs).isNotEmpty();
            Map<String, NodeProto> producers = producers(graph);
            // the final norm reads Unsqueeze(Gather(Flatten(hidden), positions))
            NodeProto unsqueeze = producers.get(normInputs.get(normInputs.size() - 1).getInput(0));
            assertThat(unsqueeze.getOpType()).isEqualTo("Unsqueeze");
            assertThat(producers.get(unsqueeze.getInput(0)).getOpType()).isEqualTo("Gather");
        }
        assertThat(normReaders(unsliced).get(normReaders(unsliced).size() - 1).getInput(0)).doesNotContain("tunestream");
        assertThat(SoftPromptTrainingGraph.runsHeadAtLossPositionsOnly(soft)).isTrue();
        assertThat(SoftPromptTrainingGraph.runsHeadAtLossPositionsOnly(deep)).isTrue();
        assertThat(SoftPromptTrainingGraph.runsHeadAtLossPositionsOnly(unsliced)).isFalse();
    }

    @Test
    void shouldKeepTheFullHeadWhenTheFinalNormIsNotPositionWise() throws IOException {
        InputsEmbedsRewrite.Rewritten decoder = decoder("tiny-llama");
        // the final RMSNorm's mean taken over the sequence axis instead: gathering positions would change it
        ModelProto.Builder model = decoder.model().toBuilder();
        var graph = model.getGraphBuilder();
        int last = -1;
        for (int i = 0; i < graph.getNodeCount(); i++) {
            if (graph.getNode(i).getOpType().equals("ReduceMean")) {
                last = i;
            }
        }
        NodeProto.Builder mean = graph.getNodeBuilder(last);
        for (int a = 0; a < mean.getAttributeCount(); a++) {
            if (mean.getAttribute(a).getName().equals("axes")) {
                mean.setAttribute(a, mean.getAttribute(a).toBuilder().clearInts().addInts(1));
            }
        }

        assertThat(LossPositionHead.find(model.getGraph())).isEmpty();
        ModelProto loss = SoftPromptTrainingGraph.lossGraph(model.build(), decoder.embeddingTableName());
        assertThat(SoftPromptTrainingGraph.runsHeadAtLossPositionsOnly(loss)).isFalse();
        assertThat(loss.getGraph().getNodeList()).extracting(NodeProto::getOpType).doesNotContain("NonZero");
    }

    /** The nodes that read the final norm's input: the LayerNormalization, or the RMSNorm's Pow. */
    private static List<NodeProto> normReaders(ModelProto graph) {
        return graph.getGraph().getNodeList().stream()
                .filter(n -> n.getOpType().equals("LayerNormalization") || n.getOpType().equals("Pow"))
                .toList();
    }

    private static Map<String, NodeProto> producers(ModelProto graph) {
        return graph.getGraph().getNodeList().stream().flatMap(n -> n.getOutputList().stream().map(o -> Map.entry(o, n)))
                .collect(Collectors.toMap(Map.Entry::getKey, Map.Entry::getValue, (a, b) -> a));
    }

    private static int layers(ModelProto model) {
        return (int) model.getGraph().getInputList().stream().filter(i -> i.getName().endsWith(".key")).count();
    }

    private static int kvHeads(ModelProto model) {
        return pastShape(model).apply(1).intValue();
    }

    private static int headDim(ModelProto model) {
        return pastShape(model).apply(3).intValue();
    }

    private static Function<Integer, Long> pastShape(ModelProto model) {
        var shape = model.getGraph().getInputList().stream().filter(i -> i.getName().equals("past_key_values.0.key"))
                .findFirst().orElseThrow().getType().getTensorType().getShape();
        return d -> shape.getDim(d).getDimValue();
    }
}

package io.tunestream.model.autodiff;

import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import io.tunestream.model.graph.InputsEmbedsRewrite;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class SoftPromptTrainingGraphTest {

    private static final Set<String> NEVER_DIFFERENTIATED = Set.of("Shape", "Range", "Equal", "LessOrEqual", "And",
            "ConstantOfShape", "Cos", "Sin", "Constant");

    private static InputsEmbedsRewrite.Rewritten decoder(String name) throws IOException {
        Path file = Path.of(System.getProperty("tunestream.home", "..")).resolve("models").resolve(name)
                .resolve("model.onnx");
        return InputsEmbedsRewrite.rewrite(ModelProto.parseFrom(Files.readAllBytes(file)));
    }

    @ParameterizedTest
    @ValueSource(strings = {"tiny-gpt2", "tiny-llama"})
    void shouldTakeIdsMasksAndTheTableAndGiveOnlyTheLossAndTheTableGradient(String model) throws IOException {
        InputsEmbedsRewrite.Rewritten decoder = decoder(model);

        ModelProto training = SoftPromptTrainingGraph.trainingGraph(decoder.model(), decoder.embeddingTableName());

        assertThat(training.getGraph().getInputList()).extracting(ValueInfoProto::getName).containsExactly(
                "virtual_tokens", "input_ids", "virtual_token_index", "attention_mask", "position_ids", "labels",
                "loss_mask");
        assertThat(training.getGraph().getOutputList()).extracting(ValueInfoProto::getName)
                .containsExactly("loss", "grad.virtual_tokens");
    }

    @ParameterizedTest
    @ValueSource(strings = {"tiny-gpt2", "tiny-llama"})
    void shouldLeaveShapeMaskAndRotarySubgraphsUndifferentiated(String model) throws IOException {
        InputsEmbedsRewrite.Rewritten decoder = decoder(model);
        ModelProto loss = SoftPromptTrainingGraph.lossGraph(decoder.model(), decoder.embeddingTableName());
        List<NodeProto> nodes = loss.getGraph().getNodeList();

        ActivePath path = ActivePath.mark(nodes, Set.of(SoftPromptTrainingGraph.VIRTUAL_TOKENS),
                Set.of(SoftPromptTrainingGraph.LOSS));

        List<NodeProto> active = nodes.stream().filter(path::isActive).toList();
        assertThat(active).extracting(NodeProto::getOpType).doesNotContainAnyElementsOf(NEVER_DIFFERENTIATED)
                .contains("MatMul", "Softmax", "LogSoftmax");
        // the frozen token-embedding lookup feeds the sequence but carries no gradient
        assertThat(active).noneMatch(n -> n.getInputList().contains(decoder.embeddingTableName()));
        assertThat(active.size()).isLessThan(nodes.size() / 2);
    }

    @Test
    void shouldRejectADecoderThatStillTakesInputIds() throws IOException {
        Path file = Path.of(System.getProperty("tunestream.home", "..")).resolve("models/tiny-gpt2/model.onnx");
        ModelProto export = ModelProto.parseFrom(Files.readAllBytes(file));

        assertThatThrownBy(() -> SoftPromptTrainingGraph.lossGraph(export, "m.transformer.wte.weight"))
                .isInstanceOf(GradientGraphException.class)
                .hasMessageStartingWith("the decoder has no input 'inputs_embeds' (inputs: [input_ids, attention_mask,")
                .hasMessageEndingWith("rewrite it with InputsEmbedsRewrite first");
    }
}

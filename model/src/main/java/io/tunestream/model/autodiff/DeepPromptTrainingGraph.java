package io.tunestream.model.autodiff;

import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.TensorShapeProto;
import ai.onnx.proto.OnnxMl.TypeProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;

import java.util.List;
import java.util.Objects;
import java.util.Set;

import static io.tunestream.model.autodiff.GraphEmitter.intAttribute;
import static io.tunestream.model.autodiff.GraphEmitter.intsAttribute;

/**
 * The prefix-tuning (deep prompt) training graph of a decoder: the deep prompt in PEFT's flat layout
 * is spread over the export's {@code past_key_values.*} inputs, the tokens run on top of it, and NeMo's
 * masked loss comes out, so that the gradient with respect to the prefix is the gradient with respect
 * to those past inputs, summed over the batch (every row shares the task's prefix).
 *
 * <p>Inputs (b = batch, T = tokens, P = virtual tokens, W = 2·layers·kvHeads·headDim):
 * <ul>
 *   <li>{@value #PREFIX} float [P, W]: the deep prompt (trainable), entry 2l of the middle axis of
 *       [P, 2·layers, kvHeads, headDim] is layer l's key, 2l+1 its value</li>
 *   <li>{@code input_ids} int64 [b, T]: the tokens (no virtual slots)</li>
 *   <li>{@code attention_mask} int64 [b, P + T]: 1 over the prefix and the row's tokens, 0 at padding</li>
 *   <li>{@code position_ids} int64 [b, T]: P, P+1, ... over the row's tokens (PEFT's convention)</li>
 *   <li>{@code labels} int64 [b, T] and {@code loss_mask} float [b, T], as in
 *       {@link SoftPromptTrainingGraph}</li>
 * </ul>
 * Output {@value SoftPromptTrainingGraph#LOSS}; {@link #trainingGraph} adds {@value #PREFIX_GRADIENT} [P, W].
 */
public final class DeepPromptTrainingGraph {

    public static final String PREFIX = "prefix";
    /** The gradient of the loss with respect to {@value #PREFIX}, [P, W]. */
    public static final String PREFIX_GRADIENT = GradientGraphBuilder.GRADIENT_PREFIX + PREFIX;

    private static final String INPUTS_EMBEDS = "inputs_embeds";
    private static final String NAME_PREFIX = "/tunestream/deep_prompt/";

    private DeepPromptTrainingGraph() {
    }

    /**
     * The forward graph with output {@value SoftPromptTrainingGraph#LOSS}.
     *
     * @param decoder            a decoder taking {@code inputs_embeds} (see
     *                           {@code io.tunestream.model.graph.InputsEmbedsRewrite}) and
     *                           {@code past_key_values.{l}.key/value} [batch, kvHeads, past, headDim] for
     *                           {@code layers} layers, with output {@code logits} [b, T, vocab]
     * @param embeddingTableName the [vocab, d] initializer holding the token embeddings
     * @throws GradientGraphException naming the missing input, output or initializer
     */
    public static ModelProto lossGraph(ModelProto decoder, String embeddingTableName, int layers, int kvHeads,
                                       int headDim) {
        return lossGraph(decoder, embeddingTableName, layers, kvHeads, headDim, HeadPositions.LOSS_ONLY);
    }

    /**
     * {@link #lossGraph(ModelProto, String, int, int, int)} with the final norm and LM head run at the
     * chosen positions ({@link HeadPositions#ALL}: the unsliced graph, for comparisons and benchmarks).
     */
    public static ModelProto lossGraph(ModelProto decoder, String embeddingTableName, int layers, int kvHeads,
                                       int headDim, HeadPositions headPositions) {
        Objects.requireNonNull(decoder, "decoder");
        GraphProto graph = decoder.getGraph();
        ValueInfoProto embeds = graph.getInputList().stream().filter(i -> i.getName().equals(INPUTS_EMBEDS)).findFirst()
                .orElseThrow(() -> new GradientGraphException("the decoder has no input '" + INPUTS_EMBEDS
                        + "'; rewrite it with InputsEmbedsRewrite first"));
        if (graph.getOutputList().stream().noneMatch(o -> o.getName().equals("logits"))) {
            throw new GradientGraphException("the decoder has no output 'logits'");
        }
        if (graph.getInitializerList().stream().noneMatch(t -> t.getName().equals(embeddingTableName))) {
            throw new GradientGraphException("the decoder has no initializer '" + embeddingTableName
                    + "' (the token-embedding table)");
        }
        for (int l = 0; l < layers; l++) {
            for (String kind : List.of("key", "value")) {
                String name = pastName(l, kind);
                ValueInfoProto past = graph.getInputList().stream().filter(i -> i.getName().equals(name)).findFirst()
                        .orElseThrow(() -> new GradientGraphException("the decoder has no input '" + name + "' ("
                                + layers + " layers expected)"));
                TensorShapeProto shape = past.getType().getTensorType().getShape();
                if (shape.getDimCount() != 4 || shape.getDim(1).hasDimValue() && shape.getDim(1).getDimValue() != kvHeads
                        || shape.getDim(3).hasDimValue() && shape.getDim(3).getDimValue() != headDim) {
                    throw new GradientGraphException("past input '" + name + "' is not [batch, " + kvHeads + ", past, "
                            + headDim + "]: " + shape);
                }
            }
        }
        int floatType = embeds.getType().getTensorType().getElemType();
        GraphEmitter e = new GraphEmitter(NAME_PREFIX, floatType);

        e.add(NodeProto.newBuilder().setOpType("Gather").setName(NAME_PREFIX + "inputs_embeds")
                .addInput(embeddingTableName).addInput(SoftPromptTrainingGraph.INPUT_IDS).addOutput(INPUTS_EMBEDS)
                .addAttribute(intAttribute("axis", 0)).build());

        // [P, W] -> [P, 2L, kvHeads, headDim] -> [2L, kvHeads, P, headDim]; entry k -> [1, ...] -> [batch, ...]
        String perEntry = e.op("Transpose", e.op("Reshape", PREFIX, e.ints(-1, 2L * layers, kvHeads, headDim)),
                intsAttribute("perm", 1, 2, 0, 3));
        String batch = e.op("Slice", List.of(e.shape(SoftPromptTrainingGraph.INPUT_IDS), e.ints(0), e.ints(1)));
        String expandTo = e.op("Concat", List.of(batch, e.ints(1, 1, 1)), intAttribute("axis", 0));
        for (int k = 0; k < 2 * layers; k++) {
            String entry = e.op("Gather", perEntry, e.ints(k), intAttribute("axis", 0));
            e.add(NodeProto.newBuilder().setOpType("Expand").setName(NAME_PREFIX + "past_" + k)
                    .addInput(entry).addInput(expandTo).addOutput(pastName(k / 2, k % 2 == 0 ? "key" : "value")).build());
        }

        List<NodeProto> live = SoftPromptTrainingGraph.emitLossAndAssemble(e, graph, headPositions, NAME_PREFIX);

        TypeProto int64Matrix = SoftPromptTrainingGraph.matrix(TensorProto.DataType.INT64.getNumber(), "batch_size",
                "sequence_length");
        long width = 2L * layers * kvHeads * headDim;
        GraphProto.Builder g = graph.toBuilder().clearNode().addAllNode(live).clearInput().clearOutput().clearValueInfo()
                .addInput(ValueInfoProto.newBuilder().setName(PREFIX)
                        .setType(GradientGraphBuilder.tensorType(floatType, TensorShapeProto.newBuilder()
                                .addDim(TensorShapeProto.Dimension.newBuilder().setDimParam("virtual_tokens"))
                                .addDim(TensorShapeProto.Dimension.newBuilder().setDimValue(width)).build())))
                .addInput(ValueInfoProto.newBuilder().setName(SoftPromptTrainingGraph.INPUT_IDS).setType(int64Matrix))
                .addInput(ValueInfoProto.newBuilder().setName(SoftPromptTrainingGraph.ATTENTION_MASK)
                        .setType(SoftPromptTrainingGraph.matrix(TensorProto.DataType.INT64.getNumber(), "batch_size",
                                "total_sequence_length")))
                .addInput(ValueInfoProto.newBuilder().setName(SoftPromptTrainingGraph.POSITION_IDS).setType(int64Matrix))
                .addInput(ValueInfoProto.newBuilder().setName(SoftPromptTrainingGraph.LABELS).setType(int64Matrix))
                .addInput(ValueInfoProto.newBuilder().setName(SoftPromptTrainingGraph.LOSS_MASK)
                        .setType(SoftPromptTrainingGraph.matrix(TensorProto.DataType.FLOAT.getNumber(), "batch_size",
                                "sequence_length")))
                .addOutput(ValueInfoProto.newBuilder().setName(SoftPromptTrainingGraph.LOSS)
                        .setType(GradientGraphBuilder.tensorType(floatType, TensorShapeProto.getDefaultInstance())))
                .addAllInitializer(e.initializers());
        return decoder.toBuilder().setGraph(g).build();
    }

    /** The training graph of a loss graph made by {@link #lossGraph}: its loss and {@value #PREFIX_GRADIENT}. */
    public static ModelProto trainingGraph(ModelProto lossGraph) {
        return GradientGraphBuilder.build(lossGraph, Set.of(PREFIX), SoftPromptTrainingGraph.LOSS);
    }

    private static String pastName(int layer, String kind) {
        return "past_key_values." + layer + "." + kind;
    }
}

package io.tunestream.model.autodiff;

import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.TensorShapeProto;
import ai.onnx.proto.OnnxMl.TypeProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;

import static io.tunestream.model.autodiff.GraphEmitter.intAttribute;
import static io.tunestream.model.autodiff.GraphEmitter.intsAttribute;
import static io.tunestream.model.autodiff.GraphEmitter.tensorAttribute;

/**
 * The p-tuning training graph of a decoder: the soft-prompt decoder (the {@code inputs_embeds}
 * graph) with the sequence assembly in front and NeMo's loss behind, so that only token ids, masks
 * and the virtual-token table go in and only the loss and the table's gradient come out; logits and
 * activations never leave the session.
 *
 * <p>Inputs (b = batch, T = sequence, n = virtual tokens, d = hidden):
 * <ul>
 *   <li>{@value #VIRTUAL_TOKENS} float [n, d]: the virtual-token table (the trainable input)</li>
 *   <li>{@value #INPUT_IDS} int64 [b, T]: token ids; ignored at virtual slots</li>
 *   <li>{@value #VIRTUAL_TOKEN_INDEX} int64 [b, T]: row of the table at virtual slots, −1 at token
 *       slots (and padding); the graph gathers those rows into the sequence</li>
 *   <li>{@code attention_mask} int64 [b, T] and {@code position_ids} int64 [b, T], as the export
 *       takes them (left or right padding)</li>
 *   <li>{@value #LABELS} int64 [b, T]: the token each position predicts (any valid id where the
 *       mask is 0)</li>
 *   <li>{@value #LOSS_MASK} float [b, T]: 1 where the prediction counts (answer tokens with
 *       {@code answer_only_loss}, all non-virtual tokens without), 0 elsewhere and at padding</li>
 * </ul>
 * Output {@value #LOSS}: −Σ(mask·log p(label)) / Σmask, a scalar. The decoder's past key/value
 * inputs are fed zero-length tensors inside the graph, its {@code present.*} outputs are dropped.
 *
 * <p>{@link #lossGraph} gives the forward graph (validation, and the input of
 * {@link GradientGraphBuilder#build}); {@link #trainingGraph} adds {@code grad.virtual_tokens}.
 */
public final class SoftPromptTrainingGraph {

    public static final String VIRTUAL_TOKENS = "virtual_tokens";
    public static final String INPUT_IDS = "input_ids";
    public static final String VIRTUAL_TOKEN_INDEX = "virtual_token_index";
    public static final String ATTENTION_MASK = "attention_mask";
    public static final String POSITION_IDS = "position_ids";
    public static final String LABELS = "labels";
    public static final String LOSS_MASK = "loss_mask";
    public static final String LOSS = "loss";
    /** The gradient of the loss with respect to {@value #VIRTUAL_TOKENS}, [n, d]. */
    public static final String VIRTUAL_TOKENS_GRADIENT = GradientGraphBuilder.GRADIENT_PREFIX + VIRTUAL_TOKENS;

    private static final String INPUTS_EMBEDS = "inputs_embeds";
    private static final String LOGITS = "logits";
    private static final String PAST_PREFIX = "past_key_values.";
    private static final String PREFIX = "/tunestream/soft_prompt/";

    private SoftPromptTrainingGraph() {
    }

    /**
     * The forward training graph with output {@value #LOSS}.
     *
     * @param decoder            a decoder taking {@code inputs_embeds} [b, T, d] (see
     *                           {@code io.tunestream.model.graph.InputsEmbedsRewrite}), with outputs
     *                           {@code logits} [b, T, vocab] and optionally {@code present.*}
     * @param embeddingTableName the [vocab, d] initializer holding the token embeddings
     * @throws GradientGraphException naming the missing input, output or initializer
     */
    public static ModelProto lossGraph(ModelProto decoder, String embeddingTableName) {
        return lossGraph(decoder, embeddingTableName, HeadPositions.LOSS_ONLY);
    }

    /**
     * {@link #lossGraph(ModelProto, String)} with the final norm and LM head run at the chosen positions
     * ({@link HeadPositions#ALL}: the unsliced graph, for comparisons and benchmarks).
     */
    public static ModelProto lossGraph(ModelProto decoder, String embeddingTableName, HeadPositions headPositions) {
        Objects.requireNonNull(decoder, "decoder");
        GraphProto graph = decoder.getGraph();
        ValueInfoProto embeds = graph.getInputList().stream().filter(i -> i.getName().equals(INPUTS_EMBEDS)).findFirst()
                .orElseThrow(() -> new GradientGraphException("the decoder has no input '" + INPUTS_EMBEDS
                        + "' (inputs: " + graph.getInputList().stream().map(ValueInfoProto::getName).toList()
                        + "); rewrite it with InputsEmbedsRewrite first"));
        if (graph.getOutputList().stream().noneMatch(o -> o.getName().equals(LOGITS))) {
            throw new GradientGraphException("the decoder has no output '" + LOGITS + "'");
        }
        TensorProto table = graph.getInitializerList().stream().filter(t -> t.getName().equals(embeddingTableName))
                .findFirst().orElseThrow(() -> new GradientGraphException("the decoder has no initializer '"
                        + embeddingTableName + "' (the token-embedding table)"));
        if (table.getDimsCount() != 2) {
            throw new GradientGraphException("embedding table '" + embeddingTableName + "' has rank "
                    + table.getDimsCount() + ", expected [vocab, hidden]");
        }
        for (String required : List.of(ATTENTION_MASK, POSITION_IDS)) {
            if (graph.getInputList().stream().noneMatch(i -> i.getName().equals(required))) {
                throw new GradientGraphException("the decoder has no input '" + required + "'");
            }
        }
        int floatType = embeds.getType().getTensorType().getElemType();
        long hidden = table.getDims(1);
        GraphEmitter e = new GraphEmitter(PREFIX, floatType);

        // sequence assembly: virtual rows where virtual_token_index >= 0, token embeddings elsewhere
        String isVirtual = e.op("GreaterOrEqual", VIRTUAL_TOKEN_INDEX, e.int64Scalar(0));
        String rowIndex = e.op("Max", VIRTUAL_TOKEN_INDEX, e.int64Scalar(0));
        String virtualRows = e.op("Gather", VIRTUAL_TOKENS, rowIndex, intAttribute("axis", 0));
        String tokenIds = e.op("Where", List.of(isVirtual, e.int64Scalar(0), INPUT_IDS));
        String tokenRows = e.op("Gather", embeddingTableName, tokenIds, intAttribute("axis", 0));
        String isVirtualRow = e.op("Unsqueeze", isVirtual, e.ints(-1));
        e.add(NodeProto.newBuilder().setOpType("Where").setName(PREFIX + "inputs_embeds")
                .addInput(isVirtualRow).addInput(virtualRows).addInput(tokenRows).addOutput(INPUTS_EMBEDS).build());

        // zero-length past key/values: [batch, heads, 0, head_dim] with the batch of this run
        String batch = e.op("Slice", List.of(e.shape(INPUT_IDS), e.ints(0), e.ints(1)));
        List<String> pastInputs = new ArrayList<>();
        for (ValueInfoProto input : graph.getInputList()) {
            if (!input.getName().startsWith(PAST_PREFIX)) {
                continue;
            }
            pastInputs.add(input.getName());
            TensorShapeProto shape = input.getType().getTensorType().getShape();
            if (shape.getDimCount() != 4 || !shape.getDim(1).hasDimValue() || !shape.getDim(3).hasDimValue()) {
                throw new GradientGraphException("past input '" + input.getName() + "' is not [batch, heads, past, head_dim] "
                        + "with fixed heads and head_dim: " + shape);
            }
            String dims = e.op("Concat", List.of(batch, e.ints(shape.getDim(1).getDimValue(), 0,
                    shape.getDim(3).getDimValue())), intAttribute("axis", 0));
            TensorProto zero = TensorProto.newBuilder().setDataType(input.getType().getTensorType().getElemType())
                    .addDims(1).build();
            zero = floatType == TensorProto.DataType.DOUBLE.getNumber() ? zero.toBuilder().addDoubleData(0).build()
                    : zero.toBuilder().addFloatData(0f).build();
            e.add(NodeProto.newBuilder().setOpType("ConstantOfShape").setName(PREFIX + input.getName())
                    .addInput(dims).addOutput(input.getName()).addAttribute(tensorAttribute("value", zero)).build());
        }

        List<NodeProto> live = emitLossAndAssemble(e, graph, headPositions, PREFIX);

        TypeProto int64Matrix = matrix(TensorProto.DataType.INT64.getNumber(), "batch_size", "sequence_length");
        GraphProto.Builder g = graph.toBuilder().clearNode().addAllNode(live).clearInput().clearOutput().clearValueInfo()
                .addInput(ValueInfoProto.newBuilder().setName(VIRTUAL_TOKENS)
                        .setType(GradientGraphBuilder.tensorType(floatType, TensorShapeProto.newBuilder()
                                .addDim(TensorShapeProto.Dimension.newBuilder().setDimParam("virtual_tokens"))
                                .addDim(TensorShapeProto.Dimension.newBuilder().setDimValue(hidden)).build())))
                .addInput(ValueInfoProto.newBuilder().setName(INPUT_IDS).setType(int64Matrix))
                .addInput(ValueInfoProto.newBuilder().setName(VIRTUAL_TOKEN_INDEX).setType(int64Matrix))
                .addInput(ValueInfoProto.newBuilder().setName(ATTENTION_MASK).setType(int64Matrix))
                .addInput(ValueInfoProto.newBuilder().setName(POSITION_IDS).setType(int64Matrix))
                .addInput(ValueInfoProto.newBuilder().setName(LABELS).setType(int64Matrix))
                .addInput(ValueInfoProto.newBuilder().setName(LOSS_MASK)
                        .setType(matrix(TensorProto.DataType.FLOAT.getNumber(), "batch_size", "sequence_length")))
                .addOutput(ValueInfoProto.newBuilder().setName(LOSS)
                        .setType(GradientGraphBuilder.tensorType(floatType, TensorShapeProto.getDefaultInstance())))
                .addAllInitializer(e.initializers());
        return decoder.toBuilder().setGraph(g).build();
    }

    /**
     * Whether a loss or training graph made here (soft or deep prompt) runs the final norm and LM head
     * at the loss positions only: {@link HeadPositions#LOSS_ONLY} asks for it, but an export whose head
     * is not a MatMul behind a position-wise norm keeps the full head.
     */
    public static boolean runsHeadAtLossPositionsOnly(ModelProto graph) {
        return graph.getGraph().getNodeList().stream().anyMatch(n -> n.getName().startsWith("/tunestream/")
                && n.getName().contains("/" + LossPositionHead.SCOPE));
    }

    /** The training graph: {@link #lossGraph} plus the output {@value #VIRTUAL_TOKENS_GRADIENT} [n, d]. */
    public static ModelProto trainingGraph(ModelProto decoder, String embeddingTableName) {
        return trainingGraph(lossGraph(decoder, embeddingTableName));
    }

    /** The training graph of a loss graph made by {@link #lossGraph}: its loss and the gradient of the table. */
    public static ModelProto trainingGraph(ModelProto lossGraph) {
        return GradientGraphBuilder.build(lossGraph, Set.of(VIRTUAL_TOKENS), LOSS);
    }

    /**
     * The live nodes of the loss graph: the inputs' assembly already in {@code e}, the decoder, and
     * NeMo's masked loss behind it; with {@link HeadPositions#LOSS_ONLY} the decoder's final norm and
     * head run only at the positions where {@value #LOSS_MASK} is non-zero ({@link LossPositionHead}),
     * and the labels and mask are gathered at the same positions.
     */
    static List<NodeProto> emitLossAndAssemble(GraphEmitter e, GraphProto decoder, HeadPositions headPositions,
                                               String prefix) {
        Optional<LossPositionHead.Region> region = headPositions == HeadPositions.LOSS_ONLY
                ? LossPositionHead.find(decoder) : Optional.empty();
        List<NodeProto> decoderNodes = decoder.getNodeList();
        String labels = LABELS;
        String lossMask = LOSS_MASK;
        if (region.isPresent()) {
            // flat indices row·T + t of the positions that carry loss, [K]
            String flatMask = e.op("Reshape", LOSS_MASK, e.ints(-1));
            String positions = e.op("Reshape", e.op("NonZero", flatMask), e.ints(-1));
            labels = e.op("Unsqueeze", e.op("Gather", List.of(e.op("Reshape", LABELS, e.ints(-1)), positions),
                    intAttribute("axis", 0)), e.ints(0));
            lossMask = e.op("Unsqueeze", e.op("Gather", List.of(flatMask, positions), intAttribute("axis", 0)),
                    e.ints(0));
            GraphEmitter head = new GraphEmitter(prefix + LossPositionHead.SCOPE, e.floatType());
            decoderNodes = LossPositionHead.rewrite(decoderNodes, region.get(), head, positions);
            e.initializers().addAll(head.initializers());
        }
        emitMaskedLoss(e, prefix, labels, lossMask);
        return assemble(e, decoderNodes);
    }

    /**
     * NeMo's loss, masked mean token cross-entropy, from the decoder's {@code logits} and the labels and
     * mask (of the same leading shape as the logits), to the output {@value #LOSS}.
     */
    private static void emitMaskedLoss(GraphEmitter e, String prefix, String labels, String lossMask) {
        String logProbs = e.op("LogSoftmax", LOGITS, intAttribute("axis", -1));
        String picked = e.op("GatherElements", List.of(logProbs, e.op("Unsqueeze", labels, e.ints(-1))),
                intAttribute("axis", -1));
        String tokenLogProbs = e.op("Squeeze", picked, e.ints(-1));
        String mask = e.op("CastLike", lossMask, tokenLogProbs);
        String total = e.op("ReduceSum", List.of(e.op("Mul", tokenLogProbs, mask)), intAttribute("keepdims", 0));
        String count = e.op("ReduceSum", List.of(mask), intAttribute("keepdims", 0));
        e.add(NodeProto.newBuilder().setOpType("Neg").setName(prefix + "loss")
                .addInput(e.op("Div", total, count)).addOutput(LOSS).build());
    }

    /**
     * The live nodes of the whole graph: what {@code e} emitted before the first node reading
     * {@code logits} (the inputs' assembly), then the decoder, then the rest (the loss).
     */
    private static List<NodeProto> assemble(GraphEmitter e, List<NodeProto> decoder) {
        List<NodeProto> nodes = new ArrayList<>();
        List<NodeProto> emitted = e.nodes();
        int lossStart = indexOfFirstReading(emitted, LOGITS);
        nodes.addAll(emitted.subList(0, lossStart));
        nodes.addAll(decoder);
        nodes.addAll(emitted.subList(lossStart, emitted.size()));
        return GradientGraphBuilder.liveNodes(nodes, Set.of(LOSS));
    }

    private static int indexOfFirstReading(List<NodeProto> nodes, String tensor) {
        for (int i = 0; i < nodes.size(); i++) {
            if (nodes.get(i).getInputList().contains(tensor)) {
                return i;
            }
        }
        throw new IllegalStateException("no emitted node reads " + tensor);
    }

    static TypeProto matrix(int elemType, String rows, String columns) {
        return GradientGraphBuilder.tensorType(elemType, TensorShapeProto.newBuilder()
                .addDim(TensorShapeProto.Dimension.newBuilder().setDimParam(rows))
                .addDim(TensorShapeProto.Dimension.newBuilder().setDimParam(columns)).build());
    }
}

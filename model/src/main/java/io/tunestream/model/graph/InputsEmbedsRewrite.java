package io.tunestream.model.graph;

import ai.onnx.proto.OnnxMl;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Rewrites a decoder graph that reads {@code input_ids} into one that reads {@code inputs_embeds}
 * [batch, sequence, hidden], so that soft prompts (virtual-token rows) can be fed next to token rows.
 *
 * <p>A pure {@code ModelProto -> ModelProto} transformation (no ONNX Runtime):
 * <ol>
 *   <li>The token-embedding {@code Gather} is found structurally: a {@code Gather} whose data is a
 *       rank-2 initializer and whose indices are {@code input_ids}, possibly through index-preserving
 *       ops (GPT-2 exports {@code Reshape} it first, {@code view(-1, seq)}).</li>
 *   <li>Consumers of that Gather's output read the new graph input {@code inputs_embeds} instead.</li>
 *   <li>{@code Shape} nodes that read {@code input_ids} (or the reshaped ids) become
 *       {@code Slice(Shape(inputs_embeds), start, end)}, so they keep seeing a rank-1 shape of length 2.</li>
 *   <li>Nodes left without consumers (the Reshape and its shape arithmetic) are removed.</li>
 * </ol>
 * The embedding initializer is kept: models with tied weights also read it in the output head, and
 * the runtime reads the table from it to embed token ids.
 */
public final class InputsEmbedsRewrite {

    /** Name of the graph input that replaces {@code input_ids}. */
    public static final String INPUTS_EMBEDS = "inputs_embeds";
    /** Name of the token-id input of an Optimum "text-generation-with-past" export. */
    public static final String INPUT_IDS = "input_ids";

    /** Ops through which token ids flow unchanged in value on the way to the embedding Gather. */
    private static final Set<String> INDEX_PRESERVING_OPS =
            Set.of("Reshape", "Cast", "Identity", "Squeeze", "Unsqueeze", "Flatten");

    private static final String PREFIX = "/tunestream/inputs_embeds/";

    private InputsEmbedsRewrite() {
    }

    /**
     * The rewritten model and where its token-embedding table is.
     *
     * @param model              the graph taking {@code inputs_embeds} in place of {@code input_ids}
     * @param embeddingTableName name of the [vocab, hidden] initializer that held the token embeddings
     * @param vocabSize          rows of the table
     * @param hiddenSize         columns of the table (the width of {@code inputs_embeds})
     */
    public record Rewritten(OnnxMl.ModelProto model, String embeddingTableName, int vocabSize, int hiddenSize) {
        public Rewritten {
            Objects.requireNonNull(model, "model");
            Objects.requireNonNull(embeddingTableName, "embeddingTableName");
        }

        /** The embedding table initializer (its data may be raw, typed or external: see {@link TensorProtoReader}). */
        public OnnxMl.TensorProto embeddingTable() {
            return model.getGraph().getInitializerList().stream()
                    .filter(t -> t.getName().equals(embeddingTableName))
                    .findFirst()
                    .orElseThrow(() -> new IllegalStateException("initializer " + embeddingTableName + " vanished"));
        }
    }

    /**
     * Rewrites {@code model}.
     *
     * @throws IllegalArgumentException naming what is missing or what cannot be rewired: no
     *                                  {@code input_ids} input, no embedding Gather, or a consumer of the ids that is neither
     *                                  a shape computation nor the embedding lookup
     */
    public static Rewritten rewrite(OnnxMl.ModelProto model) {
        OnnxMl.GraphProto graph = model.getGraph();
        OnnxMl.ValueInfoProto idsInput = graph.getInputList().stream()
                .filter(i -> i.getName().equals(INPUT_IDS))
                .findFirst()
                .orElseThrow(() -> new IllegalArgumentException(
                        "cannot rewrite to inputs_embeds: the graph has no input '" + INPUT_IDS + "' (inputs: "
                                + graph.getInputList().stream().map(OnnxMl.ValueInfoProto::getName).toList() + ")"));

        Map<String, OnnxMl.TensorProto> initializers = new HashMap<>();
        for (OnnxMl.TensorProto t : graph.getInitializerList()) {
            initializers.put(t.getName(), t);
        }

        // Tensors carrying the token ids: input_ids and what index-preserving ops make of it.
        Set<String> idTensors = new LinkedHashSet<>();
        idTensors.add(INPUT_IDS);
        boolean grew = true;
        while (grew) {
            grew = false;
            for (OnnxMl.NodeProto node : graph.getNodeList()) {
                if (INDEX_PRESERVING_OPS.contains(node.getOpType()) && node.getInputCount() > 0
                        && idTensors.contains(node.getInput(0)) && idTensors.addAll(node.getOutputList())) {
                    grew = true;
                }
            }
        }

        OnnxMl.NodeProto embeddingGather = null;
        for (OnnxMl.NodeProto node : graph.getNodeList()) {
            if (node.getOpType().equals("Gather") && node.getInputCount() == 2
                    && idTensors.contains(node.getInput(1))) {
                OnnxMl.TensorProto table = initializers.get(node.getInput(0));
                if (table != null && table.getDimsCount() == 2 && gatherAxis(node) == 0) {
                    if (embeddingGather != null) {
                        throw new IllegalArgumentException("cannot rewrite to inputs_embeds: two embedding Gathers read "
                                + INPUT_IDS + " (" + embeddingGather.getName() + ", " + node.getName() + ")");
                    }
                    embeddingGather = node;
                }
            }
        }
        if (embeddingGather == null) {
            throw new IllegalArgumentException("cannot rewrite to inputs_embeds: no Gather reads a rank-2 initializer at the "
                    + "indices of '" + INPUT_IDS + "' (the token-embedding lookup is missing)");
        }
        String tableName = embeddingGather.getInput(0);
        OnnxMl.TensorProto table = initializers.get(tableName);
        String embedded = embeddingGather.getOutput(0);

        String embedsShape = PREFIX + "Shape_output_0";
        Map<String, String> renames = new HashMap<>();
        renames.put(embedded, INPUTS_EMBEDS);
        List<OnnxMl.NodeProto> added = new ArrayList<>();
        List<OnnxMl.TensorProto> addedInitializers = new ArrayList<>();
        added.add(OnnxMl.NodeProto.newBuilder().setOpType("Shape").setName(PREFIX + "Shape")
                .addInput(INPUTS_EMBEDS).addOutput(embedsShape).build());

        List<OnnxMl.NodeProto> kept = new ArrayList<>();
        for (OnnxMl.NodeProto node : graph.getNodeList()) {
            if (node == embeddingGather) {
                continue;
            }
            if (node.getOpType().equals("Shape") && idTensors.contains(node.getInput(0))) {
                // ids are [batch, sequence]: the first two dims of inputs_embeds
                int start = normalizeAxis(GraphIndex.intAttribute(node, "start", 0), 2);
                int end = normalizeAxis(GraphIndex.intAttribute(node, "end", 2), 2);
                String name = PREFIX + "Slice_" + added.size();
                String starts = name + "/starts";
                String ends = name + "/ends";
                String axes = name + "/axes";
                addedInitializers.add(GraphIndex.int64Vector(starts, start));
                addedInitializers.add(GraphIndex.int64Vector(ends, end));
                addedInitializers.add(GraphIndex.int64Vector(axes, 0));
                added.add(OnnxMl.NodeProto.newBuilder().setOpType("Slice").setName(name)
                        .addInput(embedsShape).addInput(starts).addInput(ends).addInput(axes)
                        .addOutput(node.getOutput(0)).build());
                continue;
            }
            kept.add(node);
        }

        List<OnnxMl.NodeProto> rewired = new ArrayList<>(added);
        for (OnnxMl.NodeProto node : kept) {
            rewired.add(renameInputs(node, renames));
        }
        Set<String> graphOutputs = new HashSet<>();
        for (OnnxMl.ValueInfoProto out : graph.getOutputList()) {
            graphOutputs.add(out.getName());
        }
        List<OnnxMl.NodeProto> live = GraphIndex.withoutDeadNodes(rewired, graphOutputs);

        for (OnnxMl.NodeProto node : live) {
            for (String input : node.getInputList()) {
                if (idTensors.contains(input)) {
                    throw new IllegalArgumentException("cannot rewrite to inputs_embeds: node '" + node.getName() + "' ("
                            + node.getOpType() + ") reads the token ids '" + input
                            + "' for something other than the embedding lookup or a shape");
                }
            }
        }

        OnnxMl.TensorShapeProto idsShape = idsInput.getType().getTensorType().getShape();
        OnnxMl.TensorShapeProto.Builder embedsShapeProto = OnnxMl.TensorShapeProto.newBuilder();
        for (int d = 0; d < 2; d++) {
            embedsShapeProto.addDim(d < idsShape.getDimCount() ? idsShape.getDim(d)
                    : OnnxMl.TensorShapeProto.Dimension.newBuilder().setDimParam(d == 0 ? "batch_size" : "sequence_length").build());
        }
        embedsShapeProto.addDim(OnnxMl.TensorShapeProto.Dimension.newBuilder().setDimValue(table.getDims(1)));
        OnnxMl.ValueInfoProto embedsInput = OnnxMl.ValueInfoProto.newBuilder()
                .setName(INPUTS_EMBEDS)
                .setType(OnnxMl.TypeProto.newBuilder().setTensorType(OnnxMl.TypeProto.Tensor.newBuilder()
                        .setElemType(table.getDataType()).setShape(embedsShapeProto)))
                .build();

        // a Slice that replaced a Shape nothing live reads went with the dead nodes: so do its bounds (ONNX
        // Runtime warns about every unread initializer at every session it creates)
        Set<String> read = new HashSet<>();
        live.forEach(n -> read.addAll(n.getInputList()));
        OnnxMl.GraphProto.Builder newGraph = graph.toBuilder().clearNode().addAllNode(live)
                .addAllInitializer(addedInitializers.stream().filter(t -> read.contains(t.getName())).toList())
                .clearInput();
        for (OnnxMl.ValueInfoProto input : graph.getInputList()) {
            newGraph.addInput(input.getName().equals(INPUT_IDS) ? embedsInput : input);
        }
        // value_info of removed tensors would describe nothing; keep the rest
        Set<String> produced = new HashSet<>();
        live.forEach(n -> produced.addAll(n.getOutputList()));
        List<OnnxMl.ValueInfoProto> valueInfo = graph.getValueInfoList().stream()
                .filter(v -> produced.contains(v.getName())).toList();
        newGraph.clearValueInfo().addAllValueInfo(valueInfo);

        OnnxMl.ModelProto rewritten = model.toBuilder().setGraph(newGraph).build();
        return new Rewritten(rewritten, tableName, Math.toIntExact(table.getDims(0)), Math.toIntExact(table.getDims(1)));
    }

    private static long gatherAxis(OnnxMl.NodeProto node) {
        return GraphIndex.intAttribute(node, "axis", 0);
    }

    private static int normalizeAxis(long axis, int rank) {
        long a = axis < 0 ? axis + rank : axis;
        return (int) Math.max(0, Math.min(rank, a));
    }


    private static OnnxMl.NodeProto renameInputs(OnnxMl.NodeProto node, Map<String, String> renames) {
        boolean touched = false;
        OnnxMl.NodeProto.Builder b = node.toBuilder();
        for (int i = 0; i < node.getInputCount(); i++) {
            String to = renames.get(node.getInput(i));
            if (to != null) {
                b.setInput(i, to);
                touched = true;
            }
        }
        return touched ? b.build() : node;
    }
}

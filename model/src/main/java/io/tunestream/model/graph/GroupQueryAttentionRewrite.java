package io.tunestream.model.graph;

import ai.onnx.proto.OnnxMl;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Rewrites a serving graph into a decode-step graph whose attention appends the step's keys and values
 * to the KV cache in place, with ONNX Runtime's {@code com.microsoft.GroupQueryAttention}.
 *
 * <p>The export's attention concatenates the whole past with the new position at every step
 * ({@code present = Concat(past, new)}): at batch 32 that is most of a decoding step's time on a CPU,
 * because it copies every cached key and value once per token. In the rewritten graph
 * {@code past_key_values.i.*} are buffers of a fixed capacity, each row holding its own number of
 * positions ({@code seqlens_k}, rows left-aligned, no padding); {@code present.i.*} are the same
 * buffers (the caller passes them as pinned outputs), into which the operator writes the new position
 * at each row's length. Attention reads only each row's positions, so {@code attention_mask} is gone.
 *
 * <p>Matched per layer, from the {@code Concat} that writes {@code present.i.key}: packed QKV from one
 * projection, split in three, heads split by {@code Reshape} + {@code Transpose(0,2,1,3)};
 * {@code MatMul(q, Transpose(present.key))}, an optional constant scale ({@code Mul} or {@code Div}),
 * the mask {@code Add}, {@code Softmax}, an optional {@code Cast}, {@code MatMul(·, present.value)}, and
 * {@code Transpose(0,2,1,3)} + {@code Reshape} merging heads. That is GPT-2's layout; graphs that differ
 * (rotary embeddings, separate projections) are refused with the reason, and the caller keeps the
 * concatenating graph. A pure proto transformation; only the serving runtime uses it.
 */
public final class GroupQueryAttentionRewrite {

    /** Input: int32 [batch], each row's cached positions before this step (where the step is written). */
    public static final String SEQLENS_K = "seqlens_k";
    /** Input: int32 scalar, the buffers' capacity (positions per row). */
    public static final String TOTAL_SEQUENCE_LENGTH = "total_sequence_length";
    private static final String ATTENTION_MASK = "attention_mask";
    private static final String MS_DOMAIN = "com.microsoft";
    private static final String PREFIX = "/tunestream/gqa/";

    private GroupQueryAttentionRewrite() {
    }

    /**
     * @param model   a serving graph with {@code past_key_values.i.*} inputs and {@code present.i.*} outputs
     * @param layers  decoder layers
     * @param heads   query heads
     * @param kvHeads key/value heads
     * @throws IllegalArgumentException naming the layer and the node that does not match
     */
    public static OnnxMl.ModelProto rewrite(OnnxMl.ModelProto model, int layers, int heads, int kvHeads) {
        if (heads != kvHeads) {
            throw new IllegalArgumentException("packed QKV with " + heads + " query heads and " + kvHeads
                    + " key/value heads is not matched");
        }
        OnnxMl.GraphProto graph = model.getGraph();
        GraphIndex index = new GraphIndex(graph);
        Set<OnnxMl.NodeProto> removed = new HashSet<>();
        List<OnnxMl.NodeProto> attention = new ArrayList<>();
        List<OnnxMl.NodeProto> replacedAt = new ArrayList<>();
        for (int i = 0; i < layers; i++) {
            Layer layer = match(index, i);
            removed.add(layer.keyConcat);
            removed.add(layer.valueConcat);
            removed.add(layer.mergeHeads);
            replacedAt.add(layer.mergeHeads);
            attention.add(OnnxMl.NodeProto.newBuilder().setOpType("GroupQueryAttention").setDomain(MS_DOMAIN)
                    .setName(PREFIX + "layer" + i)
                    .addInput(layer.packedQkv).addInput("").addInput("")
                    .addInput(pastName(i, "key")).addInput(pastName(i, "value"))
                    .addInput(SEQLENS_K).addInput(TOTAL_SEQUENCE_LENGTH)
                    .addOutput(layer.mergeHeads.getOutput(0)).addOutput(presentName(i, "key")).addOutput(presentName(i, "value"))
                    .addAttribute(intAttribute("num_heads", heads))
                    .addAttribute(intAttribute("kv_num_heads", kvHeads))
                    .addAttribute(OnnxMl.AttributeProto.newBuilder().setName("scale")
                            .setType(OnnxMl.AttributeProto.AttributeType.FLOAT).setF((float) layer.scale))
                    .build());
        }
        List<OnnxMl.NodeProto> nodes = new ArrayList<>();
        for (OnnxMl.NodeProto n : graph.getNodeList()) {
            int at = replacedAt.indexOf(n);
            if (at >= 0) {
                nodes.add(attention.get(at));
            } else if (!removed.contains(n)) {
                nodes.add(n);
            }
        }
        Set<String> outputs = new HashSet<>();
        graph.getOutputList().forEach(o -> outputs.add(o.getName()));
        List<OnnxMl.NodeProto> live = GraphIndex.withoutDeadNodes(nodes, outputs);
        for (OnnxMl.NodeProto n : live) {
            if (n.getInputList().contains(ATTENTION_MASK)) {
                throw new IllegalArgumentException("node " + n.getName() + " (" + n.getOpType()
                        + ") still reads attention_mask outside the attention");
            }
        }
        OnnxMl.GraphProto.Builder g = graph.toBuilder().clearNode().addAllNode(live).clearInput();
        for (OnnxMl.ValueInfoProto in : graph.getInputList()) {
            if (!in.getName().equals(ATTENTION_MASK)) {
                g.addInput(in);
            }
        }
        g.addInput(int32Input(SEQLENS_K, "batch_size"));
        g.addInput(int32Input(TOTAL_SEQUENCE_LENGTH, null));
        OnnxMl.ModelProto.Builder m = model.toBuilder().setGraph(g);
        if (model.getOpsetImportList().stream().noneMatch(o -> o.getDomain().equals(MS_DOMAIN))) {
            m.addOpsetImport(OnnxMl.OperatorSetIdProto.newBuilder().setDomain(MS_DOMAIN).setVersion(1));
        }
        return m.build();
    }

    /** The nodes of one layer's attention that the rewrite reads or replaces. */
    private record Layer(OnnxMl.NodeProto keyConcat, OnnxMl.NodeProto valueConcat, String packedQkv, double scale,
                         OnnxMl.NodeProto mergeHeads) {
    }

    private static Layer match(GraphIndex index, int i) {
        String where = "layer " + i + ": ";
        String presentKey = presentName(i, "key");
        String presentValue = presentName(i, "value");
        OnnxMl.NodeProto keyConcat = pastConcat(index, presentKey, pastName(i, "key"), where);
        OnnxMl.NodeProto valueConcat = pastConcat(index, presentValue, pastName(i, "value"), where);
        HeadSplit key = headSplit(index, keyConcat.getInput(1), where + "new keys");
        HeadSplit value = headSplit(index, valueConcat.getInput(1), where + "new values");

        OnnxMl.NodeProto keyT = null;
        OnnxMl.NodeProto scores = null;
        for (OnnxMl.NodeProto t : index.readers(presentKey)) {
            if (t.getOpType().equals("Transpose") && GraphIndex.intsAttribute(t, "perm").equals(List.of(0L, 1L, 3L, 2L))) {
                for (OnnxMl.NodeProto mm : index.readers(t.getOutput(0))) {
                    if (mm.getOpType().equals("MatMul") && mm.getInput(1).equals(t.getOutput(0))) {
                        keyT = t;
                        scores = mm;
                    }
                }
            }
        }
        if (scores == null) {
            throw new IllegalArgumentException(where + "no MatMul(q, Transpose(" + presentKey + ", 0,1,3,2))");
        }
        HeadSplit query = headSplit(index, scores.getInput(0), where + "queries");
        if (!query.split.equals(key.split) || !key.split.equals(value.split)
                || query.output != 0 || key.output != 1 || value.output != 2) {
            throw new IllegalArgumentException(where + "queries, keys and values are not outputs 0, 1, 2 of one Split");
        }
        if (index.readers(keyT.getOutput(0)).size() != 1) {
            throw new IllegalArgumentException(where + "the transposed keys are read outside the attention");
        }
        String x = scores.getOutput(0);
        double scale = 1.0;
        OnnxMl.NodeProto next = single(index, x, where);
        if ((next.getOpType().equals("Mul") || next.getOpType().equals("Div")) && next.getInput(0).equals(x)
                && index.scalar(next.getInput(1)).isPresent()) {
            double c = index.scalar(next.getInput(1)).get();
            scale = next.getOpType().equals("Mul") ? c : 1.0 / c;
            x = next.getOutput(0);
            next = single(index, x, where);
        }
        if (!next.getOpType().equals("Add")) {
            throw new IllegalArgumentException(where + "expected the mask Add after the scores, found " + next.getOpType());
        }
        x = next.getOutput(0);
        next = single(index, x, where);
        if (!next.getOpType().equals("Softmax") || GraphIndex.intAttribute(next, "axis", -1) != -1
                && GraphIndex.intAttribute(next, "axis", -1) != 3) {
            throw new IllegalArgumentException(where + "expected Softmax over the last axis, found " + next.getOpType());
        }
        x = next.getOutput(0);
        next = single(index, x, where);
        if (next.getOpType().equals("Cast") && GraphIndex.intAttribute(next, "to", 0) == OnnxMl.TensorProto.DataType.FLOAT.getNumber()) {
            x = next.getOutput(0);
            next = single(index, x, where);
        }
        if (!next.getOpType().equals("MatMul") || !next.getInput(0).equals(x) || !next.getInput(1).equals(presentValue)) {
            throw new IllegalArgumentException(where + "expected MatMul(probabilities, " + presentValue + "), found "
                    + next.getOpType() + " " + next.getInputList());
        }
        OnnxMl.NodeProto transpose = single(index, next.getOutput(0), where);
        if (!transpose.getOpType().equals("Transpose")
                || !GraphIndex.intsAttribute(transpose, "perm").equals(List.of(0L, 2L, 1L, 3L))) {
            throw new IllegalArgumentException(where + "expected Transpose(0,2,1,3) merging heads, found " + transpose.getOpType());
        }
        OnnxMl.NodeProto merge = index.readers(transpose.getOutput(0)).stream()
                .filter(n -> n.getOpType().equals("Reshape") && n.getInput(0).equals(transpose.getOutput(0)))
                .findFirst().orElseThrow(() -> new IllegalArgumentException(where + "no Reshape merging the heads"));
        return new Layer(keyConcat, valueConcat, query.split.getInput(0), scale, merge);
    }

    /** A tensor [batch, heads, sequence, headDim] made from output {@code output} of {@code split}. */
    private record HeadSplit(OnnxMl.NodeProto split, int output) {
    }

    private static HeadSplit headSplit(GraphIndex index, String heads, String what) {
        OnnxMl.NodeProto transpose = index.producer(heads, "Transpose")
                .filter(t -> GraphIndex.intsAttribute(t, "perm").equals(List.of(0L, 2L, 1L, 3L)))
                .orElseThrow(() -> new IllegalArgumentException(what + " are not made by Transpose(0,2,1,3)"));
        OnnxMl.NodeProto reshape = index.producer(transpose.getInput(0), "Reshape")
                .orElseThrow(() -> new IllegalArgumentException(what + " are not split into heads by a Reshape"));
        OnnxMl.NodeProto split = index.producer(reshape.getInput(0), "Split")
                .orElseThrow(() -> new IllegalArgumentException(what + " do not come from a Split of packed QKV"));
        long axis = GraphIndex.intAttribute(split, "axis", 0);
        if (split.getOutputCount() != 3 || (axis != 2 && axis != -1)) {
            throw new IllegalArgumentException(what + ": the Split has " + split.getOutputCount()
                    + " outputs on axis " + axis + ", not 3 on the last axis");
        }
        return new HeadSplit(split, split.getOutputList().indexOf(reshape.getInput(0)));
    }

    private static OnnxMl.NodeProto pastConcat(GraphIndex index, String present, String past, String where) {
        OnnxMl.NodeProto concat = index.producer(present, "Concat")
                .orElseThrow(() -> new IllegalArgumentException(where + present + " is not made by a Concat"));
        long axis = GraphIndex.intAttribute(concat, "axis", 0);
        if (concat.getInputCount() != 2 || (axis != 2 && axis != -2) || !concat.getInput(0).equals(past)) {
            throw new IllegalArgumentException(where + present + " is not Concat(" + past + ", new) on the sequence axis");
        }
        return concat;
    }

    private static OnnxMl.NodeProto single(GraphIndex index, String tensor, String where) {
        List<OnnxMl.NodeProto> readers = index.readers(tensor);
        if (readers.size() != 1) {
            throw new IllegalArgumentException(where + tensor + " is read by " + readers.size() + " nodes, expected 1");
        }
        return readers.get(0);
    }

    private static String pastName(int layer, String kind) {
        return "past_key_values." + layer + "." + kind;
    }

    private static String presentName(int layer, String kind) {
        return "present." + layer + "." + kind;
    }

    private static OnnxMl.AttributeProto intAttribute(String name, long value) {
        return OnnxMl.AttributeProto.newBuilder().setName(name).setType(OnnxMl.AttributeProto.AttributeType.INT).setI(value).build();
    }

    private static OnnxMl.ValueInfoProto int32Input(String name, String dim) {
        OnnxMl.TensorShapeProto.Builder shape = OnnxMl.TensorShapeProto.newBuilder();
        if (dim != null) {
            shape.addDim(OnnxMl.TensorShapeProto.Dimension.newBuilder().setDimParam(dim));
        }
        return OnnxMl.ValueInfoProto.newBuilder().setName(name).setType(OnnxMl.TypeProto.newBuilder().setTensorType(
                OnnxMl.TypeProto.Tensor.newBuilder().setElemType(OnnxMl.TensorProto.DataType.INT32.getNumber())
                        .setShape(shape))).build();
    }
}

package io.tunestream.model.graph;

import ai.onnx.proto.OnnxMl;
import com.google.protobuf.ByteString;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
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
 * <p>Matched per layer, from the {@code Concat} that writes {@code present.i.key}:
 * <ul>
 *   <li>queries, keys and values split into heads by {@code Reshape} + {@code Transpose(0,2,1,3)}, either
 *   from one packed projection cut by a three-way {@code Split} (GPT-2; as many key/value heads as query
 *   heads) or from three projections (Llama, Qwen2), whatever computes each (a bias {@code Add} included);</li>
 *   <li>optionally rotary embeddings on queries and keys in HF's rotate_half form,
 *   {@code x * cos + Concat(-x[..., d/2:], x[..., :d/2]) * sin}, with the same cos/sin tables in every
 *   layer: GroupQueryAttention rotates with its cos/sin caches instead ({@code do_rotary}, not interleaved),
 *   built by evaluating the export's own table computation ({@link #rotaryTables}), at the graph's
 *   {@code position_ids} (the operator's optional input 9, honoured by ONNX Runtime 1.29's CPU kernel);</li>
 *   <li>grouped key/value heads repeated to the query heads ({@code Unsqueeze(2)}, {@code Expand},
 *   {@code Reshape}: HF's repeat_kv), which the operator does itself ({@code kv_num_heads});</li>
 *   <li>{@code MatMul(q, Transpose(keys, 0,1,3,2))}, an optional constant scale ({@code Mul} or {@code Div}),
 *   the mask {@code Add}, {@code Softmax}, optional {@code Cast}s, {@code MatMul(·, values)}, and
 *   {@code Transpose(0,2,1,3)} + {@code Reshape} merging heads.</li>
 * </ul>
 * Graphs that differ are refused with the reason, and the caller keeps the concatenating graph. A pure
 * proto transformation; only the serving runtime uses it.
 */
public final class GroupQueryAttentionRewrite {

    /** Input: int32 [batch], each row's cached positions before this step (where the step is written). */
    public static final String SEQLENS_K = "seqlens_k";
    /** Input: int32 scalar, the buffers' capacity (positions per row). */
    public static final String TOTAL_SEQUENCE_LENGTH = "total_sequence_length";
    /** Input of the {@link #rotaryTables} graph: int64 [1, positions], the positions 0 to positions - 1. */
    public static final String TABLE_POSITIONS = "position_ids";
    /** Output of the {@link #rotaryTables} graph: the cos table queries and keys are multiplied by. */
    public static final String TABLE_COS = "cos";
    /** Output of the {@link #rotaryTables} graph: the sin table rotated queries and keys are multiplied by. */
    public static final String TABLE_SIN = "sin";
    private static final String ATTENTION_MASK = "attention_mask";
    private static final String POSITION_IDS = "position_ids";
    private static final String MS_DOMAIN = "com.microsoft";
    private static final String PREFIX = "/tunestream/gqa/";
    private static final String COS_CACHE = PREFIX + "cos_cache";
    private static final String SIN_CACHE = PREFIX + "sin_cache";
    /** {@link #rotateHalf}'s answer for a tensor that is not rotate_half of the other. */
    private static final long NO_MATCH = Long.MIN_VALUE;

    private GroupQueryAttentionRewrite() {
    }

    /**
     * The decode-step graph of a model without rotary embeddings.
     *
     * @throws IllegalArgumentException naming the layer and the node that does not match, or if the
     *                                  attention rotates (see {@link #rewrite(OnnxMl.ModelProto, int, int, int, RotaryCache)})
     * @see #rewrite(OnnxMl.ModelProto, int, int, int, RotaryCache)
     */
    public static OnnxMl.ModelProto rewrite(OnnxMl.ModelProto model, int layers, int heads, int kvHeads) {
        return rewrite(model, layers, heads, kvHeads, null);
    }

    /**
     * @param model   a serving graph with {@code past_key_values.i.*} inputs and {@code present.i.*} outputs
     * @param layers  decoder layers
     * @param heads   query heads
     * @param kvHeads key/value heads
     * @param rotary  the cos/sin caches of a rotating attention (from its {@link #rotaryTables}), covering every
     *                position a step may have; null for an attention without rotary embeddings
     * @throws IllegalArgumentException naming the layer and the node that does not match; if the attention
     *                                  rotates and {@code rotary} is null, or it does not and {@code rotary} is given
     */
    public static OnnxMl.ModelProto rewrite(OnnxMl.ModelProto model, int layers, int heads, int kvHeads,
                                            RotaryCache rotary) {
        OnnxMl.GraphProto graph = model.getGraph();
        GraphIndex index = new GraphIndex(graph);
        List<Layer> matched = matchAll(index, layers, heads, kvHeads);
        boolean rotates = matched.get(0).rotation != null;
        if (rotates && rotary == null) {
            throw new IllegalArgumentException("the attention applies rotary embeddings: the rewrite needs their cos/sin caches");
        }
        if (!rotates && rotary != null) {
            throw new IllegalArgumentException("cos/sin caches given for an attention without rotary embeddings");
        }
        Set<OnnxMl.NodeProto> removed = new HashSet<>();
        List<OnnxMl.NodeProto> attention = new ArrayList<>();
        List<OnnxMl.NodeProto> replacedAt = new ArrayList<>();
        for (int i = 0; i < layers; i++) {
            Layer layer = matched.get(i);
            if (rotates && layer.rotation.half >= 0 && layer.rotation.half != rotary.halfDim()) {
                throw new IllegalArgumentException("layer " + i + ": rotate_half splits heads at " + layer.rotation.half
                        + ", the rotary caches have " + rotary.halfDim() + " angles a position");
            }
            removed.add(layer.keyConcat);
            removed.add(layer.valueConcat);
            removed.add(layer.mergeHeads);
            replacedAt.add(layer.mergeHeads);
            OnnxMl.NodeProto.Builder gqa = OnnxMl.NodeProto.newBuilder().setOpType("GroupQueryAttention").setDomain(MS_DOMAIN)
                    .setName(PREFIX + "layer" + i)
                    .addInput(layer.query).addInput(layer.key).addInput(layer.value)
                    .addInput(pastName(i, "key")).addInput(pastName(i, "value"))
                    .addInput(SEQLENS_K).addInput(TOTAL_SEQUENCE_LENGTH)
                    .addOutput(layer.mergeHeads.getOutput(0)).addOutput(presentName(i, "key")).addOutput(presentName(i, "value"))
                    .addAttribute(intAttribute("num_heads", heads))
                    .addAttribute(intAttribute("kv_num_heads", kvHeads))
                    .addAttribute(OnnxMl.AttributeProto.newBuilder().setName("scale")
                            .setType(OnnxMl.AttributeProto.AttributeType.FLOAT).setF((float) layer.scale));
            if (rotates) {
                // rotated at the step's position ids, as the export does: without them the operator would take each
                // row's cached length, which differs from the position when a row's cache holds a prefix (deep prompts)
                gqa.addInput(COS_CACHE).addInput(SIN_CACHE).addInput(POSITION_IDS)
                        .addAttribute(intAttribute("do_rotary", 1))
                        .addAttribute(intAttribute("rotary_interleaved", 0));
            }
            attention.add(gqa.build());
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
            if (n.getDomain().equals(MS_DOMAIN) && n.getOpType().equals("GroupQueryAttention")) {
                continue;
            }
            for (String input : n.getInputList()) {
                // the buffers hold capacity positions a row: whatever still read them or the mask would change meaning
                if (input.equals(ATTENTION_MASK) || input.startsWith("past_key_values.") || input.startsWith("present.")) {
                    throw new IllegalArgumentException("node " + n.getName() + " (" + n.getOpType() + ") still reads "
                            + input + " outside the attention");
                }
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
        if (rotates) {
            g.addInitializer(floatMatrix(COS_CACHE, rotary.positions(), rotary.halfDim(), rotary.cos()));
            g.addInitializer(floatMatrix(SIN_CACHE, rotary.positions(), rotary.halfDim(), rotary.sin()));
        }
        OnnxMl.ModelProto.Builder m = model.toBuilder().setGraph(g);
        if (model.getOpsetImportList().stream().noneMatch(o -> o.getDomain().equals(MS_DOMAIN))) {
            m.addOpsetImport(OnnxMl.OperatorSetIdProto.newBuilder().setDomain(MS_DOMAIN).setVersion(1));
        }
        return m.build();
    }

    /**
     * The export's own computation of the rotary tables its attention multiplies queries and keys by, as a
     * graph of the position ids alone: input {@link #TABLE_POSITIONS} (int64 [1, positions]), outputs
     * {@link #TABLE_COS} and {@link #TABLE_SIN} ([1, 1, positions, head_dim] as the export broadcasts them).
     * Evaluated over positions 0 to capacity - 1 it gives {@link RotaryCache#fromTables}'s input.
     *
     * @return empty if the attention has no rotary embeddings
     * @throws IllegalArgumentException if the attention does not match (see {@link #rewrite}), its layers
     *                                  rotate with different tables, or the tables depend on more than the position ids
     */
    public static Optional<OnnxMl.ModelProto> rotaryTables(OnnxMl.ModelProto model, int layers, int heads, int kvHeads,
                                                           int positions) {
        OnnxMl.GraphProto graph = model.getGraph();
        GraphIndex index = new GraphIndex(graph);
        Rotation rotation = matchAll(index, layers, heads, kvHeads).get(0).rotation;
        if (rotation == null) {
            return Optional.empty();
        }
        Set<String> inputs = new HashSet<>();
        graph.getInputList().forEach(i -> inputs.add(i.getName()));
        Set<String> initializers = new HashSet<>();
        graph.getInitializerList().forEach(t -> initializers.add(t.getName()));
        Set<OnnxMl.NodeProto> needed = new HashSet<>();
        Set<String> readInputs = new LinkedHashSet<>();
        Set<String> readInitializers = new HashSet<>();
        Deque<String> pending = new ArrayDeque<>(List.of(rotation.cos, rotation.sin));
        Set<String> seen = new HashSet<>();
        while (!pending.isEmpty()) {
            String tensor = pending.pop();
            if (tensor.isEmpty() || !seen.add(tensor)) {
                continue;
            }
            Optional<OnnxMl.NodeProto> producer = index.producer(tensor);
            if (producer.isPresent()) {
                if (needed.add(producer.get())) {
                    producer.get().getInputList().forEach(pending::push);
                }
            } else if (initializers.contains(tensor)) {
                readInitializers.add(tensor);
            } else if (inputs.contains(tensor)) {
                readInputs.add(tensor);
            } else {
                throw new IllegalArgumentException("the rotary tables read " + tensor + ", which nothing in the graph computes");
            }
        }
        if (!readInputs.equals(Set.of(TABLE_POSITIONS))) {
            throw new IllegalArgumentException("the rotary tables are computed from " + readInputs
                    + ", not from position_ids alone");
        }
        OnnxMl.GraphProto.Builder g = OnnxMl.GraphProto.newBuilder().setName("rotary_tables");
        graph.getNodeList().stream().filter(needed::contains).forEach(g::addNode);
        graph.getInitializerList().stream().filter(t -> readInitializers.contains(t.getName())).forEach(g::addInitializer);
        g.addInput(OnnxMl.ValueInfoProto.newBuilder().setName(TABLE_POSITIONS).setType(tensorType(
                OnnxMl.TensorProto.DataType.INT64, List.of(1L, (long) positions))));
        g.addNode(OnnxMl.NodeProto.newBuilder().setOpType("Identity").setName(PREFIX + "cos_table")
                .addInput(rotation.cos).addOutput(TABLE_COS));
        g.addNode(OnnxMl.NodeProto.newBuilder().setOpType("Identity").setName(PREFIX + "sin_table")
                .addInput(rotation.sin).addOutput(TABLE_SIN));
        g.addOutput(OnnxMl.ValueInfoProto.newBuilder().setName(TABLE_COS).setType(tensorType(OnnxMl.TensorProto.DataType.FLOAT, null)));
        g.addOutput(OnnxMl.ValueInfoProto.newBuilder().setName(TABLE_SIN).setType(tensorType(OnnxMl.TensorProto.DataType.FLOAT, null)));
        return Optional.of(model.toBuilder().setGraph(g).build());
    }

    /**
     * One layer's attention: the nodes the rewrite replaces and what the operator reads instead. With packed
     * QKV, {@code query} is the packed projection and {@code key}, {@code value} are empty.
     */
    private record Layer(OnnxMl.NodeProto keyConcat, OnnxMl.NodeProto valueConcat, String query, String key, String value,
                         Rotation rotation, double scale, OnnxMl.NodeProto mergeHeads) {
    }

    /**
     * {@code x * cos + rotate_half(x) * sin}.
     *
     * @param half where rotate_half splits the head if a constant says so, -1 if computed as half the head's width
     */
    private record Rotation(String x, String cos, String sin, long half) {
    }

    private static List<Layer> matchAll(GraphIndex index, int layers, int heads, int kvHeads) {
        if (heads % kvHeads != 0) {
            throw new IllegalArgumentException(heads + " query heads do not group over " + kvHeads + " key/value heads");
        }
        List<Layer> matched = new ArrayList<>();
        for (int i = 0; i < layers; i++) {
            Layer layer = match(index, i, heads, kvHeads);
            if (!matched.isEmpty()) {
                Rotation first = matched.get(0).rotation;
                Rotation here = layer.rotation;
                if ((first == null) != (here == null)) {
                    throw new IllegalArgumentException("layer " + i + (here == null ? " does not rotate" : " rotates")
                            + " queries and keys, layer 0 " + (first == null ? "does not" : "does"));
                }
                if (here != null && (!here.cos.equals(first.cos) || !here.sin.equals(first.sin))) {
                    throw new IllegalArgumentException("layer " + i + " rotates with other cos/sin tables than layer 0 ("
                            + here.cos + ", " + here.sin + " instead of " + first.cos + ", " + first.sin + ")");
                }
            }
            matched.add(layer);
        }
        return matched;
    }

    private static Layer match(GraphIndex index, int i, int heads, int kvHeads) {
        String where = "layer " + i + ": ";
        String presentKey = presentName(i, "key");
        String presentValue = presentName(i, "value");
        OnnxMl.NodeProto keyConcat = pastConcat(index, presentKey, pastName(i, "key"), where);
        OnnxMl.NodeProto valueConcat = pastConcat(index, presentValue, pastName(i, "value"), where);
        Rotation keyRotation = rotation(index, keyConcat.getInput(1), where + "new keys");
        HeadSplit key = headSplit(index, keyRotation == null ? keyConcat.getInput(1) : keyRotation.x, where + "new keys");
        HeadSplit value = headSplit(index, valueConcat.getInput(1), where + "new values");

        String keys = repeatedHeads(index, presentKey);
        OnnxMl.NodeProto keyT = null;
        OnnxMl.NodeProto scores = null;
        for (OnnxMl.NodeProto t : index.readers(keys)) {
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
            throw new IllegalArgumentException(where + "no MatMul(q, Transpose(" + presentKey + ", 0,1,3,2))"
                    + (keys.equals(presentKey) ? "" : " of its heads repeated"));
        }
        if (index.readers(keyT.getOutput(0)).size() != 1) {
            throw new IllegalArgumentException(where + "the transposed keys are read outside the attention");
        }
        Rotation queryRotation = rotation(index, scores.getInput(0), where + "queries");
        HeadSplit query = headSplit(index, queryRotation == null ? scores.getInput(0) : queryRotation.x, where + "queries");
        if ((queryRotation == null) != (keyRotation == null)) {
            throw new IllegalArgumentException(where + "rotary embeddings on the " + (keyRotation == null ? "queries" : "keys")
                    + " only");
        }
        if (keyRotation != null && (!keyRotation.cos.equals(queryRotation.cos) || !keyRotation.sin.equals(queryRotation.sin)
                || keyRotation.half != queryRotation.half)) {
            throw new IllegalArgumentException(where + "queries and keys rotate with different cos/sin tables");
        }

        String x = scores.getOutput(0);
        double scale = 1.0;
        OnnxMl.NodeProto next = single(index, x, where);
        if (next.getOpType().equals("Mul") || next.getOpType().equals("Div")) {
            int other = next.getInput(0).equals(x) ? 1 : 0;
            Optional<Double> c = index.scalar(next.getInput(other));
            if (c.isPresent() && (other == 1 || next.getOpType().equals("Mul"))) {
                scale = next.getOpType().equals("Mul") ? c.get() : 1.0 / c.get();
                x = next.getOutput(0);
                next = single(index, x, where);
            }
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
        while (next.getOpType().equals("Cast")
                && GraphIndex.intAttribute(next, "to", 0) == OnnxMl.TensorProto.DataType.FLOAT.getNumber()) {
            x = next.getOutput(0);
            next = single(index, x, where);
        }
        String values = repeatedHeads(index, presentValue);
        if (!next.getOpType().equals("MatMul") || !next.getInput(0).equals(x) || !next.getInput(1).equals(values)) {
            throw new IllegalArgumentException(where + "expected MatMul(probabilities, " + presentValue
                    + (values.equals(presentValue) ? "" : " with its heads repeated") + "), found "
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

        if (query.split == null && key.split == null && value.split == null) {
            return new Layer(keyConcat, valueConcat, query.source, key.source, value.source, keyRotation, scale, merge);
        }
        if (query.split == null || !query.split.equals(key.split) || !key.split.equals(value.split)
                || query.output != 0 || key.output != 1 || value.output != 2) {
            throw new IllegalArgumentException(where + "queries, keys and values are not outputs 0, 1, 2 of one Split");
        }
        if (heads != kvHeads) {
            throw new IllegalArgumentException(where + "packed QKV with " + heads + " query heads and " + kvHeads
                    + " key/value heads is not matched");
        }
        return new Layer(keyConcat, valueConcat, query.split.getInput(0), "", "", keyRotation, scale, merge);
    }

    /**
     * A tensor [batch, heads, sequence, headDim] made by {@code Transpose(0,2,1,3)} of a {@code Reshape} of
     * {@code source} [batch, sequence, heads * headDim]: output {@code output} of {@code split} when that is a
     * Split, else {@code split} is null.
     */
    private record HeadSplit(String source, OnnxMl.NodeProto split, int output) {
    }

    private static HeadSplit headSplit(GraphIndex index, String heads, String what) {
        OnnxMl.NodeProto transpose = index.producer(heads, "Transpose")
                .filter(t -> GraphIndex.intsAttribute(t, "perm").equals(List.of(0L, 2L, 1L, 3L)))
                .orElseThrow(() -> new IllegalArgumentException(what + " are not made by Transpose(0,2,1,3)"));
        OnnxMl.NodeProto reshape = index.producer(transpose.getInput(0), "Reshape")
                .orElseThrow(() -> new IllegalArgumentException(what + " are not split into heads by a Reshape"));
        String source = reshape.getInput(0);
        Optional<OnnxMl.NodeProto> split = index.producer(source, "Split");
        if (split.isEmpty()) {
            return new HeadSplit(source, null, -1);
        }
        long axis = GraphIndex.intAttribute(split.get(), "axis", 0);
        if (split.get().getOutputCount() != 3 || (axis != 2 && axis != -1)) {
            throw new IllegalArgumentException(what + ": the Split has " + split.get().getOutputCount()
                    + " outputs on axis " + axis + ", not 3 on the last axis");
        }
        return new HeadSplit(source, split.get(), split.get().getOutputList().indexOf(source));
    }

    /**
     * The rotation whose result is {@code rotated}, or null if it is not the sum HF's rotary embedding makes.
     *
     * @throws IllegalArgumentException if it is a sum of two products that is not {@code x*cos + rotate_half(x)*sin}
     */
    private static Rotation rotation(GraphIndex index, String rotated, String what) {
        Optional<OnnxMl.NodeProto> add = index.producer(rotated, "Add");
        if (add.isEmpty()) {
            return null;
        }
        Optional<OnnxMl.NodeProto> a = index.producer(add.get().getInput(0), "Mul");
        Optional<OnnxMl.NodeProto> b = index.producer(add.get().getInput(1), "Mul");
        if (a.isEmpty() || b.isEmpty()) {
            return null;
        }
        for (OnnxMl.NodeProto[] pair : List.of(new OnnxMl.NodeProto[]{a.get(), b.get()}, new OnnxMl.NodeProto[]{b.get(), a.get()})) {
            for (int xi = 0; xi < 2; xi++) {
                String x = pair[0].getInput(xi);
                for (int ri = 0; ri < 2; ri++) {
                    long half = rotateHalf(index, pair[1].getInput(ri), x);
                    if (half != NO_MATCH) {
                        return new Rotation(x, pair[0].getInput(1 - xi), pair[1].getInput(1 - ri), half);
                    }
                }
            }
        }
        throw new IllegalArgumentException(what + ": " + add.get().getName() + " adds two products, but not x * cos + "
                + "rotate_half(x) * sin with rotate_half(x) = Concat(-x[..., d/2:], x[..., :d/2])");
    }

    /**
     * Whether {@code r} is {@code Concat(Neg(x[..., h:]), x[..., :h])} on the last axis: returns h when a
     * constant, -1 when computed as half of x's last dimension, {@link #NO_MATCH} otherwise.
     */
    private static long rotateHalf(GraphIndex index, String r, String x) {
        Optional<OnnxMl.NodeProto> concat = index.producer(r, "Concat");
        if (concat.isEmpty() || concat.get().getInputCount() != 2 || !lastAxis(GraphIndex.intAttribute(concat.get(), "axis", 0))) {
            return NO_MATCH;
        }
        Optional<OnnxMl.NodeProto> neg = index.producer(concat.get().getInput(0), "Neg");
        Optional<OnnxMl.NodeProto> upper = neg.flatMap(n -> index.producer(n.getInput(0), "Slice"));
        Optional<OnnxMl.NodeProto> lower = index.producer(concat.get().getInput(1), "Slice");
        if (upper.isEmpty() || lower.isEmpty() || !upper.get().getInput(0).equals(x) || !lower.get().getInput(0).equals(x)
                || !sliceOnLastAxis(index, upper.get()) || !sliceOnLastAxis(index, lower.get())) {
            return NO_MATCH;
        }
        // lower = x[..., 0:h], upper = x[..., h:end]
        Optional<long[]> lowerStart = index.longs(lower.get().getInput(1));
        Optional<long[]> upperEnd = index.longs(upper.get().getInput(2));
        if (lowerStart.isEmpty() || lowerStart.get().length != 1 || lowerStart.get()[0] != 0
                || upperEnd.isEmpty() || upperEnd.get().length != 1 || upperEnd.get()[0] < Integer.MAX_VALUE) {
            return NO_MATCH;
        }
        String lowerEnd = lower.get().getInput(2);
        String upperStart = upper.get().getInput(1);
        Optional<long[]> lowerEndValue = index.longs(lowerEnd);
        Optional<long[]> upperStartValue = index.longs(upperStart);
        if (lowerEndValue.isPresent() && upperStartValue.isPresent()) {
            long h = lowerEndValue.get().length == 1 ? lowerEndValue.get()[0] : NO_MATCH;
            return upperStartValue.get().length == 1 && upperStartValue.get()[0] == h && h > 0 ? h : NO_MATCH;
        }
        String lowerHalf = unwrapped(index, lowerEnd);
        return lowerHalf.equals(unwrapped(index, upperStart)) && isHalfOfLastDim(index, lowerHalf, x) ? -1 : NO_MATCH;
    }

    private static boolean sliceOnLastAxis(GraphIndex index, OnnxMl.NodeProto slice) {
        if (slice.getInputCount() < 4) {
            return false;
        }
        Optional<long[]> axes = index.longs(slice.getInput(3));
        if (axes.isEmpty() || axes.get().length != 1 || !lastAxis(axes.get()[0])) {
            return false;
        }
        if (slice.getInputCount() < 5 || slice.getInput(4).isEmpty()) {
            return true;
        }
        Optional<long[]> steps = index.longs(slice.getInput(4));
        return steps.isPresent() && steps.get().length == 1 && steps.get()[0] == 1;
    }

    /** A [batch, heads, sequence, headDim] tensor's last axis. */
    private static boolean lastAxis(long axis) {
        return axis == -1 || axis == 3;
    }

    /** {@code tensor} without the Unsqueeze and Cast nodes that only reshape or retype a shape value. */
    private static String unwrapped(GraphIndex index, String tensor) {
        while (true) {
            Optional<OnnxMl.NodeProto> n = index.producer(tensor);
            if (n.isEmpty() || !n.get().getOpType().equals("Unsqueeze") && !n.get().getOpType().equals("Cast")) {
                return tensor;
            }
            tensor = n.get().getInput(0);
        }
    }

    /** Whether {@code tensor} is {@code Div(Gather(Shape(x), last axis), 2)}. */
    private static boolean isHalfOfLastDim(GraphIndex index, String tensor, String x) {
        Optional<OnnxMl.NodeProto> div = index.producer(tensor, "Div");
        if (div.isEmpty() || index.longs(div.get().getInput(1)).map(v -> v.length != 1 || v[0] != 2).orElse(true)) {
            return false;
        }
        Optional<OnnxMl.NodeProto> gather = index.producer(unwrapped(index, div.get().getInput(0)), "Gather");
        if (gather.isEmpty() || index.longs(gather.get().getInput(1)).map(v -> v.length != 1 || !lastAxis(v[0])).orElse(true)) {
            return false;
        }
        Optional<OnnxMl.NodeProto> shape = index.producer(gather.get().getInput(0), "Shape");
        return shape.isPresent() && shape.get().getInput(0).equals(x) && shape.get().getAttributeCount() == 0;
    }

    /**
     * What the attention reads of a present tensor: its heads repeated to the query heads when the export does
     * that (HF's repeat_kv: {@code Reshape(Expand(Unsqueeze(present, 2)))}), else the tensor itself.
     */
    private static String repeatedHeads(GraphIndex index, String present) {
        for (OnnxMl.NodeProto unsqueeze : index.readers(present)) {
            if (!unsqueeze.getOpType().equals("Unsqueeze") || !unsqueezeAxes(index, unsqueeze).equals(List.of(2L))) {
                continue;
            }
            for (OnnxMl.NodeProto expand : index.readers(unsqueeze.getOutput(0))) {
                if (!expand.getOpType().equals("Expand") || !expand.getInput(0).equals(unsqueeze.getOutput(0))) {
                    continue;
                }
                for (OnnxMl.NodeProto reshape : index.readers(expand.getOutput(0))) {
                    if (reshape.getOpType().equals("Reshape") && reshape.getInput(0).equals(expand.getOutput(0))) {
                        return reshape.getOutput(0);
                    }
                }
            }
        }
        return present;
    }

    private static List<Long> unsqueezeAxes(GraphIndex index, OnnxMl.NodeProto unsqueeze) {
        if (unsqueeze.getInputCount() > 1) {
            return index.longs(unsqueeze.getInput(1)).map(v -> Arrays.stream(v).boxed().toList()).orElse(List.of());
        }
        return GraphIndex.intsAttribute(unsqueeze, "axes");
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

    private static OnnxMl.TensorProto floatMatrix(String name, int rows, int columns, float[] values) {
        ByteBuffer bytes = ByteBuffer.allocate(values.length * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
        bytes.asFloatBuffer().put(values);
        return OnnxMl.TensorProto.newBuilder().setName(name).setDataType(OnnxMl.TensorProto.DataType.FLOAT.getNumber())
                .addDims(rows).addDims(columns).setRawData(ByteString.copyFrom(bytes.array())).build();
    }

    private static OnnxMl.TypeProto tensorType(OnnxMl.TensorProto.DataType type, List<Long> dims) {
        OnnxMl.TypeProto.Tensor.Builder t = OnnxMl.TypeProto.Tensor.newBuilder().setElemType(type.getNumber());
        if (dims != null) {
            OnnxMl.TensorShapeProto.Builder shape = OnnxMl.TensorShapeProto.newBuilder();
            dims.forEach(d -> shape.addDim(OnnxMl.TensorShapeProto.Dimension.newBuilder().setDimValue(d)));
            t.setShape(shape);
        }
        return OnnxMl.TypeProto.newBuilder().setTensorType(t).build();
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

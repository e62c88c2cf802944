package io.tunestream.model.graph;

import ai.onnx.proto.OnnxMl;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static io.tunestream.model.graph.GraphProtos.intAttr;
import static io.tunestream.model.graph.GraphProtos.intsAttr;
import static io.tunestream.model.graph.GraphProtos.info;

/**
 * The decode-chunk loop of an in-place decode graph ({@link GroupQueryAttentionRewrite}) that does not carry the KV
 * cache: the cache from before the chunk is a read-only input the loop body reads from the outer scope, and the
 * body carries only the chunk's own keys and values (at most {@code steps} positions a row). Each layer's
 * GroupQueryAttention becomes explicit attention over the two segments; the chunk's keys and values come back as
 * outputs ({@link DecodeChunkGraph#chunkOutput}), which the caller appends to its KV buffers at each row's length.
 *
 * <p>Why: ONNX Runtime's CPU GroupQueryAttention appends in place only when its present is its past's buffer, and
 * inside a Loop body the present is a new tensor at every iteration, so a loop carrying the cache
 * ({@link DecodeChunkGraph#wrapInPlace}) copies every row's cached positions at every step: at batch 32 that cost
 * more than the runs a chunk saves.
 *
 * <p>Per chunk, before the loop: each row's valid past positions ({@code position < seqlens_k[b]} over the buffers'
 * capacity). Per step and layer: queries as [batch, kvHeads, groups, headDim] (query head h reads key/value head
 * h / groups, as GroupQueryAttention and HF's repeat_kv do), so the products broadcast over the groups with no copy
 * of the cache; rotary embeddings on queries and the new keys by ONNX Runtime's RotaryEmbedding (the kernel
 * GroupQueryAttention rotates with: not interleaved, at the step's position ids, the rewrite's cos/sin caches); scores over the past read in place (ONNX Runtime's FusedMatMul with transB: no
 * transposed copy of the keys a step or a chunk; invalid positions -inf) and over the chunk's positions so far
 * (every one visible), scaled by the operator's {@code scale}, one Softmax over both, and the weighted sum of
 * both value segments. A pure proto transformation.
 */
public final class ChunkSegmentAttention {

    private static final String P = "/tunestream/chunk_segment/";
    private static final String GQA = "GroupQueryAttention";
    private static final int INT64 = OnnxMl.TensorProto.DataType.INT64.getNumber();
    private static final int BOOL = OnnxMl.TensorProto.DataType.BOOL.getNumber();
    private static final int FLOAT = OnnxMl.TensorProto.DataType.FLOAT.getNumber();

    private ChunkSegmentAttention() {
    }

    /**
     * Wraps an in-place decode-step graph in a decode-chunk loop whose attention reads the past from outside the
     * loop. Inputs as {@link DecodeChunkGraph#wrapInPlace} takes them, without {@code total_sequence_length}; the
     * past inputs are read, never written. Outputs: {@link DecodeChunkGraph#TOKENS} and, per layer and kind,
     * {@link DecodeChunkGraph#chunkOutput} [batch, kvHeads, steps, headDim], the keys and values of every token the
     * chunk fed (a row's positions after it finished hold garbage).
     *
     * @param decode         an in-place decode graph: one GroupQueryAttention a layer, reading
     *                       {@code past_key_values.i.*}
     * @param layers         decoder layers
     * @param headDim        width of one head
     * @param embeddingTable the token-embedding initializer
     * @param vocab          vocabulary size
     * @param eosIds         end-of-sequence tokens
     * @throws IllegalArgumentException if a layer has no GroupQueryAttention of the rewrite's form, or anything else
     *                                  in the step reads the cache
     */
    public static OnnxMl.ModelProto wrap(OnnxMl.ModelProto decode, int layers, int headDim,
                                         OnnxMl.TensorProto embeddingTable, int vocab, List<Integer> eosIds) {
        long opset = decode.getOpsetImportList().stream().filter(o -> o.getDomain().isEmpty() || o.getDomain().equals("ai.onnx"))
                .mapToLong(OnnxMl.OperatorSetIdProto::getVersion).max().orElse(0);
        return DecodeChunkGraph.wrap(decode, true, embeddingTable, vocab, eosIds,
                graph -> cacheLoop(graph, layers, headDim, opset));
    }

    private static DecodeChunkGraph.CacheLoop cacheLoop(OnnxMl.GraphProto graph, int layers, int headDim, long opset) {
        Map<String, OnnxMl.NodeProto> attention = new HashMap<>();
        for (OnnxMl.NodeProto n : graph.getNodeList()) {
            if (n.getOpType().equals(GQA) && n.getDomain().equals("com.microsoft")) {
                if (n.getInputCount() < 7 || n.getOutputCount() < 3) {
                    throw new IllegalArgumentException("GroupQueryAttention " + n.getName() + " has " + n.getInputCount()
                            + " inputs and " + n.getOutputCount() + " outputs, not the in-place rewrite's");
                }
                attention.put(n.getInput(3), n);
            }
        }
        Map<String, OnnxMl.TensorProto> initializers = new HashMap<>();
        graph.getInitializerList().forEach(t -> initializers.put(t.getName(), t));
        List<OnnxMl.NodeProto> before = new ArrayList<>();
        List<OnnxMl.TensorProto> constants = new ArrayList<>();
        // the valid past positions of each row, [batch, 1, 1, capacity] (shared by the layers), and the capacity
        constants.add(longs(P + "zero", List.of(), 0));
        constants.add(longs(P + "one", List.of(), 1));
        constants.add(longs(P + "two", List.of(), 2));
        constants.add(longs(P + "zeros1", List.of(1L), 0));
        constants.add(longs(P + "axis2", List.of(1L), 2));
        constants.add(longs(P + "row_shape", List.of(4L), -1, 1, 1, 1));
        constants.add(longs(P + "length_shape", List.of(1L), 1));
        before.add(node("Cast", List.of(DecodeChunkGraph.SEQLENS), P + "lengths", intAttr("to", INT64)));
        before.add(node("Shape", List.of(DecodeChunkGraph.pastInput(0, "key")), P + "past_shape"));
        before.add(node("Gather", List.of(P + "past_shape", P + "two"), P + "capacity", intAttr("axis", 0)));
        before.add(node("Reshape", List.of(P + "capacity", P + "length_shape"), P + "capacity1"));
        before.add(node("Range", List.of(P + "zero", P + "capacity", P + "one"), P + "past_positions"));
        before.add(node("Reshape", List.of(P + "lengths", P + "row_shape"), P + "lengths4"));
        before.add(node("Less", List.of(P + "past_positions", P + "lengths4"), P + "past_valid"));

        List<OnnxMl.NodeProto> step = new ArrayList<>();
        List<OnnxMl.ValueInfoProto> bodyInputs = new ArrayList<>();
        List<OnnxMl.ValueInfoProto> bodyOutputs = new ArrayList<>();
        List<String> initial = new ArrayList<>();
        List<String> finals = new ArrayList<>();
        List<OnnxMl.NodeProto> after = new ArrayList<>();
        List<OnnxMl.ValueInfoProto> outerInputs = new ArrayList<>();
        List<OnnxMl.ValueInfoProto> outerOutputs = new ArrayList<>();
        Map<OnnxMl.NodeProto, List<OnnxMl.NodeProto>> replaced = new HashMap<>();
        for (int layer = 0; layer < layers; layer++) {
            String pastKey = "past_key_values." + layer + ".key";
            OnnxMl.NodeProto gqa = attention.get(pastKey);
            if (gqa == null) {
                throw new IllegalArgumentException("layer " + layer + " has no GroupQueryAttention reading " + pastKey);
            }
            if (!gqa.getInput(4).equals("past_key_values." + layer + ".value")) {
                throw new IllegalArgumentException("GroupQueryAttention " + gqa.getName() + " reads values " + gqa.getInput(4));
            }
            OnnxMl.ValueInfoProto pastInfo = graph.getInputList().stream().filter(i -> i.getName().equals(pastKey))
                    .findFirst().orElseThrow(() -> new IllegalArgumentException("the decode graph has no input '" + pastKey + "'"));
            int elemType = pastInfo.getType().getTensorType().getElemType();
            String l = P + "layer" + layer + "/";
            String pastK = DecodeChunkGraph.pastInput(layer, "key");
            String pastV = DecodeChunkGraph.pastInput(layer, "value");
            outerInputs.add(pastInfo.toBuilder().setName(pastK).build());
            outerInputs.add(pastInfo.toBuilder().setName(pastV).build());
            // the chunk's segment starts empty: [batch, kvHeads, headDim, 0] keys (transposed), [batch, kvHeads, 0, headDim] values
            before.add(node("Slice", List.of(pastK, P + "zeros1", P + "zeros1", P + "axis2"), l + "no_values"));
            before.add(node("Transpose", List.of(l + "no_values"), l + "no_keys_t", intsAttr("perm", 0, 1, 3, 2)));
            String keysIn = l + "chunk_keys_t";
            String valuesIn = l + "chunk_values";
            String keysOut = l + "chunk_keys_t_out";
            String valuesOut = l + "chunk_values_out";
            initial.add(l + "no_keys_t");
            initial.add(l + "no_values");
            bodyInputs.add(info(keysIn, elemType, 4));
            bodyInputs.add(info(valuesIn, elemType, 4));
            bodyOutputs.add(info(keysOut, elemType, 4));
            bodyOutputs.add(info(valuesOut, elemType, 4));
            finals.add(l + "last_keys_t");
            finals.add(DecodeChunkGraph.chunkOutput(layer, "value"));
            after.add(node("Transpose", List.of(l + "last_keys_t"), DecodeChunkGraph.chunkOutput(layer, "key"),
                    intsAttr("perm", 0, 1, 3, 2)));
            outerOutputs.add(info(DecodeChunkGraph.chunkOutput(layer, "key"), elemType, 4));
            outerOutputs.add(info(DecodeChunkGraph.chunkOutput(layer, "value"), elemType, 4));
            replaced.put(gqa, attention(gqa, l, headDim, opset, initializers, constants, keysIn, valuesIn, keysOut, valuesOut,
                    pastK, pastV));
        }
        if (attention.size() != layers) {
            throw new IllegalArgumentException("the decode graph has " + attention.size() + " GroupQueryAttention nodes for "
                    + layers + " layers");
        }
        for (OnnxMl.NodeProto n : graph.getNodeList()) {
            if (replaced.containsKey(n)) {
                step.addAll(replaced.get(n));
                continue;
            }
            for (String input : n.getInputList()) {
                // the past is read-only: nothing else may read it (or write a present)
                if (input.startsWith("past_key_values.") || input.startsWith("present.")
                        || input.equals(GroupQueryAttentionRewrite.TOTAL_SEQUENCE_LENGTH)) {
                    throw new IllegalArgumentException("node " + n.getName() + " (" + n.getOpType() + ") reads " + input
                            + " outside the attention");
                }
            }
            step.add(n);
        }
        return new DecodeChunkGraph.CacheLoop(step, before, initial, bodyInputs, bodyOutputs, finals, after, outerInputs,
                outerOutputs, constants);
    }

    /** The nodes computing one GroupQueryAttention's output (its first) over the past and the chunk's segment. */
    private static List<OnnxMl.NodeProto> attention(OnnxMl.NodeProto gqa, String l, int headDim, long opset,
                                                    Map<String, OnnxMl.TensorProto> initializers,
                                                    List<OnnxMl.TensorProto> constants, String keysIn, String valuesIn,
                                                    String keysOut, String valuesOut, String pastKeys, String pastValues) {
        long heads = intAttribute(gqa, "num_heads", -1);
        long kvHeads = intAttribute(gqa, "kv_num_heads", -1);
        if (heads < 1 || kvHeads < 1 || heads % kvHeads != 0) {
            throw new IllegalArgumentException("GroupQueryAttention " + gqa.getName() + " has " + heads + " heads over "
                    + kvHeads + " key/value heads");
        }
        if (intAttribute(gqa, "local_window_size", -1) != -1 || intAttribute(gqa, "smooth_softmax", 0) != 0
                || intAttribute(gqa, "rotary_interleaved", 0) != 0 || gqa.getAttributeList().stream()
                .anyMatch(a -> a.getName().equals("softcap") && a.getF() != 0)) {
            throw new IllegalArgumentException("GroupQueryAttention " + gqa.getName() + " uses a sliding window, softcap, "
                    + "smooth softmax or interleaved rotation, which the chunk's attention does not");
        }
        long groups = heads / kvHeads;
        float scale = gqa.getAttributeList().stream().filter(a -> a.getName().equals("scale")).map(OnnxMl.AttributeProto::getF)
                .findFirst().orElse(0f);
        if (scale == 0f) {
            throw new IllegalArgumentException("GroupQueryAttention " + gqa.getName() + " leaves its scale to the head size");
        }
        List<OnnxMl.NodeProto> n = new ArrayList<>();
        constants.add(longs(l + "q_shape", List.of(4L), 0, kvHeads, groups, -1));
        constants.add(longs(l + "kv_shape", List.of(4L), 0, kvHeads, 1, -1));
        constants.add(longs(l + "kt_shape", List.of(4L), 0, kvHeads, -1, 1));
        constants.add(longs(l + "out_shape", List.of(3L), 0, 1, -1));
        constants.add(longs(l + "axis3", List.of(1L), 3));
        constants.add(longs(l + "end", List.of(1L), Long.MAX_VALUE));
        constants.add(floats(l + "minus_inf", Float.NEGATIVE_INFINITY));
        constants.add(floats(l + "scale", scale));
        String q = l + "q";
        String v = l + "v";
        String query = gqa.getInput(0);
        String key = gqa.getInput(1);
        String value = gqa.getInput(2);
        if (key.isEmpty()) {
            // packed [batch, 1, (heads + 2 kvHeads) headDim]: queries, keys, values one after the other
            OnnxMl.NodeProto.Builder split = OnnxMl.NodeProto.newBuilder().setOpType("Split").setName(l + "Split")
                    .addInput(query).addOutput(l + "q3").addOutput(l + "k3").addOutput(l + "v3")
                    .addAttribute(intAttr("axis", 2));
            long[] sizes = {heads * headDim, kvHeads * headDim, kvHeads * headDim};
            if (opset >= 13) {
                constants.add(longs(l + "split", List.of(3L), sizes));
                split.addInput(l + "split");
            } else {
                split.addAttribute(intsAttr("split", sizes));
            }
            n.add(split.build());
            query = l + "q3";
            key = l + "k3";
            value = l + "v3";
        }
        String keyT = l + "k_t";
        if (intAttribute(gqa, "do_rotary", 0) != 0) {
            if (gqa.getInputCount() < 10 || gqa.getInput(9).isEmpty()) {
                throw new IllegalArgumentException("GroupQueryAttention " + gqa.getName() + " rotates without position ids");
            }
            OnnxMl.TensorProto cosCache = initializers.get(gqa.getInput(7));
            if (cosCache == null || cosCache.getDimsCount() != 2 || 2 * cosCache.getDims(1) != headDim) {
                throw new IllegalArgumentException("GroupQueryAttention " + gqa.getName() + " rotates with cos cache "
                        + gqa.getInput(7) + ", not a [positions, " + headDim / 2 + "] initializer");
            }
            // the operator GroupQueryAttention rotates with itself (ONNX Runtime's rotary kernel), one node each
            n.add(rotary(query, gqa, heads, l + "q_rotated"));
            n.add(rotary(key, gqa, kvHeads, l + "k_rotated"));
            query = l + "q_rotated";
            key = l + "k_rotated";
        }
        n.add(node("Reshape", List.of(query, l + "q_shape"), q));
        n.add(node("Reshape", List.of(value, l + "kv_shape"), v));
        // [batch, 1, kvHeads headDim] is [batch, kvHeads, headDim, 1] in memory: no transpose a step
        n.add(node("Reshape", List.of(key, l + "kt_shape"), keyT));
        n.add(node("Concat", List.of(keysIn, keyT), keysOut, intAttr("axis", 3)));
        n.add(node("Concat", List.of(valuesIn, v), valuesOut, intAttr("axis", 2)));
        n.add(keyProduct(q, pastKeys, l + "past_scores"));
        n.add(node("Where", List.of(P + "past_valid", l + "past_scores", l + "minus_inf"), l + "past_scores_masked"));
        n.add(node("MatMul", List.of(q, keysOut), l + "chunk_scores"));
        n.add(node("Concat", List.of(l + "past_scores_masked", l + "chunk_scores"), l + "scores", intAttr("axis", 3)));
        n.add(node("Mul", List.of(l + "scores", l + "scale"), l + "scaled"));
        n.add(node("Softmax", List.of(l + "scaled"), l + "probs", intAttr("axis", 3)));
        n.add(node("Slice", List.of(l + "probs", P + "zeros1", P + "capacity1", l + "axis3"), l + "past_probs"));
        n.add(node("Slice", List.of(l + "probs", P + "capacity1", l + "end", l + "axis3"), l + "chunk_probs"));
        n.add(node("MatMul", List.of(l + "past_probs", pastValues), l + "past_out"));
        n.add(node("MatMul", List.of(l + "chunk_probs", valuesOut), l + "chunk_out"));
        n.add(node("Add", List.of(l + "past_out", l + "chunk_out"), l + "out"));
        n.add(node("Reshape", List.of(l + "out", l + "out_shape"), gqa.getOutput(0)));
        return n;
    }

    /**
     * {@code queries · keysᵀ} over keys as the buffers hold them ([batch, kvHeads, positions, headDim]): ONNX Runtime's
     * FusedMatMul with transB, whose CPU kernel hands the transposition to MLAS (a single query row a group takes its
     * M = 1 kernel for a transposed B, which reads the keys in place: no copy of the cache a step or a chunk).
     */
    private static OnnxMl.NodeProto keyProduct(String queries, String keys, String output) {
        return OnnxMl.NodeProto.newBuilder().setOpType("FusedMatMul").setDomain("com.microsoft").setName(P + "FusedMatMul/" + output)
                .addInput(queries).addInput(keys).addOutput(output).addAttribute(intAttr("transB", 1)).build();
    }

    /**
     * ONNX Runtime's RotaryEmbedding (not interleaved) of [batch, 1, heads * headDim] at the step's position ids, with
     * the cos/sin caches GroupQueryAttention rotated with.
     */
    private static OnnxMl.NodeProto rotary(String input, OnnxMl.NodeProto gqa, long heads, String output) {
        return OnnxMl.NodeProto.newBuilder().setOpType("RotaryEmbedding").setDomain("com.microsoft")
                .setName(P + "RotaryEmbedding/" + output)
                .addInput(input).addInput(gqa.getInput(9)).addInput(gqa.getInput(7)).addInput(gqa.getInput(8))
                .addOutput(output).addAttribute(intAttr("interleaved", 0)).addAttribute(intAttr("num_heads", heads)).build();
    }

    private static long intAttribute(OnnxMl.NodeProto n, String name, long absent) {
        return n.getAttributeList().stream().filter(a -> a.getName().equals(name)).mapToLong(OnnxMl.AttributeProto::getI)
                .findFirst().orElse(absent);
    }

    private static OnnxMl.TensorProto longs(String name, List<Long> dims, long... values) {
        return OnnxMl.TensorProto.newBuilder().setName(name).setDataType(INT64).addAllDims(dims)
                .addAllInt64Data(java.util.Arrays.stream(values).boxed().toList()).build();
    }

    private static OnnxMl.TensorProto floats(String name, float value) {
        return OnnxMl.TensorProto.newBuilder().setName(name).setDataType(FLOAT).addFloatData(value).build();
    }

    private static OnnxMl.NodeProto node(String op, List<String> inputs, String output, OnnxMl.AttributeProto... attributes) {
        return GraphProtos.node(P, op, inputs, output, attributes);
    }
}

package io.tunestream.model.graph;

import ai.onnx.proto.OnnxMl;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Wraps a serving graph (inputs_embeds, attention_mask, position_ids, past_key_values.* in;
 * {@link LastTokenLogits#LAST_LOGITS} and present.* out) in an ONNX {@code Loop} that runs up to
 * {@link #MAX_STEPS} decoding steps in one session run and chooses every next token inside the graph,
 * so the KV cache never leaves ONNX Runtime between the steps of a chunk.
 *
 * <p>The loop body is the serving graph's own nodes, unchanged; its carried state is each row's token,
 * position, finished flag, the attention mask (one column longer a step) and the KV cache (the copying
 * layout: each step's present.* is the next step's past, one position longer). Weights stay initializers
 * of the outer graph, read by the body from the outer scope. A step feeds each row's token, picks the next
 * one (greedy: the first largest logit, with end-of-sequence suppressed while a row has fewer than its
 * {@link #MIN_NEW_TOKENS} tokens), and marks a row finished at an end-of-sequence token or once it has
 * chosen its {@link #REMAINING} tokens; a finished row's position stops advancing (its later tokens are
 * garbage the caller ignores, and must not run past the position table), and the loop stops when every row
 * is finished.
 *
 * <p>Inputs: {@link #TOKEN} [batch] int64 (each row's token to feed first), {@link #POSITION} [batch] int64
 * (its position), {@link #ATTENTION_MASK} [batch, past] int64 (the past's mask), {@link #REMAINING},
 * {@link #GENERATED} (tokens the row generated before the chunk), {@link #MIN_NEW_TOKENS}, all [batch]
 * int64, {@link #MAX_STEPS} int64 scalar, and {@link #pastInput} per layer and kind. Outputs: {@link #TOKENS}
 * [steps, batch] int64, the tokens chosen at each step, and {@link #presentOutput} per layer and kind, the
 * cache holding the past and every token fed. A pure proto transformation.
 */
public final class DecodeChunkGraph {

    public static final String TOKEN = "chunk.token";
    public static final String POSITION = "chunk.position";
    public static final String ATTENTION_MASK = "chunk.attention_mask";
    public static final String REMAINING = "chunk.remaining";
    public static final String GENERATED = "chunk.generated";
    public static final String MIN_NEW_TOKENS = "chunk.min_new_tokens";
    public static final String MAX_STEPS = "chunk.max_steps";
    public static final String TOKENS = "chunk.tokens";
    private static final String P = "/tunestream/chunk/";
    private static final String STEP_EMBEDS = InputsEmbedsRewrite.INPUTS_EMBEDS;
    private static final String STEP_MASK = "attention_mask";
    private static final String STEP_POSITIONS = "position_ids";
    private static final int INT64 = OnnxMl.TensorProto.DataType.INT64.getNumber();
    private static final int BOOL = OnnxMl.TensorProto.DataType.BOOL.getNumber();
    private static final int FLOAT = OnnxMl.TensorProto.DataType.FLOAT.getNumber();

    private DecodeChunkGraph() {
    }

    /** The outer graph's input for layer {@code layer}'s past keys or values ({@code kind} "key" or "value"). */
    public static String pastInput(int layer, String kind) {
        return "chunk.past_key_values." + layer + "." + kind;
    }

    /** The outer graph's output for layer {@code layer}'s keys or values after the chunk. */
    public static String presentOutput(int layer, String kind) {
        return "chunk.present." + layer + "." + kind;
    }

    /**
     * @param serving        the serving graph (see the class doc)
     * @param layers         decoder layers
     * @param embeddingTable the token-embedding initializer [vocab, hidden] (added when the serving graph no longer
     *                       has it: an untied head does not read it)
     * @param vocab          vocabulary size
     * @param eosIds         end-of-sequence tokens
     * @throws IllegalArgumentException if the graph lacks an input or output of the layout, or already holds a name
     *                                  this wrapper needs
     */
    public static OnnxMl.ModelProto wrap(OnnxMl.ModelProto serving, int layers, OnnxMl.TensorProto embeddingTable,
                                         int vocab, List<Integer> eosIds) {
        OnnxMl.GraphProto graph = serving.getGraph();
        long opset = serving.getOpsetImportList().stream().filter(o -> o.getDomain().isEmpty() || o.getDomain().equals("ai.onnx"))
                .mapToLong(OnnxMl.OperatorSetIdProto::getVersion).max()
                .orElseThrow(() -> new IllegalArgumentException("the graph imports no default-domain opset"));
        if (opset < 11) {
            throw new IllegalArgumentException("opset " + opset + " is older than 11, the first with a Loop whose carried "
                    + "values may change shape");
        }
        Set<String> inputs = new HashSet<>();
        graph.getInputList().forEach(i -> inputs.add(i.getName()));
        Set<String> outputs = new HashSet<>();
        graph.getOutputList().forEach(o -> outputs.add(o.getName()));
        for (String needed : List.of(STEP_EMBEDS, STEP_MASK, STEP_POSITIONS)) {
            if (!inputs.contains(needed)) {
                throw new IllegalArgumentException("the serving graph has no input '" + needed + "'");
            }
        }
        if (!outputs.contains(LastTokenLogits.LAST_LOGITS)) {
            throw new IllegalArgumentException("the serving graph has no output '" + LastTokenLogits.LAST_LOGITS + "'");
        }
        for (OnnxMl.NodeProto node : graph.getNodeList()) {
            for (String out : node.getOutputList()) {
                if (out.startsWith(P) || out.startsWith("chunk.")) {
                    throw new IllegalArgumentException("the serving graph already has a tensor named '" + out + "'");
                }
            }
        }
        Ops ops = new Ops(opset);
        String iter = P + "iter";
        String condIn = P + "cond_in";
        String token = P + "token";
        String position = P + "position";
        String mask = P + "mask";
        String finished = P + "finished";

        List<OnnxMl.TensorProto> constants = new ArrayList<>();
        constants.add(scalarLong(P + "one", 1));
        constants.add(scalarLong(P + "zero", 0));
        constants.add(vectorLong(P + "axis1", 1));
        constants.add(OnnxMl.TensorProto.newBuilder().setName(P + "true").setDataType(BOOL).addInt32Data(1).build());
        constants.add(OnnxMl.TensorProto.newBuilder().setName(P + "minus_inf").setDataType(FLOAT)
                .addFloatData(Float.NEGATIVE_INFINITY).build());
        boolean[] eosColumns = new boolean[vocab];
        for (int i = 0; i < eosIds.size(); i++) {
            int eos = eosIds.get(i);
            constants.add(scalarLong(P + "eos" + i, eos));
            if (eos >= 0 && eos < vocab) {
                eosColumns[eos] = true;
            }
        }
        OnnxMl.TensorProto.Builder eosMask = OnnxMl.TensorProto.newBuilder().setName(P + "eos_columns").setDataType(BOOL)
                .addDims(1).addDims(vocab);
        for (boolean e : eosColumns) {
            eosMask.addInt32Data(e ? 1 : 0);
        }
        constants.add(eosMask.build());

        // the body: feed each row's token, run the step, choose the next token
        List<OnnxMl.NodeProto> body = new ArrayList<>();
        body.add(node("Gather", List.of(embeddingTable.getName(), token), P + "embeds2d"));
        body.addAll(ops.unsqueeze(P + "embeds2d", 1, STEP_EMBEDS));
        body.addAll(ops.unsqueeze(position, 1, STEP_POSITIONS));
        body.add(node("Shape", List.of(token), P + "batch_shape"));
        body.add(node("Concat", List.of(P + "batch_shape", P + "axis1"), P + "column_shape", intAttr("axis", 0)));
        body.add(node("ConstantOfShape", List.of(P + "column_shape"), P + "ones_column",
                OnnxMl.AttributeProto.newBuilder().setName("value").setType(OnnxMl.AttributeProto.AttributeType.TENSOR)
                        .setT(OnnxMl.TensorProto.newBuilder().setDataType(INT64).addDims(1).addInt64Data(1)).build()));
        body.add(node("Concat", List.of(mask, P + "ones_column"), STEP_MASK, intAttr("axis", 1)));
        body.addAll(graph.getNodeList());
        body.addAll(ops.squeeze(LastTokenLogits.LAST_LOGITS, 1, P + "logits"));
        // min-new-tokens: end-of-sequence is out of reach while generated + iter < min_new_tokens
        body.add(node("Add", List.of(GENERATED, iter), P + "generated_now"));
        body.add(node("Less", List.of(P + "generated_now", MIN_NEW_TOKENS), P + "too_short"));
        body.addAll(ops.unsqueeze(P + "too_short", 1, P + "too_short_column"));
        body.add(node("And", List.of(P + "too_short_column", P + "eos_columns"), P + "suppressed"));
        body.add(node("Where", List.of(P + "suppressed", P + "minus_inf", P + "logits"), P + "scores"));
        body.add(node("ArgMax", List.of(P + "scores"), P + "next", intAttr("axis", 1), intAttr("keepdims", 0)));
        String isEos = null;
        for (int i = 0; i < eosIds.size(); i++) {
            String equal = P + "is_eos" + i;
            body.add(node("Equal", List.of(P + "next", P + "eos" + i), equal));
            if (isEos == null) {
                isEos = equal;
            } else {
                body.add(node("Or", List.of(isEos, equal), equal + "_any"));
                isEos = equal + "_any";
            }
        }
        // a row has chosen iter + 1 tokens in this chunk; it is done once that reaches its remaining tokens
        body.add(node("Add", List.of(iter, P + "one"), P + "chosen"));
        body.add(node("Less", List.of(P + "chosen", REMAINING), P + "room_left"));
        body.add(node("Not", List.of(P + "room_left"), P + "full"));
        String done = P + "full";
        if (isEos != null) {
            body.add(node("Or", List.of(P + "full", isEos), P + "done_now"));
            done = P + "done_now";
        }
        body.add(node("Or", List.of(finished, done), P + "finished_out"));
        body.add(node("Not", List.of(P + "finished_out"), P + "going"));
        body.add(node("Cast", List.of(P + "going"), P + "going_long", intAttr("to", INT64)));
        body.add(node("Add", List.of(position, P + "going_long"), P + "position_out"));
        body.add(node("ReduceMax", List.of(P + "going_long"), P + "any_going_long", intAttr("keepdims", 0)));
        body.add(node("Greater", List.of(P + "any_going_long", P + "zero"), P + "cond_out"));
        body.add(node("Identity", List.of(P + "next"), P + "scan_next"));

        OnnxMl.GraphProto.Builder bodyGraph = OnnxMl.GraphProto.newBuilder().setName("decode_chunk_step").addAllNode(body)
                .addInput(info(iter, INT64, 0)).addInput(info(condIn, BOOL, 0))
                .addInput(info(token, INT64, 1)).addInput(info(position, INT64, 1))
                .addInput(info(mask, INT64, 2)).addInput(info(finished, BOOL, 1))
                .addOutput(info(P + "cond_out", BOOL, 0)).addOutput(info(P + "next", INT64, 1))
                .addOutput(info(P + "position_out", INT64, 1)).addOutput(info(STEP_MASK, INT64, 2))
                .addOutput(info(P + "finished_out", BOOL, 1));
        List<String> loopInputs = new ArrayList<>(List.of(MAX_STEPS, P + "true", TOKEN, POSITION, ATTENTION_MASK,
                P + "finished0"));
        List<String> loopOutputs = new ArrayList<>(List.of(P + "last_token", P + "last_position", P + "last_mask",
                P + "last_finished"));
        OnnxMl.GraphProto.Builder outer = OnnxMl.GraphProto.newBuilder().setName("decode_chunk")
                .addInput(info(TOKEN, INT64, 1)).addInput(info(POSITION, INT64, 1)).addInput(info(ATTENTION_MASK, INT64, 2))
                .addInput(info(REMAINING, INT64, 1)).addInput(info(GENERATED, INT64, 1))
                .addInput(info(MIN_NEW_TOKENS, INT64, 1)).addInput(info(MAX_STEPS, INT64, 0));
        for (int layer = 0; layer < layers; layer++) {
            for (String kind : List.of("key", "value")) {
                String past = "past_key_values." + layer + "." + kind;
                String present = "present." + layer + "." + kind;
                OnnxMl.ValueInfoProto pastInfo = graph.getInputList().stream().filter(i -> i.getName().equals(past))
                        .findFirst().orElseThrow(() -> new IllegalArgumentException("the serving graph has no input '" + past + "'"));
                OnnxMl.ValueInfoProto presentInfo = graph.getOutputList().stream().filter(o -> o.getName().equals(present))
                        .findFirst().orElseThrow(() -> new IllegalArgumentException("the serving graph has no output '"
                                + present + "'"));
                bodyGraph.addInput(pastInfo);
                bodyGraph.addOutput(presentInfo);
                outer.addInput(pastInfo.toBuilder().setName(pastInput(layer, kind)));
                outer.addOutput(presentInfo.toBuilder().setName(presentOutput(layer, kind)));
                loopInputs.add(pastInput(layer, kind));
                loopOutputs.add(presentOutput(layer, kind));
            }
        }
        bodyGraph.addOutput(info(P + "scan_next", INT64, 1));
        loopOutputs.add(TOKENS);
        outer.addOutput(info(TOKENS, INT64, 2));

        outer.addNode(node("Less", List.of(REMAINING, P + "one"), P + "finished0"));
        outer.addNode(OnnxMl.NodeProto.newBuilder().setOpType("Loop").setName(P + "Loop").addAllInput(loopInputs)
                .addAllOutput(loopOutputs).addAttribute(OnnxMl.AttributeProto.newBuilder().setName("body")
                        .setType(OnnxMl.AttributeProto.AttributeType.GRAPH).setG(bodyGraph)).build());
        outer.addAllInitializer(graph.getInitializerList()).addAllInitializer(constants);
        boolean hasTable = graph.getInitializerList().stream().anyMatch(t -> t.getName().equals(embeddingTable.getName()));
        if (!hasTable) {
            outer.addInitializer(embeddingTable);
        }
        return serving.toBuilder().setGraph(outer).build();
    }

    /** Unsqueeze and Squeeze in the form the graph's opset takes: axes as an attribute before 13, an input after. */
    private record Ops(long opset) {

        List<OnnxMl.NodeProto> unsqueeze(String input, long axis, String output) {
            return axes("Unsqueeze", input, axis, output);
        }

        List<OnnxMl.NodeProto> squeeze(String input, long axis, String output) {
            return axes("Squeeze", input, axis, output);
        }

        private List<OnnxMl.NodeProto> axes(String op, String input, long axis, String output) {
            if (opset >= 13) {
                return List.of(node(op, List.of(input, P + "axis1"), output));
            }
            return List.of(OnnxMl.NodeProto.newBuilder().setOpType(op).setName(P + op + "/" + output).addInput(input)
                    .addOutput(output).addAttribute(OnnxMl.AttributeProto.newBuilder().setName("axes")
                            .setType(OnnxMl.AttributeProto.AttributeType.INTS).addInts(axis)).build());
        }
    }

    private static OnnxMl.NodeProto node(String op, List<String> inputs, String output, OnnxMl.AttributeProto... attributes) {
        OnnxMl.NodeProto.Builder n = OnnxMl.NodeProto.newBuilder().setOpType(op).setName(P + op + "/" + output)
                .addAllInput(inputs).addOutput(output);
        for (OnnxMl.AttributeProto a : attributes) {
            n.addAttribute(a);
        }
        return n.build();
    }

    private static OnnxMl.AttributeProto intAttr(String name, long value) {
        return OnnxMl.AttributeProto.newBuilder().setName(name).setType(OnnxMl.AttributeProto.AttributeType.INT).setI(value)
                .build();
    }

    private static OnnxMl.TensorProto scalarLong(String name, long value) {
        return OnnxMl.TensorProto.newBuilder().setName(name).setDataType(INT64).addInt64Data(value).build();
    }

    private static OnnxMl.TensorProto vectorLong(String name, long value) {
        return OnnxMl.TensorProto.newBuilder().setName(name).setDataType(INT64).addDims(1).addInt64Data(value).build();
    }

    /** A tensor value of an element type and rank, its dimensions unnamed. */
    private static OnnxMl.ValueInfoProto info(String name, int elemType, int rank) {
        OnnxMl.TensorShapeProto.Builder shape = OnnxMl.TensorShapeProto.newBuilder();
        for (int d = 0; d < rank; d++) {
            shape.addDim(OnnxMl.TensorShapeProto.Dimension.newBuilder());
        }
        return OnnxMl.ValueInfoProto.newBuilder().setName(name).setType(OnnxMl.TypeProto.newBuilder()
                .setTensorType(OnnxMl.TypeProto.Tensor.newBuilder().setElemType(elemType).setShape(shape))).build();
    }
}

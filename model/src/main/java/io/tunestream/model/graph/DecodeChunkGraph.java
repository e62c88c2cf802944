package io.tunestream.model.graph;

import ai.onnx.proto.OnnxMl;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static io.tunestream.model.graph.GraphProtos.intAttr;
import static io.tunestream.model.graph.GraphProtos.info;

/**
 * Wraps a decoder step in an ONNX {@code Loop} that runs up to {@link #MAX_STEPS} decoding steps in one session run
 * and chooses every next token inside the graph, so the KV cache never leaves ONNX Runtime between the steps of a
 * chunk. The step is a serving graph (inputs_embeds, attention_mask, position_ids, past_key_values.* in;
 * {@link LastTokenLogits#LAST_LOGITS} and present.* out: {@link #wrap}) or an in-place decode graph
 * ({@link GroupQueryAttentionRewrite}: seqlens_k and total_sequence_length instead of the mask: {@link #wrapInPlace}).
 * How the loop holds the KV cache is a {@link CacheLoop}: here the whole cache is loop-carried;
 * {@link ChunkSegmentAttention} reads the past from outside the loop and carries only the chunk's keys and values,
 * with this class's token choice. The third way has no loop: {@link UnrolledDecodeChunk} copies the in-place body
 * (step and token choice) a fixed number of times, every copy's present a graph output pinned to the KV buffers, so
 * each copy's attention appends in place.
 *
 * <p>The loop body is the step's own nodes, unchanged, and its weights as the body's initializers. The carried
 * state is each row's token, position, finished flag and seen tokens, the attention mask (one column longer a
 * step) or each row's length, and the KV cache (each step's present.* is the next step's past). A step feeds each
 * row's token and picks the next one as {@code io.tunestream.model.generate.TokenSampler} does, in float instead of
 * double: repetition penalty on the row's {@link #SEEN} tokens, end-of-sequence suppressed while a row has fewer
 * than its {@link #MIN_NEW_TOKENS} tokens, then the first largest score for a row of temperature 0, else
 * temperature, top-k, top-p and the first token whose cumulative probability exceeds the step's pre-drawn uniform
 * ({@link #UNIFORMS}: ONNX's random operators take their seed as an attribute, so per-request seeds stay in Java).
 * The penalty and the sampling run in {@code If} branches taken only when a row of the batch needs them. A row is
 * finished at an end-of-sequence token or once it has chosen its {@link #REMAINING} tokens; a finished row's
 * position (and length) stops advancing, since its later tokens are garbage the caller ignores and must not run
 * past the position table or the buffers; the loop stops when every row is finished.
 *
 * <p>Inputs: {@link #TOKEN} [batch] int64 (each row's token to feed first), {@link #POSITION} [batch] int64
 * (its position), {@link #ATTENTION_MASK} [batch, past] int64 (the past's mask) or {@link #SEQLENS} [batch] int32 and
 * {@code total_sequence_length} int32 scalar, {@link #REMAINING}, {@link #GENERATED} (tokens the row generated
 * before the chunk), {@link #MIN_NEW_TOKENS}, all [batch] int64, {@link #MAX_STEPS} int64 scalar,
 * {@link #TEMPERATURE}, {@link #TOP_P}, {@link #REPETITION_PENALTY} [batch] float, {@link #TOP_K} [batch] int64
 * (0: off), {@link #SEEN} [batch, vocab] bool, {@link #UNIFORMS} [at least max_steps, batch] float, and
 * {@link #pastInput} per layer and kind. Outputs: {@link #TOKENS} [steps, batch] int64, the tokens chosen at each
 * step, and {@link #presentOutput} per layer and kind, the cache holding the past and every token fed. A pure proto
 * transformation.
 */
public final class DecodeChunkGraph {

    public static final String TOKEN = "chunk.token";
    public static final String POSITION = "chunk.position";
    public static final String ATTENTION_MASK = "chunk.attention_mask";
    /** The in-place layout's input in place of {@link #ATTENTION_MASK}: positions each row holds, int32 [batch]. */
    public static final String SEQLENS = "chunk.seqlens_k";
    public static final String REMAINING = "chunk.remaining";
    public static final String GENERATED = "chunk.generated";
    public static final String MIN_NEW_TOKENS = "chunk.min_new_tokens";
    public static final String MAX_STEPS = "chunk.max_steps";
    public static final String TEMPERATURE = "chunk.temperature";
    public static final String TOP_K = "chunk.top_k";
    public static final String TOP_P = "chunk.top_p";
    public static final String REPETITION_PENALTY = "chunk.repetition_penalty";
    public static final String SEEN = "chunk.seen";
    public static final String UNIFORMS = "chunk.uniforms";
    public static final String TOKENS = "chunk.tokens";
    /** Prefix of the wrapper's own tensor names. */
    static final String P = "/tunestream/chunk/";
    /** The in-place body's value of each row's length after the step ({@link UnrolledDecodeChunk} changes its rule). */
    static final String SEQLENS_OUT = P + "seqlens_out";
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

    /**
     * The output of a chunk that reads its past ({@link ChunkSegmentAttention}): layer {@code layer}'s keys or values
     * of the tokens the chunk fed, [batch, kvHeads, steps, headDim].
     */
    public static String chunkOutput(int layer, String kind) {
        return "chunk.new." + layer + "." + kind;
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
        return wrap(serving, false, layers, embeddingTable, vocab, eosIds);
    }

    /**
     * Wraps an in-place decode-step graph ({@link GroupQueryAttentionRewrite}: {@code seqlens_k} and
     * {@code total_sequence_length} in place of the attention mask, past.* of fixed capacity) the same way: the
     * carried state holds each row's {@code seqlens_k} (advancing while the row goes on) instead of a mask, and the
     * outer graph takes {@link #SEQLENS} [batch] int32 and {@code total_sequence_length} (the capacity, read by the
     * body's attention from the outer scope). The KV buffers keep their capacity through the loop: each step's
     * attention copies the rows' valid positions into its output and appends there.
     *
     * @see #wrap(OnnxMl.ModelProto, int, OnnxMl.TensorProto, int, List)
     */
    public static OnnxMl.ModelProto wrapInPlace(OnnxMl.ModelProto decode, int layers, OnnxMl.TensorProto embeddingTable,
                                                int vocab, List<Integer> eosIds) {
        return wrap(decode, true, layers, embeddingTable, vocab, eosIds);
    }

    private static OnnxMl.ModelProto wrap(OnnxMl.ModelProto serving, boolean inPlace, int layers,
                                          OnnxMl.TensorProto embeddingTable, int vocab, List<Integer> eosIds) {
        return wrap(serving, inPlace, embeddingTable, vocab, eosIds, graph -> wholeCache(graph, layers, inPlace));
    }

    /**
     * How the loop holds the KV cache: the step's nodes as the body runs them, the cache's loop-carried values
     * (their initial values in the outer graph, the body's inputs and outputs, the loop's final values, in the same
     * order), what the outer graph computes before and after the loop, its cache inputs and outputs and constants.
     */
    record CacheLoop(List<OnnxMl.NodeProto> stepNodes, List<OnnxMl.NodeProto> beforeLoop, List<String> initial,
                     List<OnnxMl.ValueInfoProto> bodyInputs, List<OnnxMl.ValueInfoProto> bodyOutputs, List<String> finals,
                     List<OnnxMl.NodeProto> afterLoop, List<OnnxMl.ValueInfoProto> outerInputs,
                     List<OnnxMl.ValueInfoProto> outerOutputs, List<OnnxMl.TensorProto> outerConstants) {
    }

    /**
     * The whole cache as loop-carried state: the step's nodes unchanged, each step's present.* the next one's past.
     * In place, ONNX Runtime's GroupQueryAttention then copies every row's cached positions into a new present at
     * every step (inside a Loop its present is never the past's buffer): {@link ChunkSegmentAttention} avoids that.
     */
    private static CacheLoop wholeCache(OnnxMl.GraphProto graph, int layers, boolean inPlace) {
        List<OnnxMl.ValueInfoProto> bodyInputs = new ArrayList<>();
        List<OnnxMl.ValueInfoProto> bodyOutputs = new ArrayList<>();
        List<String> initial = new ArrayList<>();
        List<String> finals = new ArrayList<>();
        List<OnnxMl.ValueInfoProto> outerInputs = new ArrayList<>();
        List<OnnxMl.ValueInfoProto> outerOutputs = new ArrayList<>();
        for (int layer = 0; layer < layers; layer++) {
            for (String kind : List.of("key", "value")) {
                String past = "past_key_values." + layer + "." + kind;
                String present = "present." + layer + "." + kind;
                OnnxMl.ValueInfoProto pastInfo = graph.getInputList().stream().filter(i -> i.getName().equals(past))
                        .findFirst().orElseThrow(() -> new IllegalArgumentException("the serving graph has no input '" + past + "'"));
                OnnxMl.ValueInfoProto presentInfo = graph.getOutputList().stream().filter(o -> o.getName().equals(present))
                        .findFirst().orElseThrow(() -> new IllegalArgumentException("the serving graph has no output '"
                                + present + "'"));
                bodyInputs.add(pastInfo);
                bodyOutputs.add(presentInfo);
                outerInputs.add(pastInfo.toBuilder().setName(pastInput(layer, kind)).build());
                outerOutputs.add(presentInfo.toBuilder().setName(presentOutput(layer, kind)).build());
                initial.add(pastInput(layer, kind));
                finals.add(presentOutput(layer, kind));
            }
        }
        if (inPlace) {
            // read by the body's attention from the outer scope
            outerInputs.add(info(GroupQueryAttentionRewrite.TOTAL_SEQUENCE_LENGTH,
                    OnnxMl.TensorProto.DataType.INT32.getNumber(), 0));
        }
        return new CacheLoop(graph.getNodeList(), List.of(), initial, bodyInputs, bodyOutputs, finals, List.of(),
                outerInputs, outerOutputs, List.of());
    }

    /**
     * The loop around a step graph with the cache held as {@code cacheLoop} says (built from the step graph once its
     * inputs are checked); the rest as the class doc says.
     */
    static OnnxMl.ModelProto wrap(OnnxMl.ModelProto serving, boolean inPlace, OnnxMl.TensorProto embeddingTable, int vocab,
                                  List<Integer> eosIds, java.util.function.Function<OnnxMl.GraphProto, CacheLoop> cacheLoop) {
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
        List<String> stepInputs = inPlace
                ? List.of(STEP_EMBEDS, STEP_POSITIONS, GroupQueryAttentionRewrite.SEQLENS_K,
                        GroupQueryAttentionRewrite.TOTAL_SEQUENCE_LENGTH)
                : List.of(STEP_EMBEDS, STEP_MASK, STEP_POSITIONS);
        for (String needed : stepInputs) {
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
        CacheLoop cache = cacheLoop.apply(graph);
        Ops ops = new Ops(opset);
        String iter = P + "iter";
        String condIn = P + "cond_in";
        String token = P + "token";
        String position = P + "position";
        // the carried value that tells the attention which positions are real: a mask, or each row's length
        String mask = inPlace ? GroupQueryAttentionRewrite.SEQLENS_K : P + "mask";
        String maskOut = inPlace ? SEQLENS_OUT : STEP_MASK;
        int maskType = inPlace ? OnnxMl.TensorProto.DataType.INT32.getNumber() : INT64;
        int maskRank = inPlace ? 1 : 2;
        String maskInput = inPlace ? SEQLENS : ATTENTION_MASK;
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
        constants.add(vectorLong(P + "vocab", vocab));
        constants.add(scalarLong(P + "minus_one", -1));
        constants.add(OnnxMl.TensorProto.newBuilder().setName(P + "float_zero").setDataType(FLOAT).addFloatData(0).build());
        constants.add(OnnxMl.TensorProto.newBuilder().setName(P + "float_one").setDataType(FLOAT).addFloatData(1).build());
        OnnxMl.TensorProto.Builder arange = OnnxMl.TensorProto.newBuilder().setName(P + "arange").setDataType(INT64)
                .addDims(1).addDims(vocab);
        OnnxMl.TensorProto.Builder firstColumn = OnnxMl.TensorProto.newBuilder().setName(P + "first_column").setDataType(BOOL)
                .addDims(1).addDims(vocab);
        for (int v = 0; v < vocab; v++) {
            arange.addInt64Data(v);
            firstColumn.addInt32Data(v == 0 ? 1 : 0);
        }
        constants.add(arange.build());
        constants.add(firstColumn.build());

        // the body: feed each row's token, run the step, choose the next token
        List<OnnxMl.NodeProto> body = new ArrayList<>();
        body.add(node("Gather", List.of(embeddingTable.getName(), token), P + "embeds2d"));
        body.addAll(ops.unsqueeze(P + "embeds2d", 1, STEP_EMBEDS));
        body.addAll(ops.unsqueeze(position, 1, STEP_POSITIONS));
        if (!inPlace) {
            body.add(node("Shape", List.of(token), P + "batch_shape"));
            body.add(node("Concat", List.of(P + "batch_shape", P + "axis1"), P + "column_shape", intAttr("axis", 0)));
            body.add(node("ConstantOfShape", List.of(P + "column_shape"), P + "ones_column",
                    OnnxMl.AttributeProto.newBuilder().setName("value").setType(OnnxMl.AttributeProto.AttributeType.TENSOR)
                            .setT(OnnxMl.TensorProto.newBuilder().setDataType(INT64).addDims(1).addInt64Data(1)).build()));
            body.add(node("Concat", List.of(mask, P + "ones_column"), STEP_MASK, intAttr("axis", 1)));
        }
        body.addAll(cache.stepNodes());
        body.addAll(ops.squeeze(LastTokenLogits.LAST_LOGITS, 1, P + "step_logits"));
        // the choice runs in float whatever the export's logits are (an fp16 export's included)
        body.add(node("Cast", List.of(P + "step_logits"), P + "logits", intAttr("to", FLOAT)));
        // min-new-tokens: end-of-sequence is out of reach while generated + iter < min_new_tokens
        body.add(node("Add", List.of(GENERATED, iter), P + "generated_now"));
        body.add(node("Less", List.of(P + "generated_now", MIN_NEW_TOKENS), P + "too_short"));
        body.addAll(ops.unsqueeze(P + "too_short", 1, P + "too_short_column"));
        body.add(node("And", List.of(P + "too_short_column", P + "eos_columns"), P + "suppressed"));
        List<OnnxMl.NodeProto> invariant = new ArrayList<>();
        body.addAll(choice(ops, iter, P + "logits", P + "next", invariant));
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
        if (inPlace) {
            // a finished row's later (garbage) tokens overwrite one slot instead of running past the capacity
            body.add(node("Cast", List.of(P + "going"), P + "going_int", intAttr("to", maskType)));
            body.add(node("Add", List.of(mask, P + "going_int"), maskOut));
        }
        body.add(node("ReduceMax", List.of(P + "going_long"), P + "any_going_long", intAttr("keepdims", 0)));
        body.add(node("Greater", List.of(P + "any_going_long", P + "zero"), P + "cond_out"));
        body.add(node("Identity", List.of(P + "next"), P + "scan_next"));
        body.addAll(ops.unsqueeze(P + "next", 1, P + "next_column"));
        body.add(node("Equal", List.of(P + "next_column", P + "arange"), P + "next_one_hot"));
        body.add(node("Or", List.of(P + "seen", P + "next_one_hot"), P + "seen_out"));

        // the weights are the body's own initializers, not outer-scope values: ONNX Runtime then treats them as
        // constants of the step (pre-packed matrix products, constant folding), as in the step graph
        OnnxMl.GraphProto.Builder bodyGraph = OnnxMl.GraphProto.newBuilder().setName("decode_chunk_step").addAllNode(body)
                .addAllInitializer(graph.getInitializerList());
        if (graph.getInitializerList().stream().noneMatch(t -> t.getName().equals(embeddingTable.getName()))) {
            bodyGraph.addInitializer(embeddingTable);
        }
        bodyGraph
                .addInput(info(iter, INT64, 0)).addInput(info(condIn, BOOL, 0))
                .addInput(info(token, INT64, 1)).addInput(info(position, INT64, 1))
                .addInput(info(mask, maskType, maskRank)).addInput(info(finished, BOOL, 1)).addInput(info(P + "seen", BOOL, 2))
                .addOutput(info(P + "cond_out", BOOL, 0)).addOutput(info(P + "next", INT64, 1))
                .addOutput(info(P + "position_out", INT64, 1)).addOutput(info(maskOut, maskType, maskRank))
                .addOutput(info(P + "finished_out", BOOL, 1)).addOutput(info(P + "seen_out", BOOL, 2));
        List<String> loopInputs = new ArrayList<>(List.of(MAX_STEPS, P + "true", TOKEN, POSITION, maskInput,
                P + "finished0", SEEN));
        List<String> loopOutputs = new ArrayList<>(List.of(P + "last_token", P + "last_position", P + "last_mask",
                P + "last_finished", P + "last_seen"));
        OnnxMl.GraphProto.Builder outer = OnnxMl.GraphProto.newBuilder().setName("decode_chunk")
                .addInput(info(TOKEN, INT64, 1)).addInput(info(POSITION, INT64, 1)).addInput(info(maskInput, maskType, maskRank))
                .addInput(info(REMAINING, INT64, 1)).addInput(info(GENERATED, INT64, 1))
                .addInput(info(MIN_NEW_TOKENS, INT64, 1)).addInput(info(MAX_STEPS, INT64, 0))
                .addInput(info(TEMPERATURE, FLOAT, 1)).addInput(info(TOP_K, INT64, 1)).addInput(info(TOP_P, FLOAT, 1))
                .addInput(info(REPETITION_PENALTY, FLOAT, 1)).addInput(info(SEEN, BOOL, 2))
                .addInput(info(UNIFORMS, FLOAT, 2));
        bodyGraph.addAllInput(cache.bodyInputs()).addAllOutput(cache.bodyOutputs());
        outer.addAllInput(cache.outerInputs()).addAllOutput(cache.outerOutputs());
        loopInputs.addAll(cache.initial());
        loopOutputs.addAll(cache.finals());
        bodyGraph.addOutput(info(P + "scan_next", INT64, 1));
        loopOutputs.add(TOKENS);
        outer.addOutput(info(TOKENS, INT64, 2));

        outer.addNode(node("Less", List.of(REMAINING, P + "one"), P + "finished0"));
        outer.addAllNode(invariant);
        outer.addAllNode(cache.beforeLoop());
        outer.addNode(OnnxMl.NodeProto.newBuilder().setOpType("Loop").setName(P + "Loop").addAllInput(loopInputs)
                .addAllOutput(loopOutputs).addAttribute(OnnxMl.AttributeProto.newBuilder().setName("body")
                        .setType(OnnxMl.AttributeProto.AttributeType.GRAPH).setG(bodyGraph)).build());
        outer.addAllNode(cache.afterLoop());
        outer.addAllInitializer(constants).addAllInitializer(cache.outerConstants());
        return serving.toBuilder().setGraph(outer).build();
    }

    /**
     * The next token of each row from its [batch, vocab] logits, as {@code TokenSampler} picks it (see the class
     * doc); {@code iter} selects the step's row of uniforms. What depends on the rows' settings alone (which rows
     * sample, whether any has a penalty) goes to {@code invariant}, computed once a chunk before the loop: a node
     * less a step matters at batch 1.
     */
    private static List<OnnxMl.NodeProto> choice(Ops ops, String iter, String logits, String next,
                                                 List<OnnxMl.NodeProto> invariant) {
        List<OnnxMl.NodeProto> n = new ArrayList<>();
        // repetition penalty on the seen tokens: positive scores divided by it, the others multiplied
        // (only when a row of the batch has one: a node less to run a step matters on small models)
        invariant.add(node("Equal", List.of(REPETITION_PENALTY, P + "float_one"), P + "no_penalty"));
        invariant.add(node("Not", List.of(P + "no_penalty"), P + "has_penalty"));
        invariant.add(node("Cast", List.of(P + "has_penalty"), P + "has_penalty_long", intAttr("to", INT64)));
        invariant.add(node("ReduceMax", List.of(P + "has_penalty_long"), P + "any_penalty_long", intAttr("keepdims", 0)));
        invariant.add(node("Greater", List.of(P + "any_penalty_long", P + "zero"), P + "any_penalty"));
        invariant.addAll(ops.unsqueeze(REPETITION_PENALTY, 1, P + "penalty"));
        List<OnnxMl.NodeProto> p = new ArrayList<>();
        p.add(node("Div", List.of(logits, P + "penalty"), P + "penalty_divided"));
        p.add(node("Mul", List.of(logits, P + "penalty"), P + "penalty_multiplied"));
        p.add(node("Greater", List.of(logits, P + "float_zero"), P + "positive"));
        p.add(node("Where", List.of(P + "positive", P + "penalty_divided", P + "penalty_multiplied"), P + "penalized"));
        p.add(node("Where", List.of(P + "seen", P + "penalized", logits), P + "then_penalty"));
        n.add(ifNode(P + "any_penalty", P + "after_penalty", p, P + "then_penalty", FLOAT, 2,
                node("Identity", List.of(logits), P + "else_penalty"), P + "else_penalty"));
        n.add(node("Where", List.of(P + "suppressed", P + "minus_inf", P + "after_penalty"), P + "scores"));
        n.add(node("ArgMax", List.of(P + "scores"), P + "greedy", intAttr("axis", 1), intAttr("keepdims", 0)));
        invariant.add(node("Greater", List.of(TEMPERATURE, P + "float_zero"), P + "sampling"));
        invariant.add(node("Cast", List.of(P + "sampling"), P + "sampling_long", intAttr("to", INT64)));
        invariant.add(node("ReduceMax", List.of(P + "sampling_long"), P + "any_sampling_long", intAttr("keepdims", 0)));
        invariant.add(node("Greater", List.of(P + "any_sampling_long", P + "zero"), P + "any_sampling"));
        // the sampling pipeline (two sorts of the vocabulary a row) runs only when a row samples: a greedy batch
        // takes the else branch
        List<OnnxMl.NodeProto> s = new ArrayList<>();
        // temperature (1 for greedy rows, whose sample is not used)
        invariant.add(node("Where", List.of(P + "sampling", TEMPERATURE, P + "float_one"), P + "temperature_safe"));
        invariant.addAll(ops.unsqueeze(P + "temperature_safe", 1, P + "temperature_column"));
        s.add(node("Div", List.of(P + "scores", P + "temperature_column"), P + "tempered"));
        // top-k: scores below the k-th largest are out (k = vocab when off)
        invariant.add(node("Greater", List.of(TOP_K, P + "zero"), P + "top_k_positive"));
        invariant.add(node("Less", List.of(TOP_K, P + "vocab"), P + "top_k_below_vocab"));
        invariant.add(node("And", List.of(P + "top_k_positive", P + "top_k_below_vocab"), P + "top_k_on"));
        invariant.add(node("Where", List.of(P + "top_k_on", TOP_K, P + "vocab"), P + "k"));
        invariant.add(node("Sub", List.of(P + "k", P + "one"), P + "kth_index"));
        invariant.addAll(ops.unsqueeze(P + "kth_index", 1, P + "kth_column"));
        s.add(OnnxMl.NodeProto.newBuilder().setOpType("TopK").setName(P + "TopK/tempered").addInput(P + "tempered")
                .addInput(P + "vocab").addOutput(P + "tempered_sorted").addOutput(P + "tempered_order")
                .addAttribute(intAttr("axis", 1)).build());
        s.add(node("GatherElements", List.of(P + "tempered_sorted", P + "kth_column"), P + "kth", intAttr("axis", 1)));
        s.add(node("Less", List.of(P + "tempered", P + "kth"), P + "below_kth"));
        s.add(node("Where", List.of(P + "below_kth", P + "minus_inf", P + "tempered"), P + "top_k_scores"));
        // softmax
        s.addAll(ops.reduce("ReduceMax", P + "top_k_scores", 1, P + "max_score"));
        s.add(node("Sub", List.of(P + "top_k_scores", P + "max_score"), P + "shifted"));
        s.add(node("Exp", List.of(P + "shifted"), P + "exp"));
        s.addAll(ops.reduce("ReduceSum", P + "exp", 1, P + "exp_sum"));
        s.add(node("Div", List.of(P + "exp", P + "exp_sum"), P + "probs"));
        // top-p: the most likely tokens (ties: lower id first) while the mass before them is below p, at least one
        s.add(OnnxMl.NodeProto.newBuilder().setOpType("TopK").setName(P + "TopK/probs").addInput(P + "probs")
                .addInput(P + "vocab").addOutput(P + "probs_sorted").addOutput(P + "probs_order")
                .addAttribute(intAttr("axis", 1)).build());
        s.add(node("CumSum", List.of(P + "probs_sorted", P + "one"), P + "mass_before", intAttr("exclusive", 1)));
        invariant.addAll(ops.unsqueeze(TOP_P, 1, P + "top_p_column"));
        s.add(node("Less", List.of(P + "mass_before", P + "top_p_column"), P + "within_p"));
        s.add(node("Or", List.of(P + "within_p", P + "first_column"), P + "kept_sorted"));
        s.add(node("Cast", List.of(P + "kept_sorted"), P + "kept_sorted_float", intAttr("to", FLOAT)));
        s.add(node("Mul", List.of(P + "probs", P + "float_zero"), P + "probs_zero"));
        s.add(node("ScatterElements", List.of(P + "probs_zero", P + "probs_order", P + "kept_sorted_float"), P + "kept",
                intAttr("axis", 1)));
        s.add(node("Mul", List.of(P + "probs", P + "kept"), P + "nucleus"));
        s.addAll(ops.reduce("ReduceSum", P + "nucleus", 1, P + "nucleus_mass"));
        s.add(node("Div", List.of(P + "nucleus", P + "nucleus_mass"), P + "nucleus_probs"));
        invariant.add(node("Less", List.of(TOP_P, P + "float_one"), P + "top_p_on"));
        invariant.addAll(ops.unsqueeze(P + "top_p_on", 1, P + "top_p_on_column"));
        s.add(node("Where", List.of(P + "top_p_on_column", P + "nucleus_probs", P + "probs"), P + "final_probs"));
        // the first token whose cumulative probability exceeds u: as many as have a cumulative one <= u, at most the
        // last token of positive probability (rounding can leave the total just below u)
        s.add(node("Gather", List.of(UNIFORMS, iter), P + "u", intAttr("axis", 0)));
        s.addAll(ops.unsqueeze(P + "u", 1, P + "u_column"));
        s.add(node("CumSum", List.of(P + "final_probs", P + "one"), P + "cdf"));
        s.add(node("Less", List.of(P + "u_column", P + "cdf"), P + "beyond_u"));
        s.add(node("Not", List.of(P + "beyond_u"), P + "up_to_u"));
        s.add(node("Cast", List.of(P + "up_to_u"), P + "up_to_u_long", intAttr("to", INT64)));
        s.addAll(ops.reduce("ReduceSum", P + "up_to_u_long", 0, P + "drawn"));
        s.add(node("Greater", List.of(P + "final_probs", P + "float_zero"), P + "possible"));
        s.add(node("Where", List.of(P + "possible", P + "arange", P + "minus_one"), P + "possible_ids"));
        s.addAll(ops.reduce("ReduceMax", P + "possible_ids", 0, P + "last_possible"));
        s.add(node("Less", List.of(P + "drawn", P + "last_possible"), P + "drawn_in_range"));
        s.add(node("Where", List.of(P + "drawn_in_range", P + "drawn", P + "last_possible"), P + "sampled"));
        s.add(node("Where", List.of(P + "sampling", P + "sampled", P + "greedy"), P + "then_next"));
        n.add(ifNode(P + "any_sampling", next, s, P + "then_next", INT64, 1,
                node("Identity", List.of(P + "greedy"), P + "else_next"), P + "else_next"));
        return n;
    }

    /** An If of two branches with one output each, its value {@code output}. */
    private static OnnxMl.NodeProto ifNode(String cond, String output, List<OnnxMl.NodeProto> thenNodes, String thenOutput,
                                           int elemType, int rank, OnnxMl.NodeProto elseNode, String elseOutput) {
        OnnxMl.GraphProto thenBranch = OnnxMl.GraphProto.newBuilder().setName(output + "/then").addAllNode(thenNodes)
                .addOutput(info(thenOutput, elemType, rank)).build();
        OnnxMl.GraphProto elseBranch = OnnxMl.GraphProto.newBuilder().setName(output + "/else").addNode(elseNode)
                .addOutput(info(elseOutput, elemType, rank)).build();
        return OnnxMl.NodeProto.newBuilder().setOpType("If").setName(P + "If/" + output).addInput(cond).addOutput(output)
                .addAttribute(OnnxMl.AttributeProto.newBuilder().setName("then_branch")
                        .setType(OnnxMl.AttributeProto.AttributeType.GRAPH).setG(thenBranch))
                .addAttribute(OnnxMl.AttributeProto.newBuilder().setName("else_branch")
                        .setType(OnnxMl.AttributeProto.AttributeType.GRAPH).setG(elseBranch)).build();
    }

    /** Unsqueeze and Squeeze in the form the graph's opset takes: axes as an attribute before 13, an input after. */
    private record Ops(long opset) {

        /** A reduction over axis 1 ({@code keepdims} 1 or 0): axes an input from opset 13 (ReduceSum) or 18 (others). */
        List<OnnxMl.NodeProto> reduce(String op, String input, long keepdims, String output) {
            boolean axesInput = opset >= 18 || op.equals("ReduceSum") && opset >= 13;
            OnnxMl.NodeProto.Builder n = OnnxMl.NodeProto.newBuilder().setOpType(op).setName(P + op + "/" + output)
                    .addInput(input).addOutput(output).addAttribute(intAttr("keepdims", keepdims));
            if (axesInput) {
                n.addInput(P + "axis1");
            } else {
                n.addAttribute(OnnxMl.AttributeProto.newBuilder().setName("axes")
                        .setType(OnnxMl.AttributeProto.AttributeType.INTS).addInts(1));
            }
            return List.of(n.build());
        }

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

    private static OnnxMl.TensorProto scalarLong(String name, long value) {
        return OnnxMl.TensorProto.newBuilder().setName(name).setDataType(INT64).addInt64Data(value).build();
    }

    private static OnnxMl.TensorProto vectorLong(String name, long value) {
        return OnnxMl.TensorProto.newBuilder().setName(name).setDataType(INT64).addDims(1).addInt64Data(value).build();
    }

    private static OnnxMl.NodeProto node(String op, List<String> inputs, String output, OnnxMl.AttributeProto... attributes) {
        return GraphProtos.node(P, op, inputs, output, attributes);
    }
}

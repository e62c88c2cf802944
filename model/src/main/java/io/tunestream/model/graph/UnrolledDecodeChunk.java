package io.tunestream.model.graph;

import ai.onnx.proto.OnnxMl;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.UnaryOperator;

import static io.tunestream.model.graph.GraphProtos.info;

/**
 * The in-place decode chunk ({@link DecodeChunkGraph#wrapInPlace}) with its {@code Loop} unrolled: a fixed number of
 * copies of the loop body in one graph, copy j's carried values (token, position, length, finished flag, seen tokens,
 * the KV cache) copy j+1's inputs. The third way a chunk holds the KV cache (after the loop-carried cache and
 * {@link ChunkSegmentAttention}'s past read in place): every copy's present.* is a graph output
 * ({@link #presentOutput}), and the caller pins all of them, like the first copy's past, to the same KV buffers. ONNX
 * Runtime writes a node's output into a pinned graph output and the next nodes read that memory, so every copy's
 * GroupQueryAttention sees its past and present in one buffer and appends one position in place, as the in-place
 * step does: the step's own kernels, no copy of the cache, one run for all the copies.
 *
 * <p>An unrolled chunk cannot stop early: every copy runs, rows finished before it included (their tokens are garbage
 * the caller ignores). So that such a row never writes a position another row's attention reads or one past the
 * buffers, each row's length advances at every copy, finished or not, up to the last position of the buffers
 * ({@code total_sequence_length - 1}); a finished row's position id stops advancing, as in the loop. The caller feeds
 * each row at most as many remaining tokens as the steps it wants ({@link #GOING} then tells how many copies had a row
 * going), and uniforms for every copy.
 *
 * <p>Inputs: those of {@link DecodeChunkGraph#wrapInPlace} but {@link DecodeChunkGraph#MAX_STEPS}; {@link
 * DecodeChunkGraph#UNIFORMS} must have a row for every copy. Outputs: {@link DecodeChunkGraph#TOKENS} [copies, batch],
 * {@link #GOING} [copies] bool (whether a row was still going after each copy), and {@link #presentOutput} for every
 * copy, layer and kind. A pure proto transformation.
 */
public final class UnrolledDecodeChunk {

    /** Output [copies] bool: whether any row was still going after each copy. */
    public static final String GOING = "chunk.going";
    private static final String P = DecodeChunkGraph.P + "unrolled/";
    private static final int INT64 = OnnxMl.TensorProto.DataType.INT64.getNumber();
    private static final int INT32 = OnnxMl.TensorProto.DataType.INT32.getNumber();
    private static final int BOOL = OnnxMl.TensorProto.DataType.BOOL.getNumber();

    private UnrolledDecodeChunk() {
    }

    /** Copy {@code copy}'s output of layer {@code layer}'s keys or values ({@code kind} "key" or "value"). */
    public static String presentOutput(int copy, int layer, String kind) {
        return "chunk.present." + layer + "." + kind + ".step_" + copy;
    }

    /**
     * @param decode an in-place decode-step graph ({@link GroupQueryAttentionRewrite}, reshapes folded)
     * @param copies steps the chunk runs (at least 1)
     * @see DecodeChunkGraph#wrapInPlace for the other parameters
     * @throws IllegalArgumentException if the step cannot be wrapped
     */
    public static OnnxMl.ModelProto wrap(OnnxMl.ModelProto decode, int layers, OnnxMl.TensorProto embeddingTable, int vocab,
                                         List<Integer> eosIds, int copies) {
        if (copies < 1) {
            throw new IllegalArgumentException("an unrolled chunk has at least one copy of the step, got " + copies);
        }
        return unroll(DecodeChunkGraph.wrapInPlace(decode, layers, embeddingTable, vocab, eosIds), copies);
    }

    private static OnnxMl.ModelProto unroll(OnnxMl.ModelProto chunk, int copies) {
        OnnxMl.GraphProto outer = chunk.getGraph();
        OnnxMl.NodeProto loop = outer.getNodeList().stream().filter(n -> n.getOpType().equals("Loop")).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("the decode chunk has no Loop"));
        OnnxMl.GraphProto body = loop.getAttributeList().stream().filter(a -> a.getName().equals("body")).findFirst()
                .orElseThrow().getG();
        long opset = chunk.getOpsetImportList().stream().filter(o -> o.getDomain().isEmpty() || o.getDomain().equals("ai.onnx"))
                .mapToLong(OnnxMl.OperatorSetIdProto::getVersion).max().orElseThrow();
        int carried = loop.getInputCount() - 2;
        // body inputs: iter, cond, carried...; outputs: cond, carried..., scanned...
        List<String> bodyInputs = body.getInputList().stream().map(OnnxMl.ValueInfoProto::getName).toList();
        List<OnnxMl.ValueInfoProto> bodyOutputs = body.getOutputList();
        if (bodyOutputs.size() != 1 + carried + 1) {
            throw new IllegalArgumentException("the decode chunk's loop scans " + (bodyOutputs.size() - 1 - carried)
                    + " values, not its tokens alone");
        }
        String iter = bodyInputs.get(0);
        List<OnnxMl.NodeProto> bodyNodes = advanceEveryLength(body.getNodeList(), bodyInputs);
        Set<String> produced = new HashSet<>();
        collectProduced(bodyNodes, produced);

        OnnxMl.GraphProto.Builder out = OnnxMl.GraphProto.newBuilder().setName("decode_chunk_unrolled");
        outer.getInputList().stream().filter(i -> !i.getName().equals(DecodeChunkGraph.MAX_STEPS)).forEach(out::addInput);
        outer.getNodeList().stream().filter(n -> n != loop).forEach(out::addNode);
        out.addAllInitializer(outer.getInitializerList()).addAllInitializer(body.getInitializerList());
        out.addInitializer(OnnxMl.TensorProto.newBuilder().setName(P + "int_one").setDataType(INT32).addInt32Data(1));
        out.addInitializer(OnnxMl.TensorProto.newBuilder().setName(P + "axis0").setDataType(INT64).addDims(1).addInt64Data(0));
        out.addNode(node("Sub", List.of(GroupQueryAttentionRewrite.TOTAL_SEQUENCE_LENGTH, P + "int_one"), P + "last_slot"));

        // what copy j reads as each body input: the loop's initial values, then the previous copy's outputs
        List<String> previous = new ArrayList<>(loop.getInputList().subList(2, loop.getInputCount()));
        List<String> tokens = new ArrayList<>();
        List<String> going = new ArrayList<>();
        for (int j = 0; j < copies; j++) {
            String suffix = "/u" + j;
            Map<String, String> names = new HashMap<>();
            String iterName = P + "iter" + j;
            out.addInitializer(OnnxMl.TensorProto.newBuilder().setName(iterName).setDataType(INT64).addInt64Data(j));
            names.put(iter, iterName);
            names.put(bodyInputs.get(1), loop.getInput(1));
            for (int k = 0; k < carried; k++) {
                names.put(bodyInputs.get(2 + k), previous.get(k));
            }
            for (int k = 0; k < carried; k++) {
                String name = bodyOutputs.get(1 + k).getName();
                String present = presentName(name, j);
                if (present != null) {
                    names.put(name, present);
                    out.addOutput(bodyOutputs.get(1 + k).toBuilder().setName(present));
                }
            }
            final int copy = j;
            UnaryOperator<String> rename = n -> names.getOrDefault(n, produced.contains(n) ? n + suffix : n);
            for (OnnxMl.NodeProto n : bodyNodes) {
                out.addNode(renamed(n, rename, suffix));
            }
            for (int k = 0; k < carried; k++) {
                previous.set(k, rename.apply(bodyOutputs.get(1 + k).getName()));
            }
            String cond = rename.apply(bodyOutputs.get(0).getName());
            String scanned = rename.apply(bodyOutputs.get(1 + carried).getName());
            out.addNode(unsqueeze0(opset, scanned, P + "token" + copy));
            out.addNode(unsqueeze0(opset, cond, P + "going" + copy));
            tokens.add(P + "token" + copy);
            going.add(P + "going" + copy);
        }
        out.addNode(concat(tokens, DecodeChunkGraph.TOKENS));
        out.addNode(concat(going, GOING));
        out.addOutput(info(DecodeChunkGraph.TOKENS, INT64, 2));
        out.addOutput(info(GOING, BOOL, 1));
        // the loop's condition constant is read by no copy: ONNX Runtime would warn about it at every session
        return UnreadInitializers.removed(chunk.toBuilder().setGraph(out).build());
    }

    /**
     * The body's nodes with the rule for each row's length changed: one position more at every copy, finished rows
     * included, up to the buffers' last position (see the class doc).
     */
    private static List<OnnxMl.NodeProto> advanceEveryLength(List<OnnxMl.NodeProto> nodes, List<String> bodyInputs) {
        String lengths = GroupQueryAttentionRewrite.SEQLENS_K;
        if (!bodyInputs.contains(lengths)) {
            throw new IllegalArgumentException("the decode chunk carries no '" + lengths + "': not an in-place chunk");
        }
        List<OnnxMl.NodeProto> changed = new ArrayList<>();
        boolean found = false;
        for (OnnxMl.NodeProto n : nodes) {
            if (n.getOutputList().contains(DecodeChunkGraph.SEQLENS_OUT)) {
                changed.add(node("Add", List.of(lengths, P + "int_one"), P + "next_length"));
                changed.add(node("Min", List.of(P + "next_length", P + "last_slot"), DecodeChunkGraph.SEQLENS_OUT));
                found = true;
            } else {
                changed.add(n);
            }
        }
        if (!found) {
            throw new IllegalArgumentException("the decode chunk computes no '" + DecodeChunkGraph.SEQLENS_OUT + "'");
        }
        return changed;
    }

    /** The unrolled output name of a body output that is a layer's present keys or values, else null. */
    private static String presentName(String bodyOutput, int copy) {
        String[] parts = bodyOutput.split("\\.");
        if (parts.length == 3 && parts[0].equals("present") && (parts[2].equals("key") || parts[2].equals("value"))) {
            return presentOutput(copy, Integer.parseInt(parts[1]), parts[2]);
        }
        return null;
    }

    private static void collectProduced(List<OnnxMl.NodeProto> nodes, Set<String> produced) {
        for (OnnxMl.NodeProto n : nodes) {
            produced.addAll(n.getOutputList());
            for (OnnxMl.AttributeProto a : n.getAttributeList()) {
                if (a.hasG()) {
                    collectProduced(a.getG().getNodeList(), produced);
                }
            }
        }
    }

    /** A node (and its subgraphs) with every name passed through {@code rename}, its own name suffixed. */
    private static OnnxMl.NodeProto renamed(OnnxMl.NodeProto n, UnaryOperator<String> rename, String suffix) {
        OnnxMl.NodeProto.Builder b = n.toBuilder().clearInput().clearOutput().clearAttribute()
                .setName(n.getName().isEmpty() ? "" : n.getName() + suffix);
        n.getInputList().forEach(i -> b.addInput(i.isEmpty() ? i : rename.apply(i)));
        n.getOutputList().forEach(o -> b.addOutput(o.isEmpty() ? o : rename.apply(o)));
        for (OnnxMl.AttributeProto a : n.getAttributeList()) {
            if (a.hasG()) {
                OnnxMl.GraphProto g = a.getG();
                OnnxMl.GraphProto.Builder gb = g.toBuilder().clearNode().clearOutput().setName(g.getName() + suffix);
                g.getNodeList().forEach(sub -> gb.addNode(renamed(sub, rename, suffix)));
                g.getOutputList().forEach(o -> gb.addOutput(o.toBuilder().setName(rename.apply(o.getName()))));
                b.addAttribute(a.toBuilder().setG(gb));
            } else {
                b.addAttribute(a);
            }
        }
        return b.build();
    }

    private static OnnxMl.NodeProto unsqueeze0(long opset, String input, String output) {
        OnnxMl.NodeProto.Builder n = OnnxMl.NodeProto.newBuilder().setOpType("Unsqueeze").setName(P + "Unsqueeze/" + output)
                .addInput(input).addOutput(output);
        if (opset >= 13) {
            n.addInput(P + "axis0");
        } else {
            n.addAttribute(OnnxMl.AttributeProto.newBuilder().setName("axes")
                    .setType(OnnxMl.AttributeProto.AttributeType.INTS).addInts(0));
        }
        return n.build();
    }

    private static OnnxMl.NodeProto concat(List<String> inputs, String output) {
        return OnnxMl.NodeProto.newBuilder().setOpType("Concat").setName(P + "Concat/" + output).addAllInput(inputs)
                .addOutput(output).addAttribute(OnnxMl.AttributeProto.newBuilder().setName("axis")
                        .setType(OnnxMl.AttributeProto.AttributeType.INT).setI(0)).build();
    }

    private static OnnxMl.NodeProto node(String op, List<String> inputs, String output, OnnxMl.AttributeProto... attributes) {
        return GraphProtos.node(P, op, inputs, output, attributes);
    }
}

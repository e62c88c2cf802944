package io.tunestream.model.graph;

import ai.onnx.proto.OnnxMl;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Specialises the shape arithmetic of a decode-step graph: the export computes every reshape target at
 * run time from {@code Shape} chains ({@code Shape -> Gather/Slice -> Squeeze/Unsqueeze -> Concat}), about
 * 150 small operators a step on GPT-2 that ONNX Runtime runs one after another. Given the shapes of the
 * graph's inputs with every size known but the batch (a decode step has sequence length 1), the
 * shapes of the activations follow, and each reshape target becomes a constant: the batch as {@code -1}
 * (or {@code 0}, "as in the input", when the target already has a {@code -1}). The chains that only fed
 * those targets are removed.
 *
 * <p>Sound by construction: a target is replaced only when its value is derived completely from the
 * given input shapes through the operators modelled here; anything else (an unmodelled operator,
 * arithmetic on shapes, an unknown size) leaves that target computed at run time, as before. The values
 * the graph computes do not change. A pure proto transformation.
 */
public final class DecodeShapeFolding {

    /** The batch dimension in {@link #rewrite}'s input shapes: the same, unknown size for every input. */
    public static final long BATCH = Long.MIN_VALUE;
    private static final String PREFIX = "/tunestream/decode_shapes/";

    private DecodeShapeFolding() {
    }

    /**
     * @param model       a decode-step graph
     * @param inputShapes the shape of each graph input the folding may rely on, each size known, {@link #BATCH}
     *                    or null (unknown); inputs not listed are of unknown shape
     * @return the graph with constant reshape targets where they could be derived (unchanged otherwise)
     */
    public static OnnxMl.ModelProto rewrite(OnnxMl.ModelProto model, Map<String, List<Long>> inputShapes) {
        OnnxMl.GraphProto graph = model.getGraph();
        Shapes shapes = new Shapes();
        inputShapes.forEach((name, dims) -> shapes.data.put(name, new ArrayList<>(dims)));
        for (OnnxMl.TensorProto t : graph.getInitializerList()) {
            shapes.data.put(t.getName(), t.getDimsList());
            shapes.readValue(t);
        }
        List<OnnxMl.NodeProto> nodes = new ArrayList<>(graph.getNodeCount());
        List<OnnxMl.TensorProto> targets = new ArrayList<>();
        for (OnnxMl.NodeProto node : graph.getNodeList()) {
            shapes.infer(node);
            if (node.getOpType().equals("Reshape") && node.getDomain().isEmpty() && node.getInputCount() == 2
                    && !shapes.isConstant(node.getInput(1))) {
                long[] target = shapes.constantTarget(node);
                if (target != null) {
                    String name = PREFIX + targets.size();
                    targets.add(OnnxMl.TensorProto.newBuilder().setName(name)
                            .setDataType(OnnxMl.TensorProto.DataType.INT64.getNumber()).addDims(target.length)
                            .addAllInt64Data(Arrays.stream(target).boxed().toList()).build());
                    nodes.add(node.toBuilder().setInput(1, name).build());
                    continue;
                }
            }
            nodes.add(node);
        }
        if (targets.isEmpty()) {
            return model;
        }
        Set<String> outputs = new HashSet<>();
        graph.getOutputList().forEach(o -> outputs.add(o.getName()));
        List<OnnxMl.NodeProto> live = GraphIndex.withoutDeadNodes(nodes, outputs);
        return model.toBuilder().setGraph(graph.toBuilder().clearNode().addAllNode(live).addAllInitializer(targets)).build();
    }

    /**
     * What is known of the graph's tensors, in graph order: shapes of tensors (each size known,
     * {@link #BATCH} or null) and values of small integer tensors (each element likewise).
     */
    private static final class Shapes {
        private final Map<String, List<Long>> data = new HashMap<>();
        private final Map<String, List<Long>> values = new HashMap<>();
        private final Set<String> constants = new HashSet<>();

        boolean isConstant(String tensor) {
            return constants.contains(tensor);
        }

        void readValue(OnnxMl.TensorProto t) {
            constants.add(t.getName());
            boolean integer = t.getDataType() == OnnxMl.TensorProto.DataType.INT64.getNumber()
                    || t.getDataType() == OnnxMl.TensorProto.DataType.INT32.getNumber();
            if (integer && t.getDimsCount() <= 1 && t.getDataLocation() != OnnxMl.TensorProto.DataLocation.EXTERNAL) {
                List<Long> v = new ArrayList<>();
                for (long x : TensorProtoReader.longs(t)) {
                    v.add(x);
                }
                values.put(t.getName(), v);
            }
        }

        void infer(OnnxMl.NodeProto n) {
            String op = n.getDomain().isEmpty() || n.getDomain().equals("ai.onnx") ? n.getOpType() : n.getDomain() + ":" + n.getOpType();
            switch (op) {
                case "Constant" -> n.getAttributeList().stream().filter(a -> a.getName().equals("value") && a.hasT()).findFirst()
                        .ifPresent(a -> {
                            OnnxMl.TensorProto t = a.getT().toBuilder().setName(n.getOutput(0)).build();
                            data.put(t.getName(), t.getDimsList());
                            readValue(t);
                        });
                case "Shape" -> {
                    List<Long> s = data.get(n.getInput(0));
                    if (s != null && n.getAttributeCount() == 0) {
                        values.put(n.getOutput(0), s);
                        data.put(n.getOutput(0), List.of((long) s.size()));
                    }
                }
                case "Gather" -> gather(n);
                case "Unsqueeze" -> unsqueeze(n);
                case "Squeeze" -> squeeze(n);
                case "Slice" -> slice(n);
                case "Concat" -> concat(n);
                case "Cast", "Identity" -> {
                    copy(data, n.getInput(0), n.getOutput(0));
                    if (GraphIndex.intAttribute(n, "to", 7) == OnnxMl.TensorProto.DataType.INT64.getNumber()) {
                        copy(values, n.getInput(0), n.getOutput(0));
                    }
                }
                case "Tanh", "Erf", "Sqrt", "Neg", "Relu", "Sigmoid", "Softmax", "Reciprocal", "Exp", "Log",
                     "com.microsoft:FastGelu", "com.microsoft:Gelu" -> copy(data, n.getInput(0), n.getOutput(0));
                case "Add", "Sub", "Mul", "Div", "Pow", "Where", "Equal", "Less", "Greater" -> broadcast(n);
                case "Gemm" -> gemm(n);
                case "MatMul" -> matMul(n);
                case "LayerNormalization" -> copy(data, n.getInput(0), n.getOutput(0));
                case "com.microsoft:SkipLayerNormalization" -> {
                    copy(data, n.getInput(0), n.getOutput(0));
                    if (n.getOutputCount() > 3 && !n.getOutput(3).isEmpty()) {
                        copy(data, n.getInput(0), n.getOutput(3));
                    }
                }
                case "com.microsoft:GroupQueryAttention" -> groupQueryAttention(n);
                case "Reshape" -> reshape(n);
                default -> { }
            }
        }

        private static void copy(Map<String, List<Long>> map, String from, String to) {
            List<Long> v = map.get(from);
            if (v != null) {
                map.put(to, v);
            }
        }

        private List<Long> constantInts(OnnxMl.NodeProto n, int input, String attribute) {
            if (n.getInputCount() > input && !n.getInput(input).isEmpty()) {
                List<Long> v = isConstant(n.getInput(input)) ? values.get(n.getInput(input)) : null;
                return v == null || v.contains(null) ? null : v;
            }
            List<Long> a = GraphIndex.intsAttribute(n, attribute);
            return a.isEmpty() ? null : a;
        }

        private void gather(OnnxMl.NodeProto n) {
            List<Long> shape = data.get(n.getInput(0));
            List<Long> indexShape = data.get(n.getInput(1));
            long axis = GraphIndex.intAttribute(n, "axis", 0);
            if (shape != null && indexShape != null) {
                int a = (int) (axis < 0 ? axis + shape.size() : axis);
                List<Long> out = new ArrayList<>(shape.subList(0, a));
                out.addAll(indexShape);
                out.addAll(shape.subList(a + 1, shape.size()));
                data.put(n.getOutput(0), out);
            }
            List<Long> v = values.get(n.getInput(0));
            List<Long> idx = isConstant(n.getInput(1)) ? values.get(n.getInput(1)) : null;
            if (v != null && idx != null && axis == 0 && !idx.contains(null)) {
                List<Long> out = new ArrayList<>();
                for (long i : idx) {
                    int at = (int) (i < 0 ? i + v.size() : i);
                    if (at < 0 || at >= v.size()) {
                        return;
                    }
                    out.add(v.get(at));
                }
                values.put(n.getOutput(0), out);
            }
        }

        private void unsqueeze(OnnxMl.NodeProto n) {
            List<Long> axes = constantInts(n, 1, "axes");
            List<Long> shape = data.get(n.getInput(0));
            if (axes == null || shape == null) {
                return;
            }
            int rank = shape.size() + axes.size();
            List<Long> out = new ArrayList<>(shape);
            axes.stream().map(a -> a < 0 ? a + rank : a).sorted().forEach(a -> out.add(a.intValue(), 1L));
            data.put(n.getOutput(0), out);
            copy(values, n.getInput(0), n.getOutput(0));
        }

        private void squeeze(OnnxMl.NodeProto n) {
            List<Long> axes = constantInts(n, 1, "axes");
            List<Long> shape = data.get(n.getInput(0));
            if (axes == null || shape == null) {
                return;
            }
            List<Long> out = new ArrayList<>();
            for (int i = 0; i < shape.size(); i++) {
                int index = i;
                if (axes.stream().noneMatch(a -> (a < 0 ? a + shape.size() : a) == index)) {
                    out.add(shape.get(i));
                }
            }
            data.put(n.getOutput(0), out);
            copy(values, n.getInput(0), n.getOutput(0));
        }

        private void slice(OnnxMl.NodeProto n) {
            List<Long> starts = constantInts(n, 1, "starts");
            List<Long> ends = constantInts(n, 2, "ends");
            List<Long> shape = data.get(n.getInput(0));
            if (starts == null || ends == null || shape == null) {
                return;
            }
            List<Long> axes = n.getInputCount() > 3 && !n.getInput(3).isEmpty() ? constantInts(n, 3, "") : null;
            List<Long> steps = n.getInputCount() > 4 && !n.getInput(4).isEmpty() ? constantInts(n, 4, "") : null;
            if (n.getInputCount() > 3 && !n.getInput(3).isEmpty() && axes == null
                    || steps != null && steps.stream().anyMatch(s -> s != 1)
                    || n.getInputCount() > 4 && !n.getInput(4).isEmpty() && steps == null) {
                return;
            }
            List<Long> out = new ArrayList<>(shape);
            List<Long> value = values.get(n.getInput(0));
            List<Long> sliced = value;
            for (int i = 0; i < starts.size(); i++) {
                long axis = axes == null ? i : axes.get(i);
                int a = (int) (axis < 0 ? axis + shape.size() : axis);
                Long dim = shape.get(a);
                if (dim == null || dim == BATCH) {
                    return;
                }
                int from = clamp(starts.get(i), dim);
                int to = clamp(ends.get(i), dim);
                out.set(a, (long) Math.max(0, to - from));
                if (value != null && shape.size() == 1) {
                    sliced = value.subList(from, Math.max(from, to));
                } else {
                    sliced = null;
                }
            }
            data.put(n.getOutput(0), out);
            if (sliced != null && value != null) {
                values.put(n.getOutput(0), new ArrayList<>(sliced));
            }
        }

        private static int clamp(long index, long dim) {
            long i = index < 0 ? index + dim : index;
            return (int) Math.max(0, Math.min(dim, i));
        }

        private void concat(OnnxMl.NodeProto n) {
            long axis = GraphIndex.intAttribute(n, "axis", 0);
            List<Long> out = null;
            List<Long> value = new ArrayList<>();
            boolean valueKnown = true;
            for (String in : n.getInputList()) {
                List<Long> s = data.get(in);
                if (s == null) {
                    return;
                }
                int a = (int) (axis < 0 ? axis + s.size() : axis);
                if (out == null) {
                    out = new ArrayList<>(s);
                } else {
                    Long x = out.get(a);
                    Long y = s.get(a);
                    out.set(a, x == null || y == null || x == BATCH || y == BATCH ? null : x + y);
                }
                List<Long> v = values.get(in);
                if (v == null || s.size() != 1) {
                    valueKnown = false;
                } else {
                    value.addAll(v);
                }
            }
            if (out != null) {
                data.put(n.getOutput(0), out);
                if (valueKnown) {
                    values.put(n.getOutput(0), value);
                }
            }
        }

        private void broadcast(OnnxMl.NodeProto n) {
            List<Long> out = List.of();
            for (String in : n.getInputList()) {
                List<Long> s = data.get(in);
                if (s == null) {
                    return;
                }
                List<Long> wider = s.size() > out.size() ? s : out;
                List<Long> narrower = s.size() > out.size() ? out : s;
                List<Long> merged = new ArrayList<>(wider);
                int offset = wider.size() - narrower.size();
                for (int i = 0; i < narrower.size(); i++) {
                    Long x = wider.get(offset + i);
                    Long y = narrower.get(i);
                    merged.set(offset + i, Objects.equals(x, 1L) ? y : Objects.equals(y, 1L) || Objects.equals(x, y) ? x : null);
                }
                out = merged;
            }
            data.put(n.getOutput(0), out);
        }

        private void gemm(OnnxMl.NodeProto n) {
            List<Long> a = data.get(n.getInput(0));
            List<Long> b = data.get(n.getInput(1));
            if (a == null || b == null || a.size() != 2 || b.size() != 2) {
                return;
            }
            Long m = GraphIndex.intAttribute(n, "transA", 0) == 0 ? a.get(0) : a.get(1);
            Long cols = GraphIndex.intAttribute(n, "transB", 0) == 0 ? b.get(1) : b.get(0);
            data.put(n.getOutput(0), Arrays.asList(m, cols));
        }

        private void matMul(OnnxMl.NodeProto n) {
            List<Long> a = data.get(n.getInput(0));
            List<Long> b = data.get(n.getInput(1));
            if (a == null || b == null || a.size() < 2 || b.size() != 2) {
                return;
            }
            List<Long> out = new ArrayList<>(a.subList(0, a.size() - 1));
            out.add(b.get(1));
            data.put(n.getOutput(0), out);
        }

        /** Packed QKV in ({@code [batch, sequence, (heads + 2 kvHeads) headSize]}), {@code [batch, sequence, heads headSize]} out. */
        private void groupQueryAttention(OnnxMl.NodeProto n) {
            List<Long> q = data.get(n.getInput(0));
            long heads = GraphIndex.intAttribute(n, "num_heads", 0);
            long kvHeads = GraphIndex.intAttribute(n, "kv_num_heads", 0);
            boolean packed = n.getInputCount() < 2 || n.getInput(1).isEmpty();
            if (q == null || q.size() != 3 || !packed || heads <= 0 || q.get(2) == null || q.get(2) == BATCH) {
                return;
            }
            long width = q.get(2);
            if (width % (heads + 2 * kvHeads) != 0) {
                return;
            }
            data.put(n.getOutput(0), Arrays.asList(q.get(0), q.get(1), width / (heads + 2 * kvHeads) * heads));
        }

        private void reshape(OnnxMl.NodeProto n) {
            List<Long> in = data.get(n.getInput(0));
            List<Long> target = values.get(n.getInput(1));
            if (in == null || target == null || GraphIndex.intAttribute(n, "allowzero", 0) != 0) {
                return;
            }
            List<Long> out = new ArrayList<>();
            int inferred = -1;
            for (int i = 0; i < target.size(); i++) {
                Long t = target.get(i);
                if (t != null && t == 0) {
                    out.add(i < in.size() ? in.get(i) : null);
                } else if (t != null && t == -1) {
                    inferred = i;
                    out.add(null);
                } else {
                    out.add(t);
                }
            }
            if (inferred >= 0) {
                out.set(inferred, quotient(in, out, inferred));
            }
            data.put(n.getOutput(0), out);
        }

        /** numel(in) / product of {@code out} without index {@code skip}, with the batch as a symbol; null if unknown. */
        private static Long quotient(List<Long> in, List<Long> out, int skip) {
            long[] numerator = product(in, -1);
            long[] denominator = product(out, skip);
            if (numerator == null || denominator == null || denominator[1] == 0 || numerator[1] % denominator[1] != 0) {
                return null;
            }
            long batchPower = numerator[0] - denominator[0];
            long size = numerator[1] / denominator[1];
            if (batchPower == 0) {
                return size;
            }
            return batchPower == 1 && size == 1 ? BATCH : null;
        }

        /** {power of the batch, product of the known sizes}, or null if a size is unknown. */
        private static long[] product(List<Long> dims, int skip) {
            long[] p = {0, 1};
            for (int i = 0; i < dims.size(); i++) {
                if (i == skip) {
                    continue;
                }
                Long d = dims.get(i);
                if (d == null) {
                    return null;
                }
                if (d == BATCH) {
                    p[0]++;
                } else {
                    p[1] *= d;
                }
            }
            return p;
        }

        /**
         * The constant that can replace Reshape {@code n}'s target, or null: every element known, the batch
         * written as -1, or as 0 ("as in the input") where the target already infers a dimension.
         */
        long[] constantTarget(OnnxMl.NodeProto n) {
            List<Long> target = values.get(n.getInput(1));
            List<Long> in = data.get(n.getInput(0));
            if (target == null || target.contains(null)) {
                return null;
            }
            boolean hasInferred = target.contains(-1L);
            long batches = target.stream().filter(t -> t == BATCH).count();
            long[] out = new long[target.size()];
            for (int i = 0; i < out.length; i++) {
                long t = target.get(i);
                if (t != BATCH) {
                    out[i] = t;
                } else if (!hasInferred && batches == 1) {
                    out[i] = -1;
                } else if (in != null && i < in.size() && Objects.equals(in.get(i), BATCH)) {
                    out[i] = 0;
                } else {
                    return null;
                }
            }
            return out;
        }
    }
}

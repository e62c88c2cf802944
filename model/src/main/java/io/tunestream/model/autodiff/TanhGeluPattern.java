package io.tunestream.model.autodiff;

import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import io.tunestream.model.graph.TensorProtoReader;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.Set;

/**
 * The tanh approximation of GELU as exporters decompose it (GPT-2's {@code gelu_new}):
 * {@code y = (x·0.5)·(1 + tanh(k·(x + c·x³)))}, eight nodes. Differentiated node by node, the
 * backward reads the pattern's intermediate tensors, which keeps ONNX Runtime from fusing the
 * forward into one {@code FastGelu} kernel; differentiated as a whole, the backward reads only
 * {@code x} and the forward stays fusable:
 * {@code dy/dx = 0.5·(1 + t) + 0.5·x·(1 − t²)·k·(1 + 3c·x²)} with {@code t = tanh(k·(x + c·x³))}.
 *
 * <p>Matched only when every intermediate has the pattern as its sole reader, so no gradient can
 * bypass the composite rule.
 */
final class TanhGeluPattern {

    /**
     * One occurrence.
     *
     * @param output   the final Mul, whose output is y
     * @param x        the GELU input
     * @param k        the tanh argument's scale (√(2/π))
     * @param c        the cubic coefficient (0.044715)
     * @param interior the other seven nodes, not differentiated one by one
     */
    record Match(NodeProto output, String x, double k, double c, Set<NodeProto> interior) {
    }

    private final Map<String, NodeProto> producers = new HashMap<>();
    private final Map<String, Integer> readers = new HashMap<>();
    private final Map<String, TensorProto> constants;

    private TanhGeluPattern(List<NodeProto> nodes, Set<String> graphOutputs, Map<String, TensorProto> constants) {
        this.constants = constants;
        for (NodeProto node : nodes) {
            node.getOutputList().forEach(o -> producers.put(o, node));
            node.getInputList().forEach(i -> readers.merge(i, 1, Integer::sum));
        }
        graphOutputs.forEach(o -> readers.merge(o, 1, Integer::sum));
    }

    /** Every occurrence in {@code nodes}, keyed by the final Mul. */
    static Map<NodeProto, Match> find(List<NodeProto> nodes, Set<String> graphOutputs, Map<String, TensorProto> constants) {
        TanhGeluPattern p = new TanhGeluPattern(nodes, graphOutputs, constants);
        Map<NodeProto, Match> matches = new HashMap<>();
        for (NodeProto node : nodes) {
            if (node.getOpType().equals("Tanh")) {
                p.matchAt(node).ifPresent(m -> matches.put(m.output(), m));
            }
        }
        return matches;
    }

    private Optional<Match> matchAt(NodeProto tanh) {
        String t = tanh.getOutput(0);
        if (!singleReader(t)) {
            return Optional.empty();
        }
        // a1 = t + 1
        NodeProto plusOne = soleConsumer(t);
        if (plusOne == null || !plusOne.getOpType().equals("Add") || !isConstant(other(plusOne, t), 1.0)
                || !singleReader(plusOne.getOutput(0))) {
            return Optional.empty();
        }
        // y = m0 · a1
        NodeProto product = soleConsumer(plusOne.getOutput(0));
        if (product == null || !product.getOpType().equals("Mul")) {
            return Optional.empty();
        }
        NodeProto half = producer(other(product, plusOne.getOutput(0)), "Mul");
        if (half == null || !singleReader(half.getOutput(0))) {
            return Optional.empty();
        }
        String x = scaledInput(half, 0.5);
        if (x == null) {
            return Optional.empty();
        }
        // tanh input m2 = a0 · k
        NodeProto scale = producer(tanh.getInput(0), "Mul");
        if (scale == null || !singleReader(scale.getOutput(0))) {
            return Optional.empty();
        }
        String a0 = nonConstantInput(scale);
        Double k = a0 == null ? null : constantValue(other(scale, a0));
        NodeProto sum = a0 == null ? null : producer(a0, "Add");
        if (k == null || sum == null || !singleReader(a0) || !sum.getInputList().contains(x)) {
            return Optional.empty();
        }
        // a0 = x + m1, m1 = p · c, p = x³
        String m1 = other(sum, x);
        NodeProto cubicScale = producer(m1, "Mul");
        if (cubicScale == null || !singleReader(m1)) {
            return Optional.empty();
        }
        String p = nonConstantInput(cubicScale);
        Double c = p == null ? null : constantValue(other(cubicScale, p));
        NodeProto cube = p == null ? null : producer(p, "Pow");
        if (c == null || cube == null || !singleReader(p) || !cube.getInput(0).equals(x)
                || !isConstant(cube.getInput(1), 3.0)) {
            return Optional.empty();
        }
        return Optional.of(new Match(product, x, k, c, Set.of(half, cube, cubicScale, sum, scale, tanh, plusOne)));
    }

    /**
     * The GELU rule: the gradient of x from the gradient of y, reading only x. Written as
     * 0.5·((1 + t) + x·(1 − t²)·k·(1 + 3c·x²)) and not in the forward's shape: ONNX Runtime's GELU
     * fusions would otherwise match a backward subgraph whose intermediates other nodes still read.
     */
    static String backward(Match m, String dY, GraphEmitter e) {
        String x = m.x();
        String x2 = e.op("Mul", x, x);
        String inner = e.op("Add", x, e.op("Mul", e.op("Mul", x2, x), e.scalar(m.c())));
        String t = e.op("Tanh", e.op("Mul", inner, e.scalar(m.k())));
        String sech2 = e.op("Sub", e.scalar(1), e.op("Mul", t, t));
        String du = e.op("Mul", e.op("Add", e.op("Mul", x2, e.scalar(3 * m.c())), e.scalar(1)), e.scalar(m.k()));
        String sum = e.op("Add", e.op("Add", t, e.scalar(1)), e.op("Mul", e.op("Mul", x, sech2), du));
        return e.op("Mul", dY, e.op("Mul", sum, e.scalar(0.5)));
    }

    private boolean singleReader(String tensor) {
        return readers.getOrDefault(tensor, 0) == 1;
    }

    private NodeProto soleConsumer(String tensor) {
        for (NodeProto node : producers.values()) {
            if (node.getInputList().contains(tensor)) {
                return node;
            }
        }
        return null;
    }

    private NodeProto producer(String tensor, String opType) {
        NodeProto node = producers.get(tensor);
        return node != null && node.getOpType().equals(opType) && node.getInputCount() == 2 ? node : null;
    }

    private static String other(NodeProto binary, String one) {
        if (binary.getInputCount() != 2) {
            return "";
        }
        return binary.getInput(0).equals(one) ? binary.getInput(1) : binary.getInput(0);
    }

    private String nonConstantInput(NodeProto binary) {
        boolean first = constants.containsKey(binary.getInput(0));
        boolean second = constants.containsKey(binary.getInput(1));
        if (first == second) {
            return null;
        }
        return first ? binary.getInput(1) : binary.getInput(0);
    }

    private String scaledInput(NodeProto mul, double factor) {
        String input = nonConstantInput(mul);
        return input != null && isConstant(other(mul, input), factor) ? input : null;
    }

    private boolean isConstant(String name, double value) {
        Double v = constantValue(name);
        return v != null && v == value;
    }

    /** The value of a rank-0 float constant, or null. */
    private Double constantValue(String name) {
        TensorProto t = constants.get(name);
        if (t == null || t.getDimsCount() != 0 || t.getDataType() != TensorProto.DataType.FLOAT.getNumber()
                && t.getDataType() != TensorProto.DataType.DOUBLE.getNumber()) {
            return null;
        }
        OptionalDouble value = TensorProtoReader.scalar(t);
        return value.isPresent() ? value.getAsDouble() : null;
    }
}

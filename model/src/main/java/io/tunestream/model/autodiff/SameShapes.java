package io.tunestream.model.autodiff;

import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Classes of forward tensors that provably have the same shape, whatever the run-time sizes:
 * an elementwise op's output has the shape of its input, and of a binary op's operands when the
 * other operand is a rank-0 constant or both operands are in one class. Rules use it to skip the
 * run-time unbroadcast (a ReduceSum copy) where nothing can have been broadcast; anything not
 * proven keeps the run-time path.
 */
final class SameShapes {

    private static final Set<String> UNARY = Set.of("Neg", "Identity", "Cast", "CastLike", "Sqrt", "Reciprocal", "Tanh",
            "Sigmoid", "Erf", "Exp", "Log", "Relu", "Abs", "Softmax", "LogSoftmax", "LayerNormalization");
    private static final Set<String> BINARY = Set.of("Add", "Sub", "Mul", "Div", "Pow");

    private final Map<String, String> parent = new HashMap<>();

    static SameShapes of(List<NodeProto> nodes, Map<String, TensorProto> constants) {
        SameShapes s = new SameShapes();
        for (NodeProto node : nodes) {
            String op = node.getOpType();
            if (UNARY.contains(op) && node.getInputCount() >= 1 && node.getOutputCount() >= 1) {
                s.union(node.getOutput(0), node.getInput(0));
            } else if (BINARY.contains(op) && node.getInputCount() == 2) {
                String a = node.getInput(0);
                String b = node.getInput(1);
                if (isScalarConstant(constants.get(b))) {
                    s.union(node.getOutput(0), a);
                } else if (isScalarConstant(constants.get(a)) && !op.equals("Pow")) {
                    s.union(node.getOutput(0), b);
                } else if (s.same(a, b)) {
                    s.union(node.getOutput(0), a);
                }
            }
        }
        return s;
    }

    private static boolean isScalarConstant(TensorProto t) {
        return t != null && t.getDimsCount() == 0;
    }

    boolean same(String a, String b) {
        return a.equals(b) || find(a).equals(find(b));
    }

    private String find(String x) {
        String p = parent.getOrDefault(x, x);
        if (p.equals(x)) {
            return x;
        }
        String root = find(p);
        parent.put(x, root);
        return root;
    }

    private void union(String a, String b) {
        String ra = find(a);
        String rb = find(b);
        if (!ra.equals(rb)) {
            parent.put(ra, rb);
        }
    }
}

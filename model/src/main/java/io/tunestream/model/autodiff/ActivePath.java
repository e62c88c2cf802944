package io.tunestream.model.autodiff;

import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;

import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The tensors and nodes on a path from a trainable input to a differentiated output: marked
 * forward from the trainable inputs through differentiable inputs, backward from the outputs, and
 * intersected. Integer, boolean and shape results ({@link GradientRules#NON_DIFFERENTIABLE}, Cast to
 * a non-float type) stop the forward marking.
 */
final class ActivePath {

    private static final Set<Integer> FLOAT_TYPES = Set.of(TensorProto.DataType.FLOAT.getNumber(),
            TensorProto.DataType.DOUBLE.getNumber(), TensorProto.DataType.FLOAT16.getNumber(),
            TensorProto.DataType.BFLOAT16.getNumber());

    private final Set<String> active;

    private ActivePath(Set<String> active) {
        this.active = active;
    }

    static ActivePath mark(List<NodeProto> nodes, Set<String> trainableInputs, Set<String> outputs) {
        Set<String> fromInputs = new HashSet<>(trainableInputs);
        for (NodeProto node : nodes) {
            if (carriesGradient(node)) {
                for (int k = 0; k < node.getInputCount(); k++) {
                    if (differentiable(node, k) && fromInputs.contains(node.getInput(k))) {
                        fromInputs.addAll(node.getOutputList());
                        break;
                    }
                }
            }
        }
        Set<String> toOutputs = new HashSet<>(outputs);
        for (int i = nodes.size() - 1; i >= 0; i--) {
            NodeProto node = nodes.get(i);
            if (node.getOutputList().stream().anyMatch(toOutputs::contains)) {
                for (int k = 0; k < node.getInputCount(); k++) {
                    if (differentiable(node, k)) {
                        toOutputs.add(node.getInput(k));
                    }
                }
            }
        }
        fromInputs.retainAll(toOutputs);
        return new ActivePath(fromInputs);
    }

    private static boolean carriesGradient(NodeProto node) {
        if (GradientRules.NON_DIFFERENTIABLE.contains(node.getOpType())) {
            return false;
        }
        if (node.getOpType().equals("Cast")) {
            long to = node.getAttributeList().stream().filter(a -> a.getName().equals("to")).findFirst()
                    .map(a -> a.getI()).orElse(0L);
            return FLOAT_TYPES.contains((int) to);
        }
        return true;
    }

    private static boolean differentiable(NodeProto node, int input) {
        if (node.getInput(input).isEmpty()) {
            return false;
        }
        Set<Integer> allowed = GradientRules.DIFFERENTIABLE_INPUTS.get(node.getOpType());
        return allowed == null || allowed.contains(input);
    }

    boolean isActiveTensor(String name) {
        return active.contains(name);
    }

    /** A node is differentiated when one of its differentiable inputs and one of its outputs are active. */
    boolean isActive(NodeProto node) {
        if (!carriesGradient(node) || node.getOutputList().stream().noneMatch(active::contains)) {
            return false;
        }
        for (int k = 0; k < node.getInputCount(); k++) {
            if (isDifferentiableInput(node, k)) {
                return true;
            }
        }
        return false;
    }

    boolean isDifferentiableInput(NodeProto node, int input) {
        return differentiable(node, input) && active.contains(node.getInput(input)) && carriesGradient(node);
    }
}

package io.tunestream.model.autodiff;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;

import java.util.List;
import java.util.Optional;

/**
 * One forward node as its {@link GradientRule} sees it during the backward pass: its tensors,
 * the gradients that reached its outputs, which inputs need a gradient, and where to put them.
 */
final class NodeGradient {

    private final NodeProto node;
    private final List<String> outputGradients;
    private final boolean[] needed;
    private final String[] inputGradients;
    private final GraphEmitter emit;
    private final ConstantLookup constants;
    private final SameShapes sameShapes;

    /** Constant tensors of the forward graph (initializers and Constant outputs) by name. */
    interface ConstantLookup {
        Optional<TensorProto> constant(String name);
    }

    NodeGradient(NodeProto node, List<String> outputGradients, boolean[] needed, GraphEmitter emit,
                 ConstantLookup constants, SameShapes sameShapes) {
        this.sameShapes = sameShapes;
        this.node = node;
        this.outputGradients = outputGradients;
        this.needed = needed;
        this.inputGradients = new String[node.getInputCount()];
        this.emit = emit;
        this.constants = constants;
    }

    GraphEmitter emit() {
        return emit;
    }

    String input(int i) {
        return node.getInput(i);
    }

    int inputCount() {
        return node.getInputCount();
    }

    /** True when input {@code i} exists (non-empty name). */
    boolean hasInput(int i) {
        return i < node.getInputCount() && !node.getInput(i).isEmpty();
    }

    String output(int i) {
        return node.getOutput(i);
    }

    int outputCount() {
        return node.getOutputCount();
    }

    /** The gradient of output {@code i}, or null when nothing downstream of it reaches the loss. */
    String outputGradient(int i) {
        return i < outputGradients.size() ? outputGradients.get(i) : null;
    }

    /** The gradient of output 0 (never null: a node is only visited when it has one). */
    String dY() {
        String g = outputGradient(0);
        if (g == null) {
            throw failure("output 0 '" + output(0) + "' has no gradient");
        }
        return g;
    }

    /** True when input {@code i} lies on the path from a trainable input and needs a gradient. */
    boolean needs(int i) {
        return i < needed.length && needed[i];
    }

    /** Records the gradient of input {@code i}. */
    void setInputGradient(int i, String gradient) {
        if (inputGradients[i] != null) {
            inputGradients[i] = emit.op("Add", inputGradients[i], gradient);
        } else {
            inputGradients[i] = gradient;
        }
    }

    String inputGradient(int i) {
        return inputGradients[i];
    }

    /**
     * Brings {@code g}, a gradient with the shape of output 0, back to the shape of input {@code i}:
     * as is when they provably have the same shape, else with the run-time unbroadcast.
     */
    String unbroadcastToInput(String g, int i) {
        return sameShapes.same(output(0), input(i)) ? g : emit.unbroadcast(g, input(i));
    }

    Optional<TensorProto> constant(String name) {
        return constants.constant(name);
    }

    long intAttribute(String name, long defaultValue) {
        return attribute(name).map(AttributeProto::getI).orElse(defaultValue);
    }

    float floatAttribute(String name, float defaultValue) {
        return attribute(name).map(AttributeProto::getF).orElse(defaultValue);
    }

    Optional<long[]> intsAttribute(String name) {
        return attribute(name).map(a -> a.getIntsList().stream().mapToLong(Long::longValue).toArray());
    }

    Optional<AttributeProto> attribute(String name) {
        return node.getAttributeList().stream().filter(a -> a.getName().equals(name)).findFirst();
    }

    /** An error naming this node and its op. */
    GradientGraphException failure(String what) {
        return new GradientGraphException("cannot differentiate node '" + node.getName() + "' (op " + node.getOpType()
                + "): " + what);
    }
}

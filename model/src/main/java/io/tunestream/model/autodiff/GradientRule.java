package io.tunestream.model.autodiff;

/**
 * The reverse-mode rule of one ONNX op: turns the gradients of a node's outputs into
 * contributions to the gradients of its active inputs, as nodes emitted into the gradient graph.
 */
@FunctionalInterface
interface GradientRule {

    void backward(NodeGradient node);
}

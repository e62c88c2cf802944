package io.tunestream.model.onnx;

/** Where ONNX Runtime executes the graph. */
public enum ExecutionProvider {
    CPU,
    CUDA
}

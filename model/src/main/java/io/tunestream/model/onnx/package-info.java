/**
 * The ONNX Runtime side of the model: the one package that imports {@code ai.onnxruntime}.
 *
 * <ul>
 *   <li>{@link io.tunestream.model.onnx.DecoderModel}: loads an Optimum export, applies the graph rewrites of
 *       {@code io.tunestream.model.graph} and owns the serving sessions; {@link io.tunestream.model.onnx.DecodeState}
 *       is how generation runs it (prefill, step, drop finished rows), with the KV cache hidden behind it.</li>
 *   <li>{@link io.tunestream.model.onnx.TrainingSession}: the p-tuning loss and gradient graphs.</li>
 *   <li>Shared plumbing: session options and creation ({@code OrtSessions}, {@code LargeStack},
 *       {@link io.tunestream.model.onnx.NativeLibraryCache}), direct buffers ({@code DirectBufferPool}),
 *       {@link io.tunestream.model.onnx.RuntimeConfig} and {@link io.tunestream.model.onnx.ModelConfig}.</li>
 * </ul>
 */
package io.tunestream.model.onnx;

/**
 * Batched generation over a {@link io.tunestream.model.onnx.DecoderModel}: each row of a batch has its own task,
 * template, adapter and options.
 *
 * <p>Entry point: {@link io.tunestream.model.generate.Generator#generate(java.util.List)} with
 * {@link io.tunestream.model.generate.GenerationRequest}s; one {@link io.tunestream.model.generate.GenerationResult}
 * per request, in order, with a {@link io.tunestream.model.generate.FinishReason}. Bad input fails its own row
 * (ERROR, message naming the task), never the batch. Nothing here imports ONNX Runtime.
 */
package io.tunestream.model.generate;

/**
 * Reading and rewriting ONNX graphs as protobuf ({@code ai.onnx.proto.OnnxMl}): nothing here imports
 * ONNX Runtime, so every rewrite is a {@code ModelProto -> ModelProto} function that tests can check
 * structurally and any runtime can execute.
 *
 * <ul>
 *   <li>{@link io.tunestream.model.graph.InputsEmbedsRewrite}: {@code input_ids} to {@code inputs_embeds}
 *       (soft prompts), for serving and training.</li>
 *   <li>Serving only: {@link io.tunestream.model.graph.LastTokenLogits},
 *       {@link io.tunestream.model.graph.SingleInputConcatRemoval},
 *       {@link io.tunestream.model.graph.SkipLayerNormRewrite}, and the in-place decode graph
 *       {@link io.tunestream.model.graph.GroupQueryAttentionRewrite} with its shape arithmetic folded
 *       ({@link io.tunestream.model.graph.DecodeShapeFolding}) and, for rotary models, the cos/sin caches
 *       ({@link io.tunestream.model.graph.RotaryCache}) that the runtime evaluates from the graph
 *       {@code GroupQueryAttentionRewrite.rotaryTables} cuts out of the export.</li>
 *   <li>{@link io.tunestream.model.graph.TensorProtoReader}: the one decoder of tensor data (raw
 *       little-endian bytes, typed fields, external files); {@link io.tunestream.model.graph.WeightsFingerprint}
 *       hashes the weights adapters are checked against.</li>
 * </ul>
 * The ONNX Runtime side (sessions, tensors, KV caches) is {@code io.tunestream.model.onnx}.
 */
package io.tunestream.model.graph;

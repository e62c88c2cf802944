/**
 * Reverse-mode differentiation of ONNX graphs, as ONNX graphs: pure protobuf
 * ({@code ai.onnx.proto.OnnxMl}), no ONNX Runtime. The result of every builder here is an ordinary
 * model of standard ONNX ops that any runtime executes; {@code io.tunestream.model.onnx.TrainingSession}
 * runs the soft-prompt one.
 *
 * <ul>
 *   <li>{@link io.tunestream.model.autodiff.GradientGraphBuilder#build} — a scalar loss and its
 *       gradient with respect to chosen graph inputs ({@code grad.<input>} outputs).</li>
 *   <li>{@link io.tunestream.model.autodiff.GradientGraphBuilder#vectorJacobianProduct} — the general
 *       form: cotangents of chosen outputs come in as inputs {@code grad.<output>}, e.g. to
 *       differentiate a prompt encoder (parameters → virtual-token table) with the table's gradient
 *       as the seed.</li>
 *   <li>{@link io.tunestream.model.autodiff.SoftPromptTrainingGraph} — a decoder's p-tuning graph:
 *       virtual-token table and token ids in, NeMo's masked mean cross-entropy and d loss / d table out;
 *       {@link io.tunestream.model.autodiff.DeepPromptTrainingGraph}, the same for a deep prompt. Both
 *       run the final norm and LM head only at the positions that carry loss
 *       ({@link io.tunestream.model.autodiff.HeadPositions}).</li>
 * </ul>
 *
 * <p>How: active nodes are those on a path from a trainable input to a differentiated output;
 * shape, integer and mask subgraphs and the weights are constants. Rules (one an op type, see
 * {@code GradientRules}) emit backward nodes that take shapes at run time, so one graph serves every
 * batch size and sequence length, batch 1 included; broadcasting is undone with a run-time
 * {@code ReduceSum}. An op without a rule on the path is a {@link
 * io.tunestream.model.autodiff.GradientGraphException} naming the op and the node.
 */
package io.tunestream.model.autodiff;

/**
 * P-tuning: NeMo prompt encoders and the training loop that learns a task's virtual-token table.
 *
 * <ul>
 *   <li>{@link io.tunestream.model.tune.PromptEncoder} ({@code embedding}, {@code mlp}, {@code tpmlp},
 *       {@code lstm}): parameters (a flat vector laid out by {@link io.tunestream.model.tune.ParameterLayout})
 *       to table, and the exact parameter gradient from the table gradient.</li>
 *   <li>{@link io.tunestream.model.tune.TableObjective}: the frozen LM's loss and table gradient;
 *       {@link io.tunestream.model.tune.DecoderTableObjective} runs it on the model's
 *       {@code onnx.TrainingSession}.</li>
 *   <li>{@link io.tunestream.model.tune.PromptTuner}: AdamW, cosine schedule with warmup, clipping,
 *       micro/global batches, validation each epoch, early stopping, NaN guard, seeded and resumable from
 *       a {@link io.tunestream.model.tune.TaskCheckpoint} ({@link io.tunestream.model.tune.CheckpointCodec}
 *       for bytes).</li>
 *   <li>{@link io.tunestream.model.tune.TuningExamples}: NeMo JSONL to training prompts, unusable lines
 *       skipped and counted by reason.</li>
 *   <li>{@link io.tunestream.model.tune.TuneCommand}: the results command (exact match, p-tuned vs zero-shot).</li>
 * </ul>
 */
package io.tunestream.model.tune;

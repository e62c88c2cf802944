/**
 * NeMo prompt-learning templates and the token sequences built from them, shared by generation and tuning.
 *
 * <ul>
 *   <li>{@link io.tunestream.model.prompt.TaskTemplate}: a {@code task_templates} entry, validated with errors
 *       naming the task.</li>
 *   <li>{@link io.tunestream.model.prompt.PromptBuilder#build}: template + fields to a
 *       {@link io.tunestream.model.prompt.Prompt} (token ids, virtual-token rows, answer span), in
 *       {@link io.tunestream.model.prompt.PromptMode#INFERENCE} or {@link io.tunestream.model.prompt.PromptMode#TRAINING}.</li>
 *   <li>{@link io.tunestream.model.prompt.VirtualTokenTable}: a task's learned rows and the fingerprint of the
 *       model they belong to.</li>
 * </ul>
 * Nothing here touches ONNX Runtime.
 */
package io.tunestream.model.prompt;

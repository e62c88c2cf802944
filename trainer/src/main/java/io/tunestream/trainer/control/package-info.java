/**
 * What the trainer's API may ask of the loop ({@link io.tunestream.trainer.control.TaskCommands}), the immutable
 * views it answers with and the refusals it gives, independent of HTTP.
 */
package io.tunestream.trainer.control;

package io.tunestream.trainer.control;

/** A task's retraining paused or resumed, as written to {@code task-controls}. */
public record ControlResult(String task, boolean paused, String reason, String replica, long updatedAtMillis) {
}

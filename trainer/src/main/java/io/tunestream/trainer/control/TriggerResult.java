package io.tunestream.trainer.control;

/**
 * A run asked for: {@code started} with its run id, or {@code queued} until a run slot is free (or the replica has
 * settled its ownership).
 */
public record TriggerResult(String task, String state, String runId) {
}

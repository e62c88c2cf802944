package io.tunestream.model.tune;

/** Why a task's tuning stopped. */
public enum StopReason {
    /** All {@code max_epochs} ran. */
    COMPLETED,
    /** Validation loss did not improve for {@code patience} epochs. */
    EARLY_STOPPED,
    /** A training or validation loss (or gradient) was NaN or infinite; the checkpoint is the last good state. */
    NON_FINITE_LOSS,
    /** The caller's step budget for this run was used up; resume from the checkpoint to continue. */
    STEP_BUDGET
}

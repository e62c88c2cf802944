package io.tunestream.model.autodiff;

/** Where a training graph runs the decoder's final norm and LM head. */
public enum HeadPositions {
    /** At every position, as the export does; the masked loss then drops the positions without loss. */
    ALL,
    /** Only at the positions that carry loss (non-zero {@code loss_mask}): same loss and gradient, less work. */
    LOSS_ONLY
}

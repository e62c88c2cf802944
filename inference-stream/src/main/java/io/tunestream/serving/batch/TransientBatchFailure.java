package io.tunestream.serving.batch;

/**
 * A batch failure that the same batch may not meet again: the runtime ran out of memory, a device was
 * briefly unavailable. {@link RetryingAnswerer} retries it; a {@linkplain #splittable() splittable} one
 * (out of memory) is retried in two halves. Any other exception from an answerer is permanent.
 */
public final class TransientBatchFailure extends RuntimeException {

    private final boolean splittable;

    /** @param splittable whether smaller batches are likely to succeed (memory), rather than the same batch later */
    public TransientBatchFailure(String message, boolean splittable) {
        super(message);
        this.splittable = splittable;
    }

    public boolean splittable() {
        return splittable;
    }
}

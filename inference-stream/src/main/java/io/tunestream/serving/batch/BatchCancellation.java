package io.tunestream.serving.batch;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * The stop signal of one batch: the topology cancels a batch that passed its deadline or whose partition
 * was revoked; the answerer stops as soon as it can (the model runtime terminates the native call in
 * progress) and its outcomes are dropped. Thread-safe: cancelled from the stream thread, read on the
 * model thread.
 */
public final class BatchCancellation {

    private final CountDownLatch cancelled = new CountDownLatch(1);
    private final List<Runnable> onCancel = new ArrayList<>();

    /** Cancels the batch: runs every registered action once (in the caller's thread). */
    public void cancel() {
        List<Runnable> actions;
        synchronized (this) {
            if (cancelled.getCount() == 0) {
                return;
            }
            cancelled.countDown();
            actions = List.copyOf(onCancel);
            onCancel.clear();
        }
        actions.forEach(Runnable::run);
    }

    public boolean isCancelled() {
        return cancelled.getCount() == 0;
    }

    /**
     * Runs {@code action} when the batch is cancelled, or at once if it already is. The returned handle
     * unregisters it (call it before freeing what the action touches).
     */
    public Runnable onCancel(Runnable action) {
        synchronized (this) {
            if (!isCancelled()) {
                onCancel.add(action);
                return () -> {
                    synchronized (this) {
                        onCancel.remove(action);
                    }
                };
            }
        }
        action.run();
        return () -> { };
    }

    /**
     * Waits up to {@code timeout} for the cancellation (a retry's back-off, a test double that blocks).
     *
     * @return whether the batch is cancelled
     * @throws InterruptedException if the waiting thread is interrupted
     */
    public boolean await(Duration timeout) throws InterruptedException {
        return cancelled.await(timeout.toNanos(), TimeUnit.NANOSECONDS);
    }
}

package io.tunestream.ingest.jsonl;

import java.util.function.LongSupplier;

/**
 * Spaces out records to at most a given rate: the n-th {@link #acquire()} returns no earlier than
 * n / rate seconds after the first, so short stalls are caught up without bursting above the
 * average. Not thread-safe: one sender owns it.
 */
public final class RateLimiter {

    /** Sleeps for a number of nanoseconds (injectable for tests). */
    @FunctionalInterface
    public interface Sleeper {
        void sleepNanos(long nanos) throws InterruptedException;
    }

    private final double perSecond;
    private final LongSupplier nanoTime;
    private final Sleeper sleeper;
    private long start = -1;
    private long acquired;

    public RateLimiter(double perSecond, LongSupplier nanoTime, Sleeper sleeper) {
        if (!(perSecond > 0) || Double.isInfinite(perSecond)) {
            throw new IllegalArgumentException("rate must be a positive number of records per second, was " + perSecond);
        }
        this.perSecond = perSecond;
        this.nanoTime = nanoTime;
        this.sleeper = sleeper;
    }

    /** A limiter on the system clock. */
    public static RateLimiter perSecond(double rate) {
        return new RateLimiter(rate, System::nanoTime, nanos -> Thread.sleep(nanos / 1_000_000, (int) (nanos % 1_000_000)));
    }

    /** Waits until the next record may go. */
    public void acquire() throws InterruptedException {
        long now = nanoTime.getAsLong();
        if (start < 0) {
            start = now;
        }
        long due = start + (long) (acquired * 1e9 / perSecond);
        acquired++;
        if (due > now) {
            sleeper.sleepNanos(due - now);
        }
    }
}

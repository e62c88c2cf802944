package io.tunestream.trainer.loop;

import java.time.Clock;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;
import org.apache.kafka.common.utils.internals.ExponentialBackoff;

/**
 * When the loop reads its inputs again after a transient failure (the registry cannot be reached, a
 * write is not acknowledged): exponential backoff with jitter, reset by the first batch read without
 * one, and what health reports meanwhile. Nothing is skipped: the loop reads the same records again.
 *
 * <p>Updated on the loop's thread; {@link #degraded()} may be read from any thread.
 */
final class InputRetry {

    private final ExponentialBackoff backoff;
    private final Clock clock;
    private long attempts;
    private long retryAtMillis;
    private volatile String degraded;

    InputRetry(Duration initial, Duration max, Clock clock) {
        this.backoff = new ExponentialBackoff(initial.toMillis(), 2, max.toMillis(), 0.2);
        this.clock = Objects.requireNonNull(clock, "clock");
    }

    /**
     * A transient failure: the next attempt waits.
     *
     * @param what what is wrong, health's words: {@code "registry unreachable"}
     * @return how long the loop waits before reading again
     */
    Duration failed(String what, RuntimeException cause) {
        long wait = backoff.backoff(attempts++);
        retryAtMillis = clock.millis() + wait;
        degraded = "degraded: " + what + " (attempt " + attempts + ", next in " + wait + " ms): " + cause.getMessage();
        return Duration.ofMillis(wait);
    }

    /** Whether the wait after the last failure is still on. */
    boolean waiting() {
        return degraded != null && clock.millis() < retryAtMillis;
    }

    /** A batch was read without a transient failure. */
    void succeeded() {
        attempts = 0;
        degraded = null;
    }

    /** {@code degraded: <what> (…)} while failures go on, empty when reading works. */
    Optional<String> degraded() {
        return Optional.ofNullable(degraded);
    }
}

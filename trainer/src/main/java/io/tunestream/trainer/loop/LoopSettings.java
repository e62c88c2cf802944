package io.tunestream.trainer.loop;

import java.time.Duration;
import java.util.Objects;

/**
 * How the trainer loop runs, validated at construction.
 *
 * @param groupId             consumer group (committed feedback offsets) and prefix of the client and transactional ids
 * @param pollTimeout         longest a poll waits for records; bounds how late a due run or a shutdown is noticed
 * @param maxExamplesPerTask  newest examples kept per task and split (TRAIN, VALIDATION); older ones are dropped
 *                            from memory (they stay on the topic)
 * @param retryInitial        first wait after a transient failure (registry unreachable, a write not acknowledged)
 * @param retryMax            longest wait between two attempts; the waits double up to it
 */
public record LoopSettings(String groupId, Duration pollTimeout, int maxExamplesPerTask, Duration retryInitial,
                           Duration retryMax) {

    public static final int DEFAULT_MAX_EXAMPLES_PER_TASK = 10_000;
    public static final Duration DEFAULT_RETRY_INITIAL = Duration.ofMillis(200);
    public static final Duration DEFAULT_RETRY_MAX = Duration.ofSeconds(10);

    public LoopSettings {
        Objects.requireNonNull(groupId, "groupId");
        Objects.requireNonNull(pollTimeout, "pollTimeout");
        Objects.requireNonNull(retryInitial, "retryInitial");
        Objects.requireNonNull(retryMax, "retryMax");
        if (groupId.isBlank()) {
            throw new IllegalArgumentException("group id must be set");
        }
        if (maxExamplesPerTask < 1) {
            throw new IllegalArgumentException("max examples per task must be at least 1, got " + maxExamplesPerTask);
        }
        if (retryInitial.isNegative() || retryInitial.isZero()) {
            throw new IllegalArgumentException("retry initial backoff must be positive, got " + retryInitial);
        }
        if (retryMax.compareTo(retryInitial) < 0) {
            throw new IllegalArgumentException("retry max backoff " + retryMax + " must not be below the initial backoff "
                    + retryInitial);
        }
    }

    /** The defaults for everything but the group and the poll timeout. */
    public static LoopSettings of(String groupId, Duration pollTimeout) {
        return new LoopSettings(groupId, pollTimeout, DEFAULT_MAX_EXAMPLES_PER_TASK, DEFAULT_RETRY_INITIAL,
                DEFAULT_RETRY_MAX);
    }

    public LoopSettings withMaxExamplesPerTask(int max) {
        return new LoopSettings(groupId, pollTimeout, max, retryInitial, retryMax);
    }
}

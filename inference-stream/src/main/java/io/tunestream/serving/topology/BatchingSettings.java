package io.tunestream.serving.topology;

import java.time.Duration;
import java.util.Objects;

/**
 * How the topology buffers, batches and checks requests; validated when built.
 *
 * @param maxBatchSize             rows of one model call; a batch runs as soon as this many requests wait
 * @param maxWait                  longest a request waits for its batch to fill
 * @param punctuateInterval        how often (wall clock) waiting requests are checked against {@code maxWait}
 * @param maxBatchesPerPunctuation batches run by one punctuation or one arriving request at most, so one call
 *                                 into the topology stays well under {@code max.poll.interval.ms}
 * @param keepAdapterVersions      recent adapter versions kept per task for requests that pin one
 * @param maxPromptChars           a request whose fields hold more characters is refused as too long before
 *                                 it reaches the tokenizer
 * @param maxBatchesInFlight       batches of one task handed to the model and not yet answered; 2 lets the next
 *                                 batch wait on the model executor while one runs, so the model never idles
 *                                 between batches
 */
public record BatchingSettings(int maxBatchSize, Duration maxWait, Duration punctuateInterval,
                               int maxBatchesPerPunctuation, int keepAdapterVersions, int maxPromptChars,
                               int maxBatchesInFlight) {

    public BatchingSettings {
        Objects.requireNonNull(maxWait, "maxWait");
        Objects.requireNonNull(punctuateInterval, "punctuateInterval");
        require(maxBatchSize >= 1, "maxBatchSize must be >= 1, was " + maxBatchSize);
        require(!maxWait.isNegative(), "maxWait must be >= 0, was " + maxWait);
        require(punctuateInterval.toMillis() >= 1, "punctuateInterval must be >= 1 ms, was " + punctuateInterval);
        require(maxBatchesPerPunctuation >= 1, "maxBatchesPerPunctuation must be >= 1, was " + maxBatchesPerPunctuation);
        require(keepAdapterVersions >= 1, "keepAdapterVersions must be >= 1, was " + keepAdapterVersions);
        require(maxPromptChars >= 1, "maxPromptChars must be >= 1, was " + maxPromptChars);
        require(maxBatchesInFlight >= 1, "maxBatchesInFlight must be >= 1, was " + maxBatchesInFlight);
    }

    /** Two batches in flight. */
    public BatchingSettings(int maxBatchSize, Duration maxWait, Duration punctuateInterval,
                            int maxBatchesPerPunctuation, int keepAdapterVersions, int maxPromptChars) {
        this(maxBatchSize, maxWait, punctuateInterval, maxBatchesPerPunctuation, keepAdapterVersions, maxPromptChars,
                2);
    }

    /**
     * Punctuation every quarter of {@code maxWait} (at least 1 ms); 2 batches per punctuation; 5 versions kept;
     * 2 batches in flight.
     */
    public static BatchingSettings of(int maxBatchSize, Duration maxWait) {
        return new BatchingSettings(maxBatchSize, maxWait, Duration.ofMillis(Math.max(1, maxWait.toMillis() / 4)),
                2, 5, 64 * 1024);
    }

    private static void require(boolean condition, String message) {
        if (!condition) {
            throw new IllegalArgumentException(message);
        }
    }
}

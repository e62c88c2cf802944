package io.tunestream.serving.topology;

import java.time.Duration;
import java.util.Objects;

/**
 * How the topology buffers, batches and checks requests, and how it protects itself from a slow model, a
 * flood of requests and duplicates; validated when built.
 *
 * @param maxBatchSize             rows of one model call; a batch runs as soon as this many requests wait
 * @param maxWait                  longest a request waits for its batch to fill
 * @param punctuateInterval        how often (wall clock) waiting requests are checked against {@code maxWait}
 *                                 and batches in flight against {@code batchTimeout}
 * @param maxBatchesPerPunctuation batches run by one punctuation or one arriving request at most, so one call
 *                                 into the topology stays well under {@code max.poll.interval.ms}
 * @param keepAdapterVersions      recent adapter versions kept per task for requests that pin one
 * @param maxPromptChars           a request whose fields hold more characters is refused as too long before
 *                                 it reaches the tokenizer
 * @param maxBatchesInFlight       batches of one task handed to the model and not yet answered; 2 lets the next
 *                                 batch wait on the model executor while one runs, so the model never idles
 *                                 between batches
 * @param batchTimeout             a batch still running this long after it was handed to the model is cancelled
 *                                 and each of its requests answered {@code TIMEOUT}
 * @param cancelGrace              a cancelled batch whose model call has not returned after this long makes the
 *                                 app not live (the call is stuck in native code)
 * @param requestMaxAge            a request older than this (from its {@code createdAtMillis}, else its arrival)
 *                                 when it arrives or when its batch starts is answered {@code EXPIRED};
 *                                 {@link Duration#ZERO} turns it off
 * @param maxBufferedRequests      a partition's buffer above this makes the stream thread wait for batches in
 *                                 flight before it takes the next request (back-pressure)
 * @param bufferFullMaxWait        longest one such wait; well under the transaction timeout, so a commit is never
 *                                 late because of it
 * @param dedupeWindow             a request id answered less than this ago is not answered again (the duplicate is
 *                                 counted); {@link Duration#ZERO} turns it off
 * @param batchRetries             retries of a batch after a transient model failure (out of memory: the batch
 *                                 is split) before its requests get an error answer
 * @param maxAnswerBytes           largest answer record the answers topic takes; a bigger error answer has its
 *                                 message truncated, a bigger text answer becomes an error answer
 */
public record BatchingSettings(int maxBatchSize, Duration maxWait, Duration punctuateInterval,
                               int maxBatchesPerPunctuation, int keepAdapterVersions, int maxPromptChars,
                               int maxBatchesInFlight, Duration batchTimeout, Duration cancelGrace,
                               Duration requestMaxAge, int maxBufferedRequests, Duration bufferFullMaxWait,
                               Duration dedupeWindow, int batchRetries, int maxAnswerBytes) {

    public static final Duration DEFAULT_BATCH_TIMEOUT = Duration.ofSeconds(30);
    public static final Duration DEFAULT_CANCEL_GRACE = Duration.ofSeconds(10);
    public static final int DEFAULT_MAX_BUFFERED_REQUESTS = 1000;
    public static final Duration DEFAULT_BUFFER_FULL_MAX_WAIT = Duration.ofSeconds(1);
    /** Longest back-pressure wait allowed: half of Kafka Streams' default EOS transaction timeout (10 s). */
    public static final Duration MAX_BUFFER_FULL_WAIT = Duration.ofSeconds(5);
    public static final Duration DEFAULT_DEDUPE_WINDOW = Duration.ofMinutes(10);
    public static final int DEFAULT_BATCH_RETRIES = 2;
    /** Kafka's default record limit of a topic (max.message.bytes) and of a producer request. */
    public static final int DEFAULT_MAX_ANSWER_BYTES = 1024 * 1024;

    public BatchingSettings {
        Objects.requireNonNull(maxWait, "maxWait");
        Objects.requireNonNull(punctuateInterval, "punctuateInterval");
        Objects.requireNonNull(batchTimeout, "batchTimeout");
        Objects.requireNonNull(cancelGrace, "cancelGrace");
        Objects.requireNonNull(requestMaxAge, "requestMaxAge");
        Objects.requireNonNull(bufferFullMaxWait, "bufferFullMaxWait");
        Objects.requireNonNull(dedupeWindow, "dedupeWindow");
        require(maxBatchSize >= 1, "maxBatchSize must be >= 1, was " + maxBatchSize);
        require(!maxWait.isNegative(), "maxWait must be >= 0, was " + maxWait);
        require(punctuateInterval.toMillis() >= 1, "punctuateInterval must be >= 1 ms, was " + punctuateInterval);
        require(maxBatchesPerPunctuation >= 1, "maxBatchesPerPunctuation must be >= 1, was " + maxBatchesPerPunctuation);
        require(keepAdapterVersions >= 1, "keepAdapterVersions must be >= 1, was " + keepAdapterVersions);
        require(maxPromptChars >= 1, "maxPromptChars must be >= 1, was " + maxPromptChars);
        require(maxBatchesInFlight >= 1, "maxBatchesInFlight must be >= 1, was " + maxBatchesInFlight);
        require(batchTimeout.toMillis() >= 1, "batchTimeout must be >= 1 ms, was " + batchTimeout);
        require(cancelGrace.toMillis() >= 1, "cancelGrace must be >= 1 ms, was " + cancelGrace);
        require(!requestMaxAge.isNegative(), "requestMaxAge must be >= 0 (0: off), was " + requestMaxAge);
        require(maxBufferedRequests >= maxBatchSize, "maxBufferedRequests must be >= maxBatchSize " + maxBatchSize
                + ", was " + maxBufferedRequests);
        require(!bufferFullMaxWait.isNegative() && bufferFullMaxWait.compareTo(MAX_BUFFER_FULL_WAIT) <= 0,
                "bufferFullMaxWait must be between 0 and " + MAX_BUFFER_FULL_WAIT.toMillis()
                        + " ms (well under the transaction timeout), was " + bufferFullMaxWait.toMillis() + " ms");
        require(!dedupeWindow.isNegative(), "dedupeWindow must be >= 0 (0: off), was " + dedupeWindow);
        require(batchRetries >= 0, "batchRetries must be >= 0, was " + batchRetries);
        require(maxAnswerBytes >= 4096, "maxAnswerBytes must be >= 4096, was " + maxAnswerBytes);
    }

    /** The protections at their defaults. */
    public BatchingSettings(int maxBatchSize, Duration maxWait, Duration punctuateInterval,
                            int maxBatchesPerPunctuation, int keepAdapterVersions, int maxPromptChars,
                            int maxBatchesInFlight) {
        this(maxBatchSize, maxWait, punctuateInterval, maxBatchesPerPunctuation, keepAdapterVersions, maxPromptChars,
                maxBatchesInFlight, DEFAULT_BATCH_TIMEOUT, DEFAULT_CANCEL_GRACE, Duration.ZERO,
                Math.max(maxBatchSize, DEFAULT_MAX_BUFFERED_REQUESTS), DEFAULT_BUFFER_FULL_MAX_WAIT,
                DEFAULT_DEDUPE_WINDOW, DEFAULT_BATCH_RETRIES, DEFAULT_MAX_ANSWER_BYTES);
    }

    /** Two batches in flight. */
    public BatchingSettings(int maxBatchSize, Duration maxWait, Duration punctuateInterval,
                            int maxBatchesPerPunctuation, int keepAdapterVersions, int maxPromptChars) {
        this(maxBatchSize, maxWait, punctuateInterval, maxBatchesPerPunctuation, keepAdapterVersions, maxPromptChars,
                2);
    }

    /**
     * Punctuation every quarter of {@code maxWait} (at least 1 ms); 2 batches per punctuation; 5 versions kept;
     * 2 batches in flight; the protections at their defaults.
     */
    public static BatchingSettings of(int maxBatchSize, Duration maxWait) {
        return new BatchingSettings(maxBatchSize, maxWait, Duration.ofMillis(Math.max(1, maxWait.toMillis() / 4)),
                2, 5, 64 * 1024);
    }

    public BatchingSettings withBatchTimeout(Duration timeout, Duration grace) {
        return new BatchingSettings(maxBatchSize, maxWait, punctuateInterval, maxBatchesPerPunctuation,
                keepAdapterVersions, maxPromptChars, maxBatchesInFlight, timeout, grace, requestMaxAge,
                maxBufferedRequests, bufferFullMaxWait, dedupeWindow, batchRetries, maxAnswerBytes);
    }

    public BatchingSettings withRequestMaxAge(Duration maxAge) {
        return new BatchingSettings(maxBatchSize, maxWait, punctuateInterval, maxBatchesPerPunctuation,
                keepAdapterVersions, maxPromptChars, maxBatchesInFlight, batchTimeout, cancelGrace, maxAge,
                maxBufferedRequests, bufferFullMaxWait, dedupeWindow, batchRetries, maxAnswerBytes);
    }

    public BatchingSettings withBackPressure(int maxBuffered, Duration maxWaitWhenFull) {
        return new BatchingSettings(maxBatchSize, maxWait, punctuateInterval, maxBatchesPerPunctuation,
                keepAdapterVersions, maxPromptChars, maxBatchesInFlight, batchTimeout, cancelGrace, requestMaxAge,
                maxBuffered, maxWaitWhenFull, dedupeWindow, batchRetries, maxAnswerBytes);
    }

    public BatchingSettings withDedupeWindow(Duration window) {
        return new BatchingSettings(maxBatchSize, maxWait, punctuateInterval, maxBatchesPerPunctuation,
                keepAdapterVersions, maxPromptChars, maxBatchesInFlight, batchTimeout, cancelGrace, requestMaxAge,
                maxBufferedRequests, bufferFullMaxWait, window, batchRetries, maxAnswerBytes);
    }

    public BatchingSettings withBatchRetries(int retries) {
        return new BatchingSettings(maxBatchSize, maxWait, punctuateInterval, maxBatchesPerPunctuation,
                keepAdapterVersions, maxPromptChars, maxBatchesInFlight, batchTimeout, cancelGrace, requestMaxAge,
                maxBufferedRequests, bufferFullMaxWait, dedupeWindow, retries, maxAnswerBytes);
    }

    public BatchingSettings withMaxAnswerBytes(int bytes) {
        return new BatchingSettings(maxBatchSize, maxWait, punctuateInterval, maxBatchesPerPunctuation,
                keepAdapterVersions, maxPromptChars, maxBatchesInFlight, batchTimeout, cancelGrace, requestMaxAge,
                maxBufferedRequests, bufferFullMaxWait, dedupeWindow, batchRetries, bytes);
    }

    /** How often answered request ids older than the dedupe window are purged. */
    Duration dedupePurgeInterval() {
        return Duration.ofMillis(Math.max(10, Math.min(dedupeWindow.toMillis() / 2, 60_000)));
    }

    private static void require(boolean condition, String message) {
        if (!condition) {
            throw new IllegalArgumentException(message);
        }
    }
}

package io.tunestream.trainer.loop;

import java.time.Duration;
import java.util.Objects;

/**
 * How the trainer loop runs, validated at construction.
 *
 * @param groupId             consumer group (examples and feedback partitions, their committed offsets) and prefix
 *                            of the client and transactional ids
 * @param pollTimeout         longest a poll waits for records; bounds how late a due run or a shutdown is noticed
 * @param maxExamplesPerTask  newest examples kept per task and split (TRAIN, VALIDATION); older ones are dropped
 *                            from memory (they stay on the topic)
 * @param retryInitial        first wait after a transient failure (registry unreachable, a write not acknowledged)
 * @param retryMax            longest wait between two attempts; the waits double up to it
 * @param replicaId           this replica's stable name (the StatefulSet pod name): its {@code group.instance.id}
 *                            (static membership) and the suffix of its transactional ids, so a restarted replica
 *                            takes its predecessor's partitions back at once and aborts its open transactions
 * @param parallelRuns        runs of different tasks this replica trains at once (publishes are serialized)
 * @param sessionTimeout      how long the group waits for a silent replica (killed, partitioned) before giving its
 *                            tasks to the others; a static member that restarts within it keeps them
 * @param transactionTimeout  how long an open transaction of a dead replica that does not come back holds up
 *                            read_committed readers and the new owner of its tasks
 * @param keptVersions        adapter versions kept per task on {@code adapter-history} for rollback (older ones are
 *                            tombstoned when a version is published)
 */
public record LoopSettings(String groupId, Duration pollTimeout, int maxExamplesPerTask, Duration retryInitial,
                           Duration retryMax, String replicaId, int parallelRuns, Duration sessionTimeout,
                           Duration transactionTimeout, int keptVersions) {

    public static final int DEFAULT_MAX_EXAMPLES_PER_TASK = 10_000;
    public static final Duration DEFAULT_RETRY_INITIAL = Duration.ofMillis(200);
    public static final Duration DEFAULT_RETRY_MAX = Duration.ofSeconds(10);
    public static final String DEFAULT_REPLICA_ID = "0";
    public static final int DEFAULT_PARALLEL_RUNS = 1;
    public static final Duration DEFAULT_SESSION_TIMEOUT = Duration.ofSeconds(30);
    public static final Duration DEFAULT_TRANSACTION_TIMEOUT = Duration.ofSeconds(60);
    public static final int DEFAULT_KEPT_VERSIONS = 10;

    public LoopSettings {
        Objects.requireNonNull(groupId, "groupId");
        Objects.requireNonNull(pollTimeout, "pollTimeout");
        Objects.requireNonNull(retryInitial, "retryInitial");
        Objects.requireNonNull(retryMax, "retryMax");
        Objects.requireNonNull(replicaId, "replicaId");
        Objects.requireNonNull(sessionTimeout, "sessionTimeout");
        Objects.requireNonNull(transactionTimeout, "transactionTimeout");
        if (groupId.isBlank()) {
            throw new IllegalArgumentException("group id must be set");
        }
        if (replicaId.isBlank() || !replicaId.matches("[A-Za-z0-9._-]+")) {
            throw new IllegalArgumentException("replica id must be a non-empty name of letters, digits, '.', '_' or '-' "
                    + "(the pod name), got '" + replicaId + "'");
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
        if (parallelRuns < 1 || parallelRuns > 64) {
            throw new IllegalArgumentException("parallel runs must be between 1 and 64, got " + parallelRuns);
        }
        if (sessionTimeout.compareTo(Duration.ofSeconds(1)) < 0) {
            throw new IllegalArgumentException("session timeout must be at least 1 s, got " + sessionTimeout);
        }
        if (transactionTimeout.compareTo(Duration.ofSeconds(1)) < 0) {
            throw new IllegalArgumentException("transaction timeout must be at least 1 s, got " + transactionTimeout);
        }
        if (keptVersions < 1 || keptVersions > 1000) {
            throw new IllegalArgumentException("adapter versions kept per task must be between 1 and 1000, got "
                    + keptVersions);
        }
    }

    /** The settings with {@link #DEFAULT_KEPT_VERSIONS} versions kept per task. */
    public LoopSettings(String groupId, Duration pollTimeout, int maxExamplesPerTask, Duration retryInitial,
                        Duration retryMax, String replicaId, int parallelRuns, Duration sessionTimeout,
                        Duration transactionTimeout) {
        this(groupId, pollTimeout, maxExamplesPerTask, retryInitial, retryMax, replicaId, parallelRuns, sessionTimeout,
                transactionTimeout, DEFAULT_KEPT_VERSIONS);
    }

    /** One replica ({@link #DEFAULT_REPLICA_ID}) with the default group timings and one run at a time. */
    public LoopSettings(String groupId, Duration pollTimeout, int maxExamplesPerTask, Duration retryInitial,
                        Duration retryMax) {
        this(groupId, pollTimeout, maxExamplesPerTask, retryInitial, retryMax, DEFAULT_REPLICA_ID, DEFAULT_PARALLEL_RUNS,
                DEFAULT_SESSION_TIMEOUT, DEFAULT_TRANSACTION_TIMEOUT);
    }

    /** The defaults for everything but the group and the poll timeout. */
    public static LoopSettings of(String groupId, Duration pollTimeout) {
        return new LoopSettings(groupId, pollTimeout, DEFAULT_MAX_EXAMPLES_PER_TASK, DEFAULT_RETRY_INITIAL,
                DEFAULT_RETRY_MAX);
    }

    public LoopSettings withMaxExamplesPerTask(int max) {
        return new LoopSettings(groupId, pollTimeout, max, retryInitial, retryMax, replicaId, parallelRuns,
                sessionTimeout, transactionTimeout, keptVersions);
    }

    /** These settings for replica {@code id}, with its group timings. */
    public LoopSettings asReplica(String id, Duration session, Duration transaction) {
        return new LoopSettings(groupId, pollTimeout, maxExamplesPerTask, retryInitial, retryMax, id, parallelRuns,
                session, transaction, keptVersions);
    }

    public LoopSettings withParallelRuns(int runs) {
        return new LoopSettings(groupId, pollTimeout, maxExamplesPerTask, retryInitial, retryMax, replicaId, runs,
                sessionTimeout, transactionTimeout, keptVersions);
    }

    public LoopSettings withKeptVersions(int versions) {
        return new LoopSettings(groupId, pollTimeout, maxExamplesPerTask, retryInitial, retryMax, replicaId,
                parallelRuns, sessionTimeout, transactionTimeout, versions);
    }

    /** The transactional id of this replica's run publisher: the same at every start of the replica. */
    public String publisherTransactionalId() {
        return groupId + "-publisher-" + replicaId;
    }

    /** The transactional id of this replica's feedback conversion (examples written with the feedback offsets). */
    public String feedbackTransactionalId() {
        return groupId + "-feedback-" + replicaId;
    }
}

package io.tunestream.trainer;

import io.tunestream.model.onnx.ExecutionProvider;
import io.tunestream.model.onnx.RuntimeConfig;
import io.tunestream.trainer.loop.LoopSettings;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.Objects;

/**
 * What the trainer core needs, validated at construction (the Quarkus shell builds it from
 * {@code TrainerConfig}; tests build it directly).
 *
 * @param bootstrapServers  Kafka bootstrap servers
 * @param registryUrl       Apicurio Registry base URL or v3 API URL
 * @param modelDir          the frozen model's directory (Optimum layout)
 * @param executionProvider CPU or CUDA (CUDA falls back to CPU with one log line when it cannot start)
 * @param cudaDeviceId      CUDA device ordinal
 * @param threads           ONNX Runtime intra-op threads, 0 for one per core
 * @param groupId           consumer group (committed feedback offsets) and prefix of the client and transactional ids
 * @param pollTimeout       longest a poll waits for records; bounds how late a due run or a shutdown is noticed
 * @param maxStepsPerRun    safety bound on optimizer steps in one run
 * @param topicPrefix       put in front of every topic name (empty in production; tests isolate with it)
 * @param maxExamplesPerTask newest examples kept in memory per task and split (TRAIN, VALIDATION)
 * @param retryBackoffMax   longest wait between two attempts to read on after a transient failure
 *                          (registry unreachable, a write not acknowledged)
 * @param replicaId         this replica's stable name (the StatefulSet pod name): static group membership and
 *                          the suffix of its transactional ids ({@link LoopSettings#replicaId()})
 * @param parallelRuns      runs of different tasks this replica trains at once
 * @param sessionTimeout    how long the group waits for a silent replica before giving its tasks to others
 * @param transactionTimeout how long a dead replica's open transaction may hold up readers and the tasks' new owner
 */
public record TrainerSettings(String bootstrapServers, String registryUrl, Path modelDir,
                              ExecutionProvider executionProvider, int cudaDeviceId, int threads, String groupId,
                              Duration pollTimeout, long maxStepsPerRun, String topicPrefix, int maxExamplesPerTask,
                              Duration retryBackoffMax, String replicaId, int parallelRuns, Duration sessionTimeout,
                              Duration transactionTimeout) {

    public TrainerSettings {
        requireText("bootstrap servers", bootstrapServers);
        requireText("registry URL", registryUrl);
        Objects.requireNonNull(modelDir, "model dir");
        Objects.requireNonNull(executionProvider, "execution provider");
        requireText("group id", groupId);
        Objects.requireNonNull(pollTimeout, "poll timeout");
        Objects.requireNonNull(topicPrefix, "topic prefix");
        if (cudaDeviceId < 0) {
            throw new IllegalArgumentException("CUDA device id must be >= 0, got " + cudaDeviceId);
        }
        if (threads < 0) {
            throw new IllegalArgumentException("threads must be >= 0 (0 = one per core), got " + threads);
        }
        if (pollTimeout.isNegative() || pollTimeout.isZero() || pollTimeout.compareTo(Duration.ofMinutes(1)) > 0) {
            throw new IllegalArgumentException("poll timeout must be between 1 ms and 1 min, got " + pollTimeout);
        }
        if (maxStepsPerRun < 1) {
            throw new IllegalArgumentException("max steps per run must be at least 1, got " + maxStepsPerRun);
        }
        Objects.requireNonNull(retryBackoffMax, "retry backoff max");
        if (maxExamplesPerTask < 1) {
            throw new IllegalArgumentException("max examples per task must be at least 1, got " + maxExamplesPerTask);
        }
        if (retryBackoffMax.compareTo(LoopSettings.DEFAULT_RETRY_INITIAL) < 0) {
            throw new IllegalArgumentException("retry backoff max must be at least "
                    + LoopSettings.DEFAULT_RETRY_INITIAL + ", got " + retryBackoffMax);
        }
        // replica id, parallel runs and the timeouts: checked where they are used, with the setting named
        new LoopSettings(groupId, pollTimeout, maxExamplesPerTask, LoopSettings.DEFAULT_RETRY_INITIAL,
                retryBackoffMax, replicaId, parallelRuns, sessionTimeout, transactionTimeout);
    }

    /** One replica ({@link LoopSettings#DEFAULT_REPLICA_ID}) with the default group timings and one run at a time. */
    public TrainerSettings(String bootstrapServers, String registryUrl, Path modelDir,
                           ExecutionProvider executionProvider, int cudaDeviceId, int threads, String groupId,
                           Duration pollTimeout, long maxStepsPerRun, String topicPrefix, int maxExamplesPerTask,
                           Duration retryBackoffMax) {
        this(bootstrapServers, registryUrl, modelDir, executionProvider, cudaDeviceId, threads, groupId, pollTimeout,
                maxStepsPerRun, topicPrefix, maxExamplesPerTask, retryBackoffMax, LoopSettings.DEFAULT_REPLICA_ID,
                LoopSettings.DEFAULT_PARALLEL_RUNS, LoopSettings.DEFAULT_SESSION_TIMEOUT,
                LoopSettings.DEFAULT_TRANSACTION_TIMEOUT);
    }

    /** How the trainer loop runs (validates the replica settings too). */
    public LoopSettings loop() {
        return new LoopSettings(groupId, pollTimeout, maxExamplesPerTask, LoopSettings.DEFAULT_RETRY_INITIAL,
                retryBackoffMax, replicaId, parallelRuns, sessionTimeout, transactionTimeout);
    }

    /** Parses {@code CPU} / {@code CUDA} (any case), naming the setting when it is neither. */
    public static ExecutionProvider provider(String text) {
        try {
            return ExecutionProvider.valueOf(text.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("execution provider must be CPU or CUDA, got '" + text + "'", e);
        }
    }

    /** How ONNX Runtime runs the model. */
    public RuntimeConfig runtime() {
        return new RuntimeConfig(executionProvider, cudaDeviceId, 0, threads, 0);
    }

    private static void requireText(String what, String value) {
        if (value == null || value.isBlank()) {
            throw new IllegalArgumentException(what + " must be set");
        }
    }
}

package io.tunestream.model.onnx;

/**
 * How ONNX Runtime runs a model. Validated at construction. Thread pools never spin-wait: the model
 * shares its cores with the broker and the registry.
 *
 * @param provider         requested execution provider; CUDA falls back to CPU (one log line) when it cannot start
 * @param deviceId         CUDA device ordinal (ignored on CPU)
 * @param gpuMemLimitBytes CUDA arena limit in bytes, 0 for ONNX Runtime's default (no limit)
 * @param intraOpThreads   threads inside one operator, 0 for one per available processor
 * @param interOpThreads   threads across independent operators, 0 for ONNX Runtime's default
 * @param inPlaceKvCache   decode with attention that appends to the KV cache in place
 *                         ({@link io.tunestream.model.graph.GroupQueryAttentionRewrite}) where the graph allows; false keeps the
 *                         export's attention, which copies the whole cache at every step
 * @param parallelDecodeRows in-place decoding steps of fewer rows run on one thread, in a second session
 *                         (with its own copy of the weights): their operators are too small for a second
 *                         thread to pay for waking it. Prefills and larger steps use {@code intraOpThreads}.
 *                         0 runs every step on {@code intraOpThreads}. Ignored on CUDA.
 * @param decodeChunkSteps decoding steps a row per session run: above 1, a decode-chunk graph (an ONNX Loop over the
 *                         decoder step, {@link io.tunestream.model.graph.DecodeChunkGraph}) runs up to this many steps and
 *                         chooses the tokens inside ONNX Runtime, so the KV cache stays there for the whole chunk; 0
 *                         decodes one step a run (the in-place or copying step path)
 * @param verifySession    build the one-row, one-thread session that prompt-lookup verification passes run in (one more
 *                         copy of the weights, and the passes' speed: BENCHMARKS.md); false runs them in the prefill
 *                         session, for a model nobody looks up drafts with
 */
public record RuntimeConfig(ExecutionProvider provider, int deviceId, long gpuMemLimitBytes,
                            int intraOpThreads, int interOpThreads, boolean inPlaceKvCache, int parallelDecodeRows,
                            int decodeChunkSteps, boolean verifySession) {

    /** Decode steps below this many rows run on one thread: measured between 8 (faster on one) and 32 (on two). */
    public static final int DEFAULT_PARALLEL_DECODE_ROWS = 16;

    /** In-place KV cache where the graph allows, small decoding steps on one thread, the verification session. */
    public RuntimeConfig(ExecutionProvider provider, int deviceId, long gpuMemLimitBytes, int intraOpThreads,
                         int interOpThreads) {
        this(provider, deviceId, gpuMemLimitBytes, intraOpThreads, interOpThreads, true, DEFAULT_PARALLEL_DECODE_ROWS, 0, true);
    }

    public RuntimeConfig {
        if (provider == null) {
            throw new IllegalArgumentException("provider is required (CPU or CUDA)");
        }
        if (deviceId < 0) {
            throw new IllegalArgumentException("deviceId must be >= 0, got " + deviceId);
        }
        if (gpuMemLimitBytes < 0) {
            throw new IllegalArgumentException("gpuMemLimitBytes must be >= 0 (0 = no limit), got " + gpuMemLimitBytes);
        }
        if (intraOpThreads < 0) {
            throw new IllegalArgumentException("intraOpThreads must be >= 0 (0 = one per available processor), got " + intraOpThreads);
        }
        if (parallelDecodeRows < 0) {
            throw new IllegalArgumentException("parallelDecodeRows must be >= 0 (0 = every step on intraOpThreads), got "
                    + parallelDecodeRows);
        }
        if (decodeChunkSteps < 0 || decodeChunkSteps == 1) {
            throw new IllegalArgumentException("decodeChunkSteps must be 0 (one step a run) or at least 2, got "
                    + decodeChunkSteps);
        }
        if (interOpThreads < 0) {
            throw new IllegalArgumentException("interOpThreads must be >= 0 (0 = ONNX Runtime default), got " + interOpThreads);
        }
    }

    /** CPU with ONNX Runtime's default thread counts. */
    public static RuntimeConfig cpu() {
        return new RuntimeConfig(ExecutionProvider.CPU, 0, 0, 0, 0);
    }

    /** CPU with the given intra-op thread count. */
    public static RuntimeConfig cpu(int intraOpThreads) {
        return new RuntimeConfig(ExecutionProvider.CPU, 0, 0, intraOpThreads, 0);
    }

    /** This configuration with the in-place KV cache on or off. */
    public RuntimeConfig withInPlaceKvCache(boolean enabled) {
        return new RuntimeConfig(provider, deviceId, gpuMemLimitBytes, intraOpThreads, interOpThreads, enabled,
                parallelDecodeRows, decodeChunkSteps, verifySession);
    }

    /** This configuration with another {@link #parallelDecodeRows()}. */
    public RuntimeConfig withParallelDecodeRows(int rows) {
        return new RuntimeConfig(provider, deviceId, gpuMemLimitBytes, intraOpThreads, interOpThreads, inPlaceKvCache, rows,
                decodeChunkSteps, verifySession);
    }

    /** This configuration with another intra-op thread count. */
    public RuntimeConfig withIntraOpThreads(int threads) {
        return new RuntimeConfig(provider, deviceId, gpuMemLimitBytes, threads, interOpThreads, inPlaceKvCache,
                parallelDecodeRows, decodeChunkSteps, verifySession);
    }

    /** This configuration decoding {@code steps} steps a session run (0: one step a run). */
    public RuntimeConfig withDecodeChunkSteps(int steps) {
        return new RuntimeConfig(provider, deviceId, gpuMemLimitBytes, intraOpThreads, interOpThreads, inPlaceKvCache,
                parallelDecodeRows, steps, verifySession);
    }

    /** This configuration with or without the verification passes' own session ({@link #verifySession()}). */
    public RuntimeConfig withVerifySession(boolean enabled) {
        return new RuntimeConfig(provider, deviceId, gpuMemLimitBytes, intraOpThreads, interOpThreads, inPlaceKvCache,
                parallelDecodeRows, decodeChunkSteps, enabled);
    }

    /** The intra-op threads sessions get: {@code intraOpThreads}, or one per available processor. */
    public int resolvedIntraOpThreads() {
        return intraOpThreads > 0 ? intraOpThreads : Runtime.getRuntime().availableProcessors();
    }

    /** CUDA on a device, no memory limit, default threads. */
    public static RuntimeConfig cuda(int deviceId) {
        return new RuntimeConfig(ExecutionProvider.CUDA, deviceId, 0, 0, 0);
    }
}

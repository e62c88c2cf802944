package io.tunestream.model.onnx;

import ai.onnx.proto.OnnxMl;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import io.tunestream.model.autodiff.HeadPositions;
import io.tunestream.model.autodiff.SoftPromptTrainingGraph;
import io.tunestream.model.graph.InputsEmbedsRewrite;
import io.tunestream.model.graph.UnreadInitializers;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;

/**
 * Runs the p-tuning training graph of a decoder ({@link SoftPromptTrainingGraph}) in ONNX Runtime:
 * one call gives NeMo's loss of a batch and its gradient with respect to the virtual-token table.
 * Logits and activations stay inside the session; only the batch's ids and masks, the table
 * [n, hidden] and its gradient [n, hidden] cross to Java.
 *
 * <p>Holds two sessions on the same weights: the training graph (forward and backward) and the
 * loss graph (forward only, for validation). The owner closes it. Calls are not meant to overlap.
 */
public final class TrainingSession implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(TrainingSession.class);

    private final Path directory;
    private final int hiddenSize;
    private final FrozenWeights weights;
    private final ExecutionProvider provider;
    private final OrtEnvironment env;
    private final OrtSession training;
    private final OrtSession lossOnly;

    /** Loss, loss-token count and d loss / d table ([virtualTokens·hidden], row-major; empty from {@link #loss}). */
    public record Result(double loss, long lossTokens, float[] tableGradient) {
    }

    private TrainingSession(Path directory, int hiddenSize, FrozenWeights weights, ExecutionProvider provider,
                            OrtEnvironment env,
                            OrtSession training, OrtSession lossOnly) {
        this.directory = directory;
        this.hiddenSize = hiddenSize;
        this.weights = weights;
        this.provider = provider;
        this.env = env;
        this.training = training;
        this.lossOnly = lossOnly;
    }

    /**
     * Builds the training graph of the model in {@code dir} (an Optimum-layout export with
     * {@code model.onnx}) and opens it. CUDA falls back to CPU with one log line.
     *
     * @throws IllegalArgumentException naming the directory and what the graph lacks or which op
     *                                  cannot be differentiated
     */
    public static TrainingSession open(Path dir, RuntimeConfig runtime) {
        return open(dir, runtime, HeadPositions.LOSS_ONLY);
    }

    /** {@link #open(Path, RuntimeConfig)} with the final norm and head at the chosen positions (comparisons, benchmarks). */
    static TrainingSession open(Path dir, RuntimeConfig runtime, HeadPositions headPositions) {
        Path modelFile = dir.resolve("model.onnx");
        // one read of the export gives the weights the trainer needs and the graph to differentiate
        DecoderModel.Parsed parsed = DecoderModel.parse(dir);
        OnnxMl.ModelProto original = parsed.original();
        OnnxMl.ModelProto lossGraph;
        OnnxMl.ModelProto trainingGraph;
        int hidden;
        try {
            InputsEmbedsRewrite.Rewritten rewritten = parsed.rewritten();
            hidden = rewritten.hiddenSize();
            lossGraph = SoftPromptTrainingGraph.lossGraph(rewritten.model(), rewritten.embeddingTableName(),
                    headPositions);
            trainingGraph = SoftPromptTrainingGraph.trainingGraph(lossGraph);
            logHeadPositions(dir, headPositions, lossGraph);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("model " + dir + ": " + e.getMessage(), e);
        }
        boolean external = original.getGraph().getInitializerList().stream()
                .anyMatch(t -> t.getDataLocation() == OnnxMl.TensorProto.DataLocation.EXTERNAL);
        NativeLibraryCache.install(NativeLibraryCache.defaultRoot());
        OrtEnvironment env = LargeStack.environment();
        ExecutionProvider provider = runtime.provider();
        OrtSession training = null;
        try {
            try {
                training = createSession(env, trainingGraph, dir, external, runtime, provider);
            } catch (OrtException | RuntimeException | UnsatisfiedLinkError e) {
                if (provider != ExecutionProvider.CUDA) {
                    throw e;
                }
                LOG.warn("CUDA training session for {} failed to start on device {} ({}); running on CPU instead",
                        modelFile, runtime.deviceId(), e.getMessage());
                provider = ExecutionProvider.CPU;
                training = createSession(env, trainingGraph, dir, external, runtime, provider);
            }
            OrtSession lossOnly = createSession(env, lossGraph, dir, external, runtime, provider);
            return new TrainingSession(dir, hidden, parsed.weights(), provider, env, training, lossOnly);
        } catch (OrtException e) {
            OrtSessions.closeQuietly(training);
            throw new IllegalStateException("cannot create an ONNX Runtime training session for " + modelFile + ": "
                    + e.getMessage(), e);
        }
    }

    /** One line saying where the final norm and LM head run: a head this graph could not slice costs time, not results. */
    static void logHeadPositions(Path dir, HeadPositions asked, OnnxMl.ModelProto lossGraph) {
        if (SoftPromptTrainingGraph.runsHeadAtLossPositionsOnly(lossGraph)) {
            LOG.info("training graph for {}: final norm and LM head at the loss positions only", dir);
        } else if (asked == HeadPositions.LOSS_ONLY) {
            LOG.warn("training graph for {}: the head is not a MatMul behind a position-wise final norm; the final "
                    + "norm and LM head run at every position (same loss, more work)", dir);
        }
    }

    static OrtSession createSession(OrtEnvironment env, OnnxMl.ModelProto model, Path dir, boolean external,
                                            RuntimeConfig runtime, ExecutionProvider provider) throws OrtException {
        try (OrtSession.SessionOptions options = OrtSessions.options(runtime, provider)) {
            // Batches change shape from step to step, so a memory pattern is never reused; planning one
            // anyway kept ~230 MB more resident on demo-gpt2 at 8 x 128 (TrainingStepBenchmark).
            options.setMemoryPatternOptimization(false);
            // the graph builders drop nodes (the serving head, unused shape chains) but not the constants they read
            return OrtSessions.create(env, "the training graph of " + dir, UnreadInitializers.removed(model).toByteArray(),
                    dir, external, options);
        }
    }

    public Path directory() {
        return directory;
    }

    public int hiddenSize() {
        return hiddenSize;
    }

    /** The frozen model's config, fingerprint and token embeddings, read with the graph. */
    public FrozenWeights weights() {
        return weights;
    }

    /** The provider the sessions actually run on (CPU after a CUDA fallback). */
    public ExecutionProvider provider() {
        return provider;
    }

    /**
     * The loss of {@code batch} with the virtual-token table {@code table} ([virtualTokens, hidden],
     * row-major) and d loss / d table.
     *
     * @throws IllegalArgumentException when the table does not match or a virtual index is out of it
     */
    public Result lossAndGradient(float[] table, int virtualTokens, TrainingBatch batch) {
        return run(training, table, virtualTokens, batch, true);
    }

    /** The loss of {@code batch} alone (forward only, no gradient). */
    public Result loss(float[] table, int virtualTokens, TrainingBatch batch) {
        return run(lossOnly, table, virtualTokens, batch, false);
    }

    private Result run(OrtSession session, float[] table, int virtualTokens, TrainingBatch batch, boolean gradient) {
        if (virtualTokens <= 0 || table.length != (long) virtualTokens * hiddenSize) {
            throw new IllegalArgumentException("the virtual-token table must have " + virtualTokens + " x " + hiddenSize
                    + " = " + ((long) virtualTokens * hiddenSize) + " floats, got " + table.length);
        }
        for (int i = 0; i < batch.virtualTokenIndex().length; i++) {
            if (batch.virtualTokenIndex()[i] >= virtualTokens) {
                throw new IllegalArgumentException("virtual index " + batch.virtualTokenIndex()[i] + " at row "
                        + (i / batch.sequenceLength()) + ", position " + (i % batch.sequenceLength())
                        + " is outside the table of " + virtualTokens + " rows");
            }
        }
        long[] matrix = {batch.batchSize(), batch.sequenceLength()};
        Map<String, OnnxTensor> feed = new HashMap<>();
        try {
            feed.put(SoftPromptTrainingGraph.VIRTUAL_TOKENS, OnnxTensor.createTensor(env, FloatBuffer.wrap(table),
                    new long[] {virtualTokens, hiddenSize}));
            feed.put(SoftPromptTrainingGraph.INPUT_IDS, OnnxTensor.createTensor(env, LongBuffer.wrap(batch.inputIds()), matrix));
            feed.put(SoftPromptTrainingGraph.VIRTUAL_TOKEN_INDEX,
                    OnnxTensor.createTensor(env, LongBuffer.wrap(batch.virtualTokenIndex()), matrix));
            feed.put(SoftPromptTrainingGraph.ATTENTION_MASK,
                    OnnxTensor.createTensor(env, LongBuffer.wrap(batch.attentionMask()), matrix));
            feed.put(SoftPromptTrainingGraph.POSITION_IDS, OnnxTensor.createTensor(env, LongBuffer.wrap(batch.positionIds()), matrix));
            feed.put(SoftPromptTrainingGraph.LABELS, OnnxTensor.createTensor(env, LongBuffer.wrap(batch.labels()), matrix));
            feed.put(SoftPromptTrainingGraph.LOSS_MASK, OnnxTensor.createTensor(env, FloatBuffer.wrap(batch.lossMask()), matrix));
            Set<String> fetch = gradient
                    ? Set.of(SoftPromptTrainingGraph.LOSS, SoftPromptTrainingGraph.VIRTUAL_TOKENS_GRADIENT)
                    : Set.of(SoftPromptTrainingGraph.LOSS);
            try (OrtSession.Result result = session.run(feed, fetch)) {
                OnnxTensor loss = (OnnxTensor) result.get(SoftPromptTrainingGraph.LOSS).orElseThrow();
                double value = loss.getFloatBuffer().get(0);
                float[] grad = new float[0];
                if (gradient) {
                    OnnxTensor g = (OnnxTensor) result.get(SoftPromptTrainingGraph.VIRTUAL_TOKENS_GRADIENT).orElseThrow();
                    grad = new float[table.length];
                    g.getFloatBuffer().get(grad);
                }
                return new Result(value, batch.lossTokens(), grad);
            }
        } catch (OrtException e) {
            throw new IllegalStateException("training graph of " + directory + " failed on a batch of "
                    + batch.batchSize() + " x " + batch.sequenceLength() + ": " + e.getMessage(), e);
        } finally {
            feed.values().forEach(OnnxTensor::close);
        }
    }

    @Override
    public void close() {
        try {
            training.close();
        } catch (OrtException e) {
            LOG.warn("cannot close the training session of {}: {}", directory, e.toString());
        } finally {
            try {
                lossOnly.close();
            } catch (OrtException e) {
                LOG.warn("cannot close the loss session of {}: {}", directory, e.toString());
            }
        }
    }
}

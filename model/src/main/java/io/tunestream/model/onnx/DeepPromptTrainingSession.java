package io.tunestream.model.onnx;

import ai.onnx.proto.OnnxMl;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import io.tunestream.model.autodiff.DeepPromptTrainingGraph;
import io.tunestream.model.autodiff.HeadPositions;
import io.tunestream.model.autodiff.SoftPromptTrainingGraph;
import io.tunestream.model.graph.InputsEmbedsRewrite;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;

/**
 * Runs the prefix-tuning training graph of a decoder ({@link DeepPromptTrainingGraph}) in ONNX Runtime:
 * one call gives NeMo's loss of a batch whose rows all sit after the same deep prompt, and the gradient
 * with respect to that prompt in PEFT's layout [P, 2·layers·kvHeads·headDim]. The batch's rows hold
 * tokens only (no virtual slots); this session puts the prefix in front of them: the attention mask
 * covers P + T positions and the tokens' positions start at P, as in PEFT.
 *
 * <p>Holds two sessions on the same weights, training (forward and backward) and loss only; the owner
 * closes it. Calls are not meant to overlap.
 */
public final class DeepPromptTrainingSession implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(DeepPromptTrainingSession.class);

    private final Path directory;
    private final FrozenWeights weights;
    private final ExecutionProvider provider;
    private final OrtEnvironment env;
    private final OrtSession training;
    private final OrtSession lossOnly;

    private DeepPromptTrainingSession(Path directory, FrozenWeights weights, ExecutionProvider provider,
                                      OrtEnvironment env, OrtSession training, OrtSession lossOnly) {
        this.directory = directory;
        this.weights = weights;
        this.provider = provider;
        this.env = env;
        this.training = training;
        this.lossOnly = lossOnly;
    }

    /**
     * Builds the deep-prompt training graph of the model in {@code dir} and opens it. CUDA falls back to
     * CPU with one log line.
     *
     * @throws IllegalArgumentException naming the directory and what the graph lacks or which op cannot be
     *                                  differentiated
     */
    public static DeepPromptTrainingSession open(Path dir, RuntimeConfig runtime) {
        return open(dir, runtime, HeadPositions.LOSS_ONLY);
    }

    /** {@link #open(Path, RuntimeConfig)} with the final norm and head at the chosen positions (comparisons, benchmarks). */
    static DeepPromptTrainingSession open(Path dir, RuntimeConfig runtime, HeadPositions headPositions) {
        DecoderModel.Parsed parsed = DecoderModel.parse(dir);
        ModelConfig config = parsed.weights().config();
        OnnxMl.ModelProto lossGraph;
        OnnxMl.ModelProto trainingGraph;
        try {
            InputsEmbedsRewrite.Rewritten rewritten = parsed.rewritten();
            lossGraph = DeepPromptTrainingGraph.lossGraph(rewritten.model(), rewritten.embeddingTableName(),
                    config.layers(), config.kvHeads(), config.headDim(), headPositions);
            trainingGraph = DeepPromptTrainingGraph.trainingGraph(lossGraph);
            TrainingSession.logHeadPositions(dir, headPositions, lossGraph);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("model " + dir + ": " + e.getMessage(), e);
        }
        boolean external = parsed.original().getGraph().getInitializerList().stream()
                .anyMatch(t -> t.getDataLocation() == OnnxMl.TensorProto.DataLocation.EXTERNAL);
        NativeLibraryCache.install(NativeLibraryCache.defaultRoot());
        OrtEnvironment env = LargeStack.environment();
        ExecutionProvider provider = runtime.provider();
        OrtSession training = null;
        try {
            try {
                training = TrainingSession.createSession(env, trainingGraph, dir, external, runtime, provider);
            } catch (OrtException | RuntimeException | UnsatisfiedLinkError e) {
                if (provider != ExecutionProvider.CUDA) {
                    throw e;
                }
                LOG.warn("CUDA deep-prompt training session for {} failed to start on device {} ({}); running on CPU "
                        + "instead", dir, runtime.deviceId(), e.getMessage());
                provider = ExecutionProvider.CPU;
                training = TrainingSession.createSession(env, trainingGraph, dir, external, runtime, provider);
            }
            OrtSession lossOnly = TrainingSession.createSession(env, lossGraph, dir, external, runtime, provider);
            return new DeepPromptTrainingSession(dir, parsed.weights(), provider, env, training, lossOnly);
        } catch (OrtException e) {
            OrtSessions.closeQuietly(training);
            throw new IllegalStateException("cannot create an ONNX Runtime deep-prompt training session for " + dir
                    + ": " + e.getMessage(), e);
        }
    }

    public Path directory() {
        return directory;
    }

    /** The frozen model's config, fingerprint and token embeddings, read with the graph. */
    public FrozenWeights weights() {
        return weights;
    }

    /** The provider the sessions actually run on (CPU after a CUDA fallback). */
    public ExecutionProvider provider() {
        return provider;
    }

    /** Floats of one virtual token of the prefix: 2·layers·kvHeads·headDim. */
    public int rowWidth() {
        ModelConfig c = weights.config();
        return 2 * c.layers() * c.kvHeads() * c.headDim();
    }

    /**
     * The loss of {@code batch} after the deep prompt {@code prefix} ([virtualTokens, rowWidth], PEFT's
     * layout) and d loss / d prefix in the same layout.
     *
     * @throws IllegalArgumentException when the prefix does not match the model, or a row has virtual slots
     */
    public TrainingSession.Result lossAndGradient(float[] prefix, int virtualTokens, TrainingBatch batch) {
        return run(training, prefix, virtualTokens, batch, true);
    }

    /** The loss of {@code batch} alone (forward only, no gradient). */
    public TrainingSession.Result loss(float[] prefix, int virtualTokens, TrainingBatch batch) {
        return run(lossOnly, prefix, virtualTokens, batch, false);
    }

    private TrainingSession.Result run(OrtSession session, float[] prefix, int virtualTokens, TrainingBatch batch,
                                       boolean gradient) {
        int width = rowWidth();
        if (virtualTokens <= 0 || prefix.length != (long) virtualTokens * width) {
            throw new IllegalArgumentException("the deep prompt must have " + virtualTokens + " x " + width + " = "
                    + ((long) virtualTokens * width) + " floats (virtual tokens x 2 x layers x kv heads x head size), got "
                    + prefix.length);
        }
        if (virtualTokens + batch.sequenceLength() > weights.config().maxPositions()) {
            throw new IllegalArgumentException(virtualTokens + " virtual tokens and " + batch.sequenceLength()
                    + " tokens exceed the " + weights.config().maxPositions() + " positions of model " + directory);
        }
        for (int i = 0; i < batch.virtualTokenIndex().length; i++) {
            if (batch.virtualTokenIndex()[i] >= 0) {
                throw new IllegalArgumentException("row " + (i / batch.sequenceLength()) + " has a virtual slot at position "
                        + (i % batch.sequenceLength()) + "; a deep prompt goes in the KV cache, not among the tokens");
            }
        }
        int rows = batch.batchSize();
        int length = batch.sequenceLength();
        int total = virtualTokens + length;
        long[] mask = new long[rows * total];
        long[] positions = new long[rows * length];
        for (int b = 0; b < rows; b++) {
            for (int p = 0; p < virtualTokens; p++) {
                mask[b * total + p] = 1;
            }
            System.arraycopy(batch.attentionMask(), b * length, mask, b * total + virtualTokens, length);
            for (int t = 0; t < length; t++) {
                positions[b * length + t] = batch.positionIds()[b * length + t] + virtualTokens;
            }
        }
        long[] matrix = {rows, length};
        Map<String, OnnxTensor> feed = new HashMap<>();
        try {
            feed.put(DeepPromptTrainingGraph.PREFIX, OnnxTensor.createTensor(env, FloatBuffer.wrap(prefix),
                    new long[] {virtualTokens, width}));
            feed.put(SoftPromptTrainingGraph.INPUT_IDS, OnnxTensor.createTensor(env, LongBuffer.wrap(batch.inputIds()), matrix));
            feed.put(SoftPromptTrainingGraph.ATTENTION_MASK, OnnxTensor.createTensor(env, LongBuffer.wrap(mask),
                    new long[] {rows, total}));
            feed.put(SoftPromptTrainingGraph.POSITION_IDS, OnnxTensor.createTensor(env, LongBuffer.wrap(positions), matrix));
            feed.put(SoftPromptTrainingGraph.LABELS, OnnxTensor.createTensor(env, LongBuffer.wrap(batch.labels()), matrix));
            feed.put(SoftPromptTrainingGraph.LOSS_MASK, OnnxTensor.createTensor(env, FloatBuffer.wrap(batch.lossMask()), matrix));
            Set<String> fetch = gradient
                    ? Set.of(SoftPromptTrainingGraph.LOSS, DeepPromptTrainingGraph.PREFIX_GRADIENT)
                    : Set.of(SoftPromptTrainingGraph.LOSS);
            try (OrtSession.Result result = session.run(feed, fetch)) {
                double value = ((OnnxTensor) result.get(SoftPromptTrainingGraph.LOSS).orElseThrow()).getFloatBuffer().get(0);
                float[] grad = new float[0];
                if (gradient) {
                    grad = new float[prefix.length];
                    ((OnnxTensor) result.get(DeepPromptTrainingGraph.PREFIX_GRADIENT).orElseThrow()).getFloatBuffer().get(grad);
                }
                return new TrainingSession.Result(value, batch.lossTokens(), grad);
            }
        } catch (OrtException e) {
            throw new IllegalStateException("deep-prompt training graph of " + directory + " failed on a batch of "
                    + rows + " x " + length + " after " + virtualTokens + " virtual tokens: " + e.getMessage(), e);
        } finally {
            feed.values().forEach(OnnxTensor::close);
        }
    }

    @Override
    public void close() {
        try {
            training.close();
        } catch (OrtException e) {
            LOG.warn("cannot close the deep-prompt training session of {}: {}", directory, e.toString());
        } finally {
            try {
                lossOnly.close();
            } catch (OrtException e) {
                LOG.warn("cannot close the deep-prompt loss session of {}: {}", directory, e.toString());
            }
        }
    }
}

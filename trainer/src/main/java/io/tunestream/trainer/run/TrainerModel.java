package io.tunestream.trainer.run;

import io.tunestream.model.onnx.FrozenWeights;
import io.tunestream.model.onnx.ExecutionProvider;
import io.tunestream.model.onnx.ModelConfig;
import io.tunestream.model.onnx.RuntimeConfig;
import io.tunestream.model.onnx.TrainingSession;
import io.tunestream.model.tokenize.HuggingFaceTextTokenizer;
import java.nio.file.Path;
import java.util.Objects;

/**
 * The frozen model as the trainer needs it: tokenizer, training session (loss and table
 * gradient), token-embedding table (to initialise encoders), weights fingerprint and config.
 * The weights are read without a serving session, so only the training session is in memory. Owns the tokenizer and the session.
 */
public final class TrainerModel implements AutoCloseable {

    private final Path directory;
    private final ModelConfig config;
    private final String fingerprint;
    private final float[] tokenEmbeddings;
    private final HuggingFaceTextTokenizer tokenizer;
    private final TrainingSession session;

    private TrainerModel(Path directory, ModelConfig config, String fingerprint, float[] tokenEmbeddings,
                         HuggingFaceTextTokenizer tokenizer, TrainingSession session) {
        this.directory = directory;
        this.config = config;
        this.fingerprint = fingerprint;
        this.tokenEmbeddings = tokenEmbeddings;
        this.tokenizer = tokenizer;
        this.session = session;
    }

    /** Loads the model directory (Optimum layout: model.onnx, tokenizer.json, config.json). */
    public static TrainerModel load(Path directory, RuntimeConfig runtime) {
        Objects.requireNonNull(directory, "directory");
        HuggingFaceTextTokenizer tokenizer = HuggingFaceTextTokenizer.load(directory);
        try {
            // the training session reads the weights with its graph: one parse, and no serving session
            TrainingSession session = TrainingSession.open(directory, runtime);
            FrozenWeights weights = session.weights();
            return new TrainerModel(directory, weights.config(), weights.fingerprint(), weights.tokenEmbeddings(), tokenizer,
                    session);
        } catch (RuntimeException e) {
            tokenizer.close();
            throw e;
        }
    }

    public Path directory() {
        return directory;
    }

    public ModelConfig config() {
        return config;
    }

    public String fingerprint() {
        return fingerprint;
    }

    public int hiddenSize() {
        return config.hiddenSize();
    }

    /** The LM's token-embedding table, row-major [vocab, hidden]; not copied, do not modify. */
    float[] tokenEmbeddings() {
        return tokenEmbeddings;
    }

    public HuggingFaceTextTokenizer tokenizer() {
        return tokenizer;
    }

    public TrainingSession session() {
        return session;
    }

    /** The provider actually running the training session (CPU after a CUDA fallback). */
    public ExecutionProvider provider() {
        return session.provider();
    }

    @Override
    public void close() {
        try {
            session.close();
        } finally {
            tokenizer.close();
        }
    }
}

package io.tunestream.trainer.run;

import io.tunestream.model.onnx.DeepPromptTrainingSession;
import io.tunestream.model.onnx.FrozenWeights;
import io.tunestream.model.onnx.ExecutionProvider;
import io.tunestream.model.onnx.ModelConfig;
import io.tunestream.model.onnx.RuntimeConfig;
import io.tunestream.model.onnx.TrainingSession;
import io.tunestream.model.tokenize.HuggingFaceTextTokenizer;
import io.tunestream.schemas.adapters.AdapterCheck;
import java.nio.file.Path;
import java.util.Objects;

/**
 * The frozen model as the trainer needs it: tokenizer, training session (loss and table
 * gradient), token-embedding table (to initialise encoders), weights fingerprint and config.
 * The weights are read with the training graph, without a serving session. Owns the tokenizer and the session.
 *
 * <p>The deep-prompt (prefix tuning) session is opened on the first deep-prompt task only: it reads the
 * weights a second time, which a trainer that tunes no deep prompt should not pay for. Owned and closed
 * here too.
 */
public final class TrainerModel implements AutoCloseable {

    private final HuggingFaceTextTokenizer tokenizer;
    private final TrainingSession session;
    private final Path directory;
    private final RuntimeConfig runtime;
    private DeepPromptTrainingSession deepSession;

    private TrainerModel(HuggingFaceTextTokenizer tokenizer, TrainingSession session, Path directory,
                         RuntimeConfig runtime) {
        this.tokenizer = tokenizer;
        this.session = session;
        this.directory = directory;
        this.runtime = runtime;
    }

    /** Loads the model directory (Optimum layout: model.onnx, tokenizer.json, config.json). */
    public static TrainerModel load(Path directory, RuntimeConfig runtime) {
        Objects.requireNonNull(directory, "directory");
        HuggingFaceTextTokenizer tokenizer = HuggingFaceTextTokenizer.load(directory);
        try {
            // the training session reads the weights with its graph: one parse, and no serving session
            return new TrainerModel(tokenizer, TrainingSession.open(directory, runtime), directory, runtime);
        } catch (RuntimeException e) {
            tokenizer.close();
            throw e;
        }
    }

    public ModelConfig config() {
        return weights().config();
    }

    public String fingerprint() {
        return weights().fingerprint();
    }

    public int hiddenSize() {
        return config().hiddenSize();
    }

    /** The LM's token-embedding table, row-major [vocab, hidden]; not copied, do not modify. */
    float[] tokenEmbeddings() {
        return weights().tokenEmbeddings();
    }

    private FrozenWeights weights() {
        return session.weights();
    }

    public HuggingFaceTextTokenizer tokenizer() {
        return tokenizer;
    }

    public TrainingSession session() {
        return session;
    }

    /** The deep-prompt training session, opened on first use (see the class doc). */
    public synchronized DeepPromptTrainingSession deepPromptSession() {
        if (deepSession == null) {
            deepSession = DeepPromptTrainingSession.open(directory, runtime);
        }
        return deepSession;
    }

    /**
     * The keys and values the model caches for {@code tokenIds} run alone from position 0, in the deep-prompt
     * layout ({@link io.tunestream.model.onnx.DecoderModel#keysAndValues}): what a deep prompt started from a text
     * holds. Opens the decoding session for the call and closes it (runs from scratch with init text only).
     */
    public float[] keysAndValues(int[] tokenIds) {
        // one forward run: the export's graph alone, none of the decoding sessions (each a copy of the weights)
        try (io.tunestream.model.onnx.DecoderModel decoder = io.tunestream.model.onnx.DecoderModel.load(directory,
                runtime.withInPlaceKvCache(false))) {
            return decoder.keysAndValues(tokenIds);
        }
    }

    /** Layers, kv heads and head size: what a deep-prompt adapter of this model carries and serving checks. */
    public AdapterCheck.Decoder decoder() {
        return new AdapterCheck.Decoder(config().layers(), config().kvHeads(), config().headDim());
    }

    /** The provider actually running the training session (CPU after a CUDA fallback). */
    public ExecutionProvider provider() {
        return session.provider();
    }

    @Override
    public void close() {
        try (tokenizer; session) {
            synchronized (this) {
                if (deepSession != null) {
                    deepSession.close();
                }
            }
        }
    }
}

package io.tunestream.model.onnx;

import java.nio.file.Path;
import java.util.Objects;

/**
 * What callers need of a model's weights without running it: its config, the fingerprint adapters
 * are checked against, and the token-embedding table (to initialise prompt encoders). Read with the
 * export by {@code DecoderModel.parse}; the trainer gets it from its {@link TrainingSession}, so no
 * serving session is created just to read it.
 *
 * @param tokenEmbeddings row-major [vocab, hidden]; not copied, do not modify
 */
public record FrozenWeights(Path directory, ModelConfig config, String fingerprint, float[] tokenEmbeddings) {

    public FrozenWeights {
        Objects.requireNonNull(directory, "directory");
        Objects.requireNonNull(config, "config");
        Objects.requireNonNull(fingerprint, "fingerprint");
        Objects.requireNonNull(tokenEmbeddings, "tokenEmbeddings");
    }
}

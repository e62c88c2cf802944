package io.tunestream.model.onnx;

import java.nio.file.Path;
import java.util.Objects;

/**
 * What callers need of a model's weights without running it: its config, the fingerprint adapters
 * are checked against, and the token-embedding table (to initialise prompt encoders). Reading it
 * parses and checks the export as {@link DecoderModel#load} does, but creates no session.
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

    /**
     * Reads a model directory in the layout {@link DecoderModel#load} takes.
     *
     * @throws IllegalArgumentException naming the directory and what is missing or unsupported
     */
    public static FrozenWeights read(Path dir) {
        return DecoderModel.parse(dir).weights();
    }
}

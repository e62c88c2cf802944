package io.tunestream.serving.batch;

import java.util.Objects;

/**
 * What the serving app must know about its base model to accept adapters and check requests.
 *
 * @param fingerprint  SHA-256 of the model's weights; adapters tuned for another fingerprint are refused
 * @param hiddenSize   embedding width; an adapter table must have exactly this many columns
 * @param maxPositions longest sequence the model accepts (virtual tokens, prompt and answer)
 */
public record ServingModelInfo(String fingerprint, int hiddenSize, int maxPositions) {
    public ServingModelInfo {
        Objects.requireNonNull(fingerprint, "fingerprint");
        if (hiddenSize < 1) {
            throw new IllegalArgumentException("hiddenSize must be >= 1, was " + hiddenSize);
        }
        if (maxPositions < 1) {
            throw new IllegalArgumentException("maxPositions must be >= 1, was " + maxPositions);
        }
    }
}

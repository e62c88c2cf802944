package io.tunestream.serving.batch;

import io.tunestream.schemas.adapters.AdapterCheck;
import java.util.Objects;
import java.util.Optional;

/**
 * What the serving app must know about its base model to accept adapters and check requests.
 *
 * @param fingerprint  SHA-256 of the model's weights; adapters tuned for another fingerprint are refused
 * @param hiddenSize   embedding width; an adapter table must have exactly this many columns
 * @param maxPositions longest sequence the model accepts (virtual tokens, prompt and answer)
 * @param decoder      layers, kv heads and head size a deep-prompt adapter must match; empty when not
 *                     known (then deep-prompt adapters are refused)
 * @param hasBos       whether the model has a BOS token ({@code bos_token_id}); templates with {@code add_bos}
 *                     are refused without one
 */
public record ServingModelInfo(String fingerprint, int hiddenSize, int maxPositions,
                               Optional<AdapterCheck.Decoder> decoder, boolean hasBos) {

    /** A model whose decoder shape is not known: it serves virtual-token adapters only. */
    public ServingModelInfo(String fingerprint, int hiddenSize, int maxPositions) {
        this(fingerprint, hiddenSize, maxPositions, Optional.empty());
    }

    /** A model without a BOS token: templates with {@code add_bos} are refused. */
    public ServingModelInfo(String fingerprint, int hiddenSize, int maxPositions,
                            Optional<AdapterCheck.Decoder> decoder) {
        this(fingerprint, hiddenSize, maxPositions, decoder, false);
    }

    public ServingModelInfo {
        Objects.requireNonNull(fingerprint, "fingerprint");
        Objects.requireNonNull(decoder, "decoder");
        if (hiddenSize < 1) {
            throw new IllegalArgumentException("hiddenSize must be >= 1, was " + hiddenSize);
        }
        if (maxPositions < 1) {
            throw new IllegalArgumentException("maxPositions must be >= 1, was " + maxPositions);
        }
    }
}

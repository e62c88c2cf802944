package io.tunestream.schemas.adapters;

import io.tunestream.schemas.AdapterVersion;
import io.tunestream.schemas.Tensor;
import io.tunestream.schemas.tensor.TensorCodec;
import java.util.Objects;
import java.util.Optional;

/**
 * Decides whether a published adapter can be applied to a model: same base model (fingerprint),
 * same width (hidden size), a table whose shape and bytes agree with its splits, and only finite
 * values in it (a NaN or an infinity would poison every prompt it is spliced into). The one home of
 * these rules: serving checks every adapter before it stores it, the trainer before it compares
 * against the serving table.
 *
 * @param modelFingerprint the model's weights fingerprint
 * @param hiddenSize       the model's hidden size
 */
public record AdapterCheck(String modelFingerprint, int hiddenSize) {

    /** Why an adapter is refused: the metric's {@code reason} tag plus a message for the log. */
    public record Refusal(String reason, String message) {
        public Refusal {
            Objects.requireNonNull(reason, "reason");
            Objects.requireNonNull(message, "message");
        }
    }

    public AdapterCheck {
        Objects.requireNonNull(modelFingerprint, "modelFingerprint");
        if (hiddenSize < 1) {
            throw new IllegalArgumentException("hiddenSize must be >= 1, was " + hiddenSize);
        }
    }

    /** Empty when {@code adapter} can be applied, otherwise why not. */
    public Optional<Refusal> refusal(AdapterVersion adapter) {
        String id = "adapter " + adapter.getTask() + " v" + adapter.getVersion();
        if (!modelFingerprint.equals(adapter.getModelFingerprint())) {
            return Optional.of(new Refusal("fingerprint", id + " was tuned for model " + adapter.getModelFingerprint()
                    + " but the serving model is " + modelFingerprint));
        }
        if (adapter.getHiddenSize() != hiddenSize) {
            return Optional.of(new Refusal("hidden_size", id + " has hiddenSize " + adapter.getHiddenSize()
                    + " but the serving model's hidden size is " + hiddenSize));
        }
        if (adapter.getVersion() < 1) {
            return Optional.of(new Refusal("version", id + ": version must be >= 1"));
        }
        if (adapter.getVirtualTokenSplits().stream().anyMatch(split -> split < 1)) {
            // a split of 0 or less would make the rows add up while no marker owns them (found by fuzzing)
            return Optional.of(new Refusal("splits", id + ": virtualTokenSplits " + adapter.getVirtualTokenSplits()
                    + " must all be at least 1"));
        }
        // long: splits near Integer.MAX_VALUE would wrap an int sum (to 0 for [2^31-1, 2^31-1, 2])
        long rows = adapter.getVirtualTokenSplits().stream().mapToLong(Integer::longValue).sum();
        Tensor table = adapter.getTable();
        var shape = table.getShape();
        if (shape.size() != 2 || shape.get(0) != rows || shape.get(1) != hiddenSize) {
            return Optional.of(new Refusal("shape", id + ": table shape " + shape + " is not [" + rows + ", "
                    + hiddenSize + "] (sum of virtualTokenSplits " + adapter.getVirtualTokenSplits()
                    + " × hidden size)"));
        }
        long expectedBytes = rows * hiddenSize * TensorCodec.elementSize(table.getDtype());
        if (table.getData().remaining() != expectedBytes) {
            return Optional.of(new Refusal("shape", id + ": table holds " + table.getData().remaining()
                    + " bytes, expected " + expectedBytes + " for " + shape + " " + table.getDtype()));
        }
        return nonFinite(id, table);
    }

    /** The first NaN or infinity of the decoded table (fp16 and bf16 decode theirs to float's). */
    private Optional<Refusal> nonFinite(String id, Tensor table) {
        float[] values = TensorCodec.decode(table);
        int count = 0;
        int first = -1;
        for (int i = 0; i < values.length; i++) {
            if (!Float.isFinite(values[i])) {
                count++;
                if (first < 0) {
                    first = i;
                }
            }
        }
        if (count == 0) {
            return Optional.empty();
        }
        return Optional.of(new Refusal("non_finite", id + ": table holds " + count + " non-finite "
                + table.getDtype() + " values, the first " + values[first] + " at row " + first / hiddenSize
                + ", column " + first % hiddenSize));
    }
}

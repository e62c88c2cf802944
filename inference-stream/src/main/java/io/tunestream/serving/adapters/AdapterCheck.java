package io.tunestream.serving.adapters;

import io.tunestream.schemas.AdapterVersion;
import io.tunestream.schemas.Tensor;
import io.tunestream.schemas.tensor.TensorCodec;
import io.tunestream.serving.batch.ServingModelInfo;
import java.util.Optional;

/**
 * Decides whether a published adapter can be applied to the serving model: same base model
 * (fingerprint), same width (hidden size), a table whose shape and bytes agree with its splits, and
 * only finite values (a NaN or infinity in one virtual token would turn every answer of the task
 * into garbage, silently).
 */
public final class AdapterCheck {

    /** Why an adapter is refused: the metric's {@code reason} tag plus a message for the log. */
    public record Refusal(String reason, String message) {
    }

    private final ServingModelInfo model;

    public AdapterCheck(ServingModelInfo model) {
        this.model = model;
    }

    /** Empty when {@code adapter} can be applied, otherwise why not. */
    public Optional<Refusal> refusal(AdapterVersion adapter) {
        String id = "adapter " + adapter.getTask() + " v" + adapter.getVersion();
        if (!model.fingerprint().equals(adapter.getModelFingerprint())) {
            return Optional.of(new Refusal("fingerprint", id + " was tuned for model " + adapter.getModelFingerprint()
                    + " but the serving model is " + model.fingerprint()));
        }
        if (adapter.getHiddenSize() != model.hiddenSize()) {
            return Optional.of(new Refusal("hidden_size", id + " has hiddenSize " + adapter.getHiddenSize()
                    + " but the serving model's hidden size is " + model.hiddenSize()));
        }
        if (adapter.getVersion() < 1) {
            return Optional.of(new Refusal("version", id + ": version must be >= 1"));
        }
        if (adapter.getVirtualTokenSplits().stream().anyMatch(split -> split < 1)) {
            // a split of 0 or less would make the rows add up while no marker owns them
            return Optional.of(new Refusal("splits", id + ": virtualTokenSplits " + adapter.getVirtualTokenSplits()
                    + " must all be at least 1"));
        }
        // long: splits near Integer.MAX_VALUE would wrap an int sum (to 0 for [2^31-1, 2^31-1, 2])
        long rows = adapter.getVirtualTokenSplits().stream().mapToLong(Integer::longValue).sum();
        Tensor table = adapter.getTable();
        var shape = table.getShape();
        if (shape.size() != 2 || shape.get(0) != rows || shape.get(1) != model.hiddenSize()) {
            return Optional.of(new Refusal("shape", id + ": table shape " + shape + " is not [" + rows + ", "
                    + model.hiddenSize() + "] (sum of virtualTokenSplits " + adapter.getVirtualTokenSplits()
                    + " × hidden size)"));
        }
        long expectedBytes = rows * model.hiddenSize() * TensorCodec.elementSize(table.getDtype());
        if (table.getData().remaining() != expectedBytes) {
            return Optional.of(new Refusal("shape", id + ": table holds " + table.getData().remaining()
                    + " bytes, expected " + expectedBytes + " for " + shape + " " + table.getDtype()));
        }
        float[] values = TensorCodec.decode(table);
        for (int i = 0; i < values.length; i++) {
            if (!Float.isFinite(values[i])) {
                return Optional.of(new Refusal("non_finite", id + ": table element [" + i / model.hiddenSize() + ", "
                        + i % model.hiddenSize() + "] is " + values[i] + " (" + table.getDtype() + ")"));
            }
        }
        return Optional.empty();
    }
}

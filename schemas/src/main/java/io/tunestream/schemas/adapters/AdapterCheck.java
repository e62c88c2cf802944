package io.tunestream.schemas.adapters;

import io.tunestream.schemas.AdapterVersion;
import io.tunestream.schemas.DeepPromptShape;
import io.tunestream.schemas.Tensor;
import io.tunestream.schemas.VirtualPromptStyle;
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
 * <p>A deep-prompt adapter ({@code virtualPromptStyle} PREFIX_TUNING with {@code deepPrompt} set) holds a
 * key/value prefix per layer, {@code [virtual tokens, 2·layers·kvHeads·headDim]}: its layers, kv heads and
 * head size must be the model's, checked like the fingerprint (reason {@code deep_prompt_shape}); a model
 * whose decoder shape is not known refuses every deep-prompt adapter.
 *
 * @param modelFingerprint the model's weights fingerprint
 * @param hiddenSize       the model's hidden size
 * @param decoder          the model's decoder shape, empty when not known (then deep prompts are refused)
 */
public record AdapterCheck(String modelFingerprint, int hiddenSize, Optional<Decoder> decoder) {

    /** The attention shape of the model a deep prompt must match. */
    public record Decoder(int layers, int kvHeads, int headDim) {
        public Decoder {
            if (layers < 1 || kvHeads < 1 || headDim < 1) {
                throw new IllegalArgumentException("layers, kvHeads and headDim must be >= 1, were " + layers + ", "
                        + kvHeads + ", " + headDim);
            }
        }

        /** Columns of a deep-prompt table for this decoder: a key and a value of every kv head in every layer. */
        public long rowWidth() {
            return 2L * layers * kvHeads * headDim;
        }

        @Override
        public String toString() {
            return layers + " layers x " + kvHeads + " kv heads x head size " + headDim;
        }
    }

    /** Why an adapter is refused: the metric's {@code reason} tag plus a message for the log. */
    public record Refusal(String reason, String message) {
        public Refusal {
            Objects.requireNonNull(reason, "reason");
            Objects.requireNonNull(message, "message");
        }
    }

    public AdapterCheck {
        Objects.requireNonNull(modelFingerprint, "modelFingerprint");
        Objects.requireNonNull(decoder, "decoder");
        if (hiddenSize < 1) {
            throw new IllegalArgumentException("hiddenSize must be >= 1, was " + hiddenSize);
        }
    }

    /** A check for a model whose decoder shape is not known: deep-prompt adapters are refused. */
    public AdapterCheck(String modelFingerprint, int hiddenSize) {
        this(modelFingerprint, hiddenSize, Optional.empty());
    }

    /** A check for a model of decoder shape {@code decoder}. */
    public AdapterCheck(String modelFingerprint, int hiddenSize, Decoder decoder) {
        this(modelFingerprint, hiddenSize, Optional.of(decoder));
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
        boolean prefixStyle = adapter.getVirtualPromptStyle() == VirtualPromptStyle.PREFIX_TUNING;
        DeepPromptShape deep = adapter.getDeepPrompt();
        if (prefixStyle != (deep != null)) {
            return Optional.of(new Refusal("style", id + " has virtualPromptStyle " + adapter.getVirtualPromptStyle()
                    + (deep == null ? " without" : " with") + " a deepPrompt shape; only PREFIX_TUNING tables have one"));
        }
        long width = hiddenSize;
        String widthName = "hidden size";
        if (deep != null) {
            if (decoder.isEmpty()) {
                return Optional.of(new Refusal("deep_prompt_shape", id + " is a deep prompt, but the serving model's "
                        + "layers, kv heads and head size are not known"));
            }
            Decoder tuned;
            try {
                tuned = new Decoder(deep.getLayers(), deep.getKvHeads(), deep.getHeadDim());
            } catch (IllegalArgumentException e) {
                return Optional.of(new Refusal("deep_prompt_shape", id + ": deepPrompt " + e.getMessage()));
            }
            if (!tuned.equals(decoder.get())) {
                return Optional.of(new Refusal("deep_prompt_shape", id + " is a deep prompt for " + tuned
                        + " but the serving model has " + decoder.get()));
            }
            width = tuned.rowWidth();
            widthName = "2 x layers x kv heads x head size";
        }
        // long: splits near Integer.MAX_VALUE would wrap an int sum (to 0 for [2^31-1, 2^31-1, 2])
        long rows = adapter.getVirtualTokenSplits().stream().mapToLong(Integer::longValue).sum();
        Tensor table = adapter.getTable();
        var shape = table.getShape();
        if (shape.size() != 2 || shape.get(0) != rows || shape.get(1) != width) {
            return Optional.of(new Refusal("shape", id + ": table shape " + shape + " is not [" + rows + ", "
                    + width + "] (sum of virtualTokenSplits " + adapter.getVirtualTokenSplits()
                    + " × " + widthName + ")"));
        }
        long expectedBytes = rows * width * TensorCodec.elementSize(table.getDtype());
        if (table.getData().remaining() != expectedBytes) {
            return Optional.of(new Refusal("shape", id + ": table holds " + table.getData().remaining()
                    + " bytes, expected " + expectedBytes + " for " + shape + " " + table.getDtype()));
        }
        return nonFinite(id, table, (int) width);
    }

    /** The first NaN or infinity of the decoded table (fp16 and bf16 decode theirs to float's). */
    private static Optional<Refusal> nonFinite(String id, Tensor table, int width) {
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
                + table.getDtype() + " values, the first " + values[first] + " at row " + first / width
                + ", column " + first % width));
    }
}

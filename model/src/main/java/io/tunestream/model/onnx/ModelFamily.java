package io.tunestream.model.onnx;

import java.util.Arrays;
import java.util.Locale;

/** Decoder architectures the runtime knows how to read from a transformers {@code config.json}. */
public enum ModelFamily {
    GPT2("gpt2"),
    LLAMA("llama"),
    QWEN2("qwen2");

    private final String modelType;

    ModelFamily(String modelType) {
        this.modelType = modelType;
    }

    /** The {@code model_type} value of config.json. */
    public String modelType() {
        return modelType;
    }

    /** @throws IllegalArgumentException naming the unsupported type and the supported ones */
    public static ModelFamily fromModelType(String modelType) {
        String wanted = modelType == null ? "" : modelType.toLowerCase(Locale.ROOT);
        return Arrays.stream(values()).filter(f -> f.modelType.equals(wanted)).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("unsupported model_type '" + modelType + "' (supported: "
                        + Arrays.stream(values()).map(ModelFamily::modelType).toList() + ")"));
    }
}

package io.tunestream.schemas.peft;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * The fields of a PEFT {@code adapter_config.json} that the adapter's tensor depends on ({@code PeftConfig},
 * {@code PromptLearningConfig} in huggingface/peft 5d602fdbff04c33c1c4de55cda9d4ae1d7cb7e40, src/peft/config.py,
 * and the three prompt-learning configs under src/peft/tuners/). Other keys (tokenizer, init, encoder settings,
 * {@code peft_version}, …) are read past: they change how PEFT trains, not what the saved tensor means.
 *
 * <p>Only decoder-only models are served, so {@code task_type} must be {@code CAUSAL_LM} (or absent) and
 * {@code num_transformer_submodules} 1 (or absent: PEFT then uses 1 for a causal LM).
 *
 * @param peftType               the method
 * @param numVirtualTokens       virtual tokens
 * @param tokenDim               width of a virtual token (PROMPT/P_TUNING: the hidden size; PREFIX_TUNING:
 *                               kv heads × head size)
 * @param numLayers              decoder layers (required for PREFIX_TUNING)
 * @param numAttentionHeads      heads (PREFIX_TUNING: the kv heads, required)
 * @param baseModelNameOrPath    the base model PEFT names, when given (information only: names are not checked)
 */
public record PeftConfig(PeftType peftType, int numVirtualTokens, int tokenDim, OptionalInt numLayers,
                         OptionalInt numAttentionHeads, Optional<String> baseModelNameOrPath) {

    /** The file name PEFT saves the config under ({@code CONFIG_NAME}, src/peft/utils/constants.py). */
    public static final String FILE_NAME = "adapter_config.json";
    /** Largest config read. */
    public static final int MAX_BYTES = 1 << 20;
    /** Most virtual tokens accepted (NeMo and PEFT use tens to a few hundred). */
    public static final int MAX_VIRTUAL_TOKENS = 4096;
    /** Largest token_dim, layers or heads accepted (well above any model served). */
    public static final int MAX_DIMENSION = 1 << 16;

    private static final ObjectMapper JSON = JsonMapper.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .disable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS)
            .enable(SerializationFeature.INDENT_OUTPUT)
            .enable(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS)
            .build();

    static {
        JSON.getFactory().setStreamReadConstraints(StreamReadConstraints.builder()
                .maxNestingDepth(16).maxNumberLength(64).maxStringLength(MAX_BYTES).build());
    }

    public PeftConfig {
        check(numVirtualTokens >= 1 && numVirtualTokens <= MAX_VIRTUAL_TOKENS, "num_virtual_tokens "
                + numVirtualTokens + " is not between 1 and " + MAX_VIRTUAL_TOKENS);
        check(tokenDim >= 1 && tokenDim <= MAX_DIMENSION, "token_dim " + tokenDim + " is not between 1 and "
                + MAX_DIMENSION);
        numLayers.ifPresent(l -> check(l >= 1 && l <= MAX_DIMENSION, "num_layers " + l + " is not between 1 and "
                + MAX_DIMENSION));
        numAttentionHeads.ifPresent(h -> check(h >= 1 && h <= MAX_DIMENSION, "num_attention_heads " + h
                + " is not between 1 and " + MAX_DIMENSION));
        if (peftType == PeftType.PREFIX_TUNING) {
            check(numLayers.isPresent() && numAttentionHeads.isPresent(),
                    "a PREFIX_TUNING config needs num_layers and num_attention_heads (the prefix's shape)");
            check(tokenDim % numAttentionHeads.getAsInt() == 0, "token_dim " + tokenDim
                    + " is not a multiple of num_attention_heads " + numAttentionHeads.getAsInt());
        }
    }

    /** Columns of the {@code prompt_embeddings} tensor this config describes. */
    public long tensorWidth() {
        return peftType == PeftType.PREFIX_TUNING ? 2L * numLayers.getAsInt() * tokenDim : tokenDim;
    }

    /**
     * The config in {@code json} (the bytes of {@code adapter_config.json}).
     *
     * @throws PeftFormatException (reason {@code config}, or {@code peft_type} for another PEFT method) when it is
     *                             not a prompt-learning config of a causal LM we can read
     */
    public static PeftConfig parse(byte[] json) {
        if (json.length > MAX_BYTES) {
            throw problem("it has " + json.length + " bytes, more than " + MAX_BYTES);
        }
        JsonNode root;
        try {
            root = JSON.readTree(json);
        } catch (IOException e) {
            String message = String.valueOf(e.getMessage());
            int newline = message.indexOf('\n');
            throw problem("not valid JSON: " + (newline < 0 ? message : message.substring(0, newline)));
        }
        if (root == null || !root.isObject()) {
            throw problem("not a JSON object");
        }
        String type = text(root, "peft_type").orElseThrow(() -> problem("no peft_type"));
        PeftType peftType;
        try {
            peftType = PeftType.valueOf(type);
        } catch (IllegalArgumentException e) {
            throw new PeftFormatException("peft_type", FILE_NAME + ": peft_type '" + type + "' is not supported; "
                    + "only PROMPT_TUNING, P_TUNING and PREFIX_TUNING adapters can be imported");
        }
        Optional<String> taskType = text(root, "task_type");
        if (taskType.isPresent() && !taskType.get().equals("CAUSAL_LM")) {
            throw problem("task_type is '" + taskType.get() + "'; only CAUSAL_LM (decoder-only models) is served");
        }
        OptionalInt submodules = integer(root, "num_transformer_submodules");
        if (submodules.isPresent() && submodules.getAsInt() != 1) {
            throw problem("num_transformer_submodules is " + submodules.getAsInt() + "; a decoder-only model has 1");
        }
        int tokens = integer(root, "num_virtual_tokens").orElseThrow(() -> problem("no num_virtual_tokens"));
        int tokenDim = integer(root, "token_dim").orElseThrow(() -> problem("no token_dim"));
        try {
            return new PeftConfig(peftType, tokens, tokenDim, integer(root, "num_layers"),
                    integer(root, "num_attention_heads"), text(root, "base_model_name_or_path"));
        } catch (IllegalArgumentException e) {
            throw problem(e.getMessage());
        }
    }

    /**
     * {@code adapter_config.json} as PEFT writes it (sorted keys, indent 2; {@code PeftConfigMixin.save_pretrained}),
     * with {@code inference_mode} true (the tensor is the final table, not an encoder's parameters) and only keys
     * every PEFT version since 0.4 knows, so older versions load it too.
     */
    public byte[] toJson() {
        ObjectNode root = JSON.createObjectNode();
        root.putNull("auto_mapping");
        putOptional(root, "base_model_name_or_path", baseModelNameOrPath);
        root.put("inference_mode", true);
        root.putNull("modules_to_save");
        if (numAttentionHeads.isPresent()) {
            root.put("num_attention_heads", numAttentionHeads.getAsInt());
        } else {
            root.putNull("num_attention_heads");
        }
        if (numLayers.isPresent()) {
            root.put("num_layers", numLayers.getAsInt());
        } else {
            root.putNull("num_layers");
        }
        root.put("num_transformer_submodules", 1);
        root.put("num_virtual_tokens", numVirtualTokens);
        root.put("peft_type", peftType.name());
        root.putNull("revision");
        root.put("task_type", "CAUSAL_LM");
        root.put("token_dim", tokenDim);
        switch (peftType) {
            case PROMPT_TUNING -> {
                root.put("prompt_tuning_init", "RANDOM");
                root.putNull("prompt_tuning_init_text");
                root.putNull("tokenizer_name_or_path");
            }
            case P_TUNING -> {
                // the saved tensor is the encoder's output; these settings only matter to a PEFT run that trains on
                root.put("encoder_reparameterization_type", "MLP");
                root.put("encoder_hidden_size", tokenDim);
                root.put("encoder_num_layers", 2);
                root.put("encoder_dropout", 0.0);
            }
            case PREFIX_TUNING -> {
                root.put("encoder_hidden_size", tokenDim);
                root.put("prefix_projection", false);
            }
        }
        try {
            return (JSON.writeValueAsString(root) + "\n").getBytes(StandardCharsets.UTF_8);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write " + FILE_NAME + ": " + e.getMessage(), e);
        }
    }

    private static void putOptional(ObjectNode root, String key, Optional<String> value) {
        if (value.isPresent()) {
            root.put(key, value.get());
        } else {
            root.putNull(key);
        }
    }

    private static Optional<String> text(JsonNode root, String key) {
        JsonNode node = root.get(key);
        if (node == null || node.isNull()) {
            return Optional.empty();
        }
        if (!node.isTextual()) {
            throw problem(key + " is not a string");
        }
        return Optional.of(node.textValue());
    }

    private static OptionalInt integer(JsonNode root, String key) {
        JsonNode node = root.get(key);
        if (node == null || node.isNull()) {
            return OptionalInt.empty();
        }
        if (!node.isIntegralNumber() || !node.canConvertToInt()) {
            throw problem(key + " is not an integer: " + node);
        }
        return OptionalInt.of(node.intValue());
    }

    private static void check(boolean condition, String message) {
        if (!condition) {
            throw new IllegalArgumentException(message);
        }
    }

    private static PeftFormatException problem(String message) {
        return new PeftFormatException("config", FILE_NAME + ": " + message);
    }
}

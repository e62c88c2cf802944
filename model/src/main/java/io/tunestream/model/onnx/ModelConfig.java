package io.tunestream.model.onnx;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalInt;

/**
 * What the runtime needs to know about a decoder, read from transformers' {@code config.json}
 * (and {@code generation_config.json} for the beginning- and end-of-sequence ids when present).
 *
 * @param family       architecture, from {@code model_type}
 * @param hiddenSize   width of the token embeddings ({@code n_embd} / {@code hidden_size})
 * @param layers       decoder layers: one {@code past_key_values.{i}.key/value} pair each
 * @param heads        attention heads
 * @param kvHeads      key/value heads (fewer than {@code heads} with grouped-query attention)
 * @param headDim      width of one head
 * @param vocabSize    rows of the token-embedding table and columns of the logits
 * @param maxPositions longest sequence the position embeddings cover
 * @param eosTokenIds  tokens that end a generation (may be empty)
 * @param bosTokenId   the beginning-of-sequence token ({@code bos_token_id}), put first by a template with
 *                     {@code add_bos}; empty when the model declares none
 */
public record ModelConfig(ModelFamily family, int hiddenSize, int layers, int heads, int kvHeads, int headDim,
                          int vocabSize, int maxPositions, List<Integer> eosTokenIds, OptionalInt bosTokenId) {

    public ModelConfig {
        if (family == null) {
            throw new IllegalArgumentException("model family is required");
        }
        requirePositive("hiddenSize", hiddenSize);
        requirePositive("layers", layers);
        requirePositive("heads", heads);
        requirePositive("kvHeads", kvHeads);
        requirePositive("headDim", headDim);
        requirePositive("vocabSize", vocabSize);
        requirePositive("maxPositions", maxPositions);
        if (heads % kvHeads != 0) {
            throw new IllegalArgumentException("heads (" + heads + ") is not a multiple of kvHeads (" + kvHeads + ")");
        }
        eosTokenIds = List.copyOf(eosTokenIds);
        if (bosTokenId == null) {
            throw new IllegalArgumentException("bosTokenId is required (OptionalInt.empty() for none)");
        }
        if (bosTokenId.isPresent() && (bosTokenId.getAsInt() < 0 || bosTokenId.getAsInt() >= vocabSize)) {
            throw new IllegalArgumentException("bos_token_id " + bosTokenId.getAsInt() + " is outside the vocabulary of "
                    + vocabSize + " tokens");
        }
    }

    /** A model that declares no BOS token. */
    public ModelConfig(ModelFamily family, int hiddenSize, int layers, int heads, int kvHeads, int headDim,
                       int vocabSize, int maxPositions, List<Integer> eosTokenIds) {
        this(family, hiddenSize, layers, heads, kvHeads, headDim, vocabSize, maxPositions, eosTokenIds,
                OptionalInt.empty());
    }

    /** The first end-of-sequence token, or -1 when the model declares none. */
    public int eosTokenId() {
        return eosTokenIds.isEmpty() ? -1 : eosTokenIds.get(0);
    }

    /** Reads {@code config.json} (required) and {@code generation_config.json} (optional) of a model directory. */
    public static ModelConfig read(Path modelDir) {
        ObjectMapper json = new ObjectMapper();
        Path configFile = modelDir.resolve("config.json");
        JsonNode c;
        try {
            c = json.readTree(configFile.toFile());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + configFile, e);
        }
        ModelFamily family;
        try {
            family = ModelFamily.fromModelType(c.path("model_type").asText(null));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(configFile + ": " + e.getMessage(), e);
        }
        int hidden;
        int layers;
        int heads;
        int kvHeads;
        int maxPositions;
        if (family == ModelFamily.GPT2) {
            hidden = required(c, configFile, "n_embd");
            layers = required(c, configFile, "n_layer");
            heads = required(c, configFile, "n_head");
            kvHeads = heads;
            maxPositions = required(c, configFile, "n_positions");
        } else {
            hidden = required(c, configFile, "hidden_size");
            layers = required(c, configFile, "num_hidden_layers");
            heads = required(c, configFile, "num_attention_heads");
            kvHeads = c.hasNonNull("num_key_value_heads") ? c.get("num_key_value_heads").asInt() : heads;
            maxPositions = required(c, configFile, "max_position_embeddings");
        }
        int headDim = c.hasNonNull("head_dim") ? c.get("head_dim").asInt() : hidden / heads;
        int vocab = required(c, configFile, "vocab_size");
        List<Integer> eos = ids(c.get("eos_token_id"));
        OptionalInt bos = id(c.get("bos_token_id"));
        Path generationConfig = modelDir.resolve("generation_config.json");
        if (Files.exists(generationConfig)) {
            try {
                JsonNode g = json.readTree(generationConfig.toFile());
                if (g.hasNonNull("eos_token_id")) {
                    eos = ids(g.get("eos_token_id"));
                }
                if (g.hasNonNull("bos_token_id")) {
                    bos = id(g.get("bos_token_id"));
                }
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read " + generationConfig, e);
            }
        }
        return new ModelConfig(family, hidden, layers, heads, kvHeads, headDim, vocab, maxPositions, eos, bos);
    }

    /** A single id ({@code bos_token_id} is one id in transformers' configs), or empty for none. */
    private static OptionalInt id(JsonNode node) {
        return node == null || node.isNull() || !node.canConvertToInt() ? OptionalInt.empty() : OptionalInt.of(node.asInt());
    }

    private static List<Integer> ids(JsonNode node) {
        List<Integer> ids = new ArrayList<>();
        if (node == null || node.isNull()) {
            return ids;
        }
        if (node.isArray()) {
            node.forEach(n -> ids.add(n.asInt()));
        } else {
            ids.add(node.asInt());
        }
        return ids;
    }

    private static int required(JsonNode c, Path file, String key) {
        if (!c.hasNonNull(key)) {
            throw new IllegalArgumentException(file + ": missing '" + key + "'");
        }
        return c.get(key).asInt();
    }

    private static void requirePositive(String name, int value) {
        if (value <= 0) {
            throw new IllegalArgumentException(name + " must be positive, got " + value);
        }
    }
}

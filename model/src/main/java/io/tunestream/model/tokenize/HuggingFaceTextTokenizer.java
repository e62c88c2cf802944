package io.tunestream.model.tokenize;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Map;

/**
 * A HuggingFace {@code tokenizer.json} run by DJL's tokenizers binding, loaded from a local file
 * only (never from a hub). Owns native memory: close it when done. Thread-safe.
 */
public final class HuggingFaceTextTokenizer implements TextTokenizer, AutoCloseable {

    /**
     * Deeper than any tokenizer.json (about 6 levels) and well under serde_json's recursion limit of
     * 128, past which the native parser fails inside an {@code expect} (see {@link #checkJson}).
     */
    static final int MAX_JSON_DEPTH = 64;
    private static final ObjectMapper JSON = new ObjectMapper();

    private final HuggingFaceTokenizer tokenizer;

    private HuggingFaceTextTokenizer(HuggingFaceTokenizer tokenizer) {
        this.tokenizer = tokenizer;
    }

    /**
     * Loads {@code tokenizer.json} of a model directory.
     *
     * @throws IllegalArgumentException if the file is missing or is not a tokenizer the binding can
     *                                  load (its parser's reason, naming the file)
     */
    public static HuggingFaceTextTokenizer load(Path modelDir) {
        Path file = modelDir.resolve("tokenizer.json");
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException("model directory " + modelDir + " has no tokenizer.json");
        }
        checkJson(file);
        try {
            return new HuggingFaceTextTokenizer(HuggingFaceTokenizer.newInstance(file, Map.of(
                    "addSpecialTokens", "false", "truncation", "false", "padding", "false")));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot load tokenizer " + file, e);
        } catch (RuntimeException e) {
            // the native parser's errors (malformed JSON, unknown model type) arrive as plain RuntimeExceptions
            throw new IllegalArgumentException("cannot load tokenizer " + file + ": " + e.getMessage(), e);
        }
    }

    /**
     * The native tokenizers library (0.21, under DJL) parses some sections of tokenizer.json with
     * {@code expect}: malformed JSON there, an out-of-range number or nesting past serde_json's limit
     * panics in native code and aborts the whole JVM (found by fuzzing the model directory). The
     * file is checked here first, so such a file is an error naming it instead.
     */
    private static void checkJson(Path file) {
        JsonNode root;
        try {
            root = JSON.readTree(file.toFile());
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("cannot load tokenizer " + file + ": not valid JSON: "
                    + e.getOriginalMessage() + (e.getLocation() != null ? " at line " + e.getLocation().getLineNr()
                    + ", column " + e.getLocation().getColumnNr() : ""), e);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read tokenizer " + file, e);
        }
        if (root == null || !root.isObject()) {
            throw new IllegalArgumentException("cannot load tokenizer " + file + ": expected a JSON object");
        }
        record Level(JsonNode node, int depth) {
        }
        Deque<Level> pending = new ArrayDeque<>();
        pending.push(new Level(root, 1));
        while (!pending.isEmpty()) {
            Level level = pending.pop();
            if (level.depth() > MAX_JSON_DEPTH) {
                throw new IllegalArgumentException("cannot load tokenizer " + file + ": nested deeper than "
                        + MAX_JSON_DEPTH + " levels");
            }
            JsonNode node = level.node();
            if (node.isNumber() && !Double.isFinite(node.doubleValue())) {
                throw new IllegalArgumentException("cannot load tokenizer " + file + ": number out of range: " + node);
            }
            node.forEach(child -> pending.push(new Level(child, level.depth() + 1)));
        }
    }

    @Override
    public int[] encode(String text) {
        long[] ids = tokenizer.encode(text, false, false).getIds();
        int[] out = new int[ids.length];
        for (int i = 0; i < ids.length; i++) {
            out[i] = Math.toIntExact(ids[i]);
        }
        return out;
    }

    @Override
    public String decode(int[] ids) {
        long[] wide = new long[ids.length];
        for (int i = 0; i < ids.length; i++) {
            wide[i] = ids[i];
        }
        return tokenizer.decode(wide, true);
    }

    @Override
    public void close() {
        tokenizer.close();
    }
}

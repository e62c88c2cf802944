package io.tunestream.schemas.peft;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The hand-written PEFT adapters of {@code models/<model>/peft/<type>/} (written by
 * {@code tools/references/make_peft_fixtures.py}, which cites PEFT's layout), and small helpers to make bad ones.
 */
final class PeftFixtures {

    private PeftFixtures() {
    }

    static Path dir(String model, String type) {
        return Path.of(System.getProperty("tunestream.home", "..")).resolve("models").resolve(model).resolve("peft")
                .resolve(type);
    }

    static byte[] config(String model, String type) {
        return bytes(dir(model, type).resolve("adapter_config.json"));
    }

    static byte[] weights(String model, String type) {
        return bytes(dir(model, type).resolve("adapter_model.safetensors"));
    }

    static JsonNode reference(String model, String type) {
        try {
            return new ObjectMapper().readTree(dir(model, type).resolve("peft-reference.json").toFile());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static byte[] bytes(Path file) {
        try {
            return Files.readAllBytes(file);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A safetensors file of {@code header} (as given, unpadded) followed by {@code data}. */
    static byte[] safetensors(String header, byte[] data) {
        byte[] json = header.getBytes(StandardCharsets.UTF_8);
        return ByteBuffer.allocate(8 + json.length + data.length).order(ByteOrder.LITTLE_ENDIAN)
                .putLong(json.length).put(json).put(data).array();
    }

    /** {@code count} little-endian float32 values, {@code value} each. */
    static byte[] floats(int count, float value) {
        ByteBuffer buffer = ByteBuffer.allocate(4 * count).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < count; i++) {
            buffer.putFloat(value);
        }
        return buffer.array();
    }

    /** The config JSON of {@code model/type} with {@code key} set to the raw JSON {@code value}. */
    static byte[] configWith(String model, String type, String key, String value) {
        try {
            ObjectMapper json = new ObjectMapper();
            var root = (com.fasterxml.jackson.databind.node.ObjectNode) json.readTree(config(model, type));
            root.set(key, json.readTree(value));
            return json.writeValueAsBytes(root);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}

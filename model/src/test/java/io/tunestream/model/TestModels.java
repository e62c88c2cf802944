package io.tunestream.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;

/** Where the tests find the project's models and data (the checkout root is {@code tunestream.home}). */
public final class TestModels {

    private TestModels() {
    }

    public static Path home() {
        return Path.of(System.getProperty("tunestream.home", "..")).toAbsolutePath().normalize();
    }

    public static Path model(String name) {
        return home().resolve("models").resolve(name);
    }

    public static JsonNode reference(String name) {
        try {
            return new ObjectMapper().readTree(model(name).resolve("reference.json").toFile());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static int[] ints(JsonNode array) {
        int[] out = new int[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = array.get(i).asInt();
        }
        return out;
    }

    public static float[][] matrix(JsonNode rows) {
        float[][] out = new float[rows.size()][];
        for (int r = 0; r < out.length; r++) {
            JsonNode row = rows.get(r);
            out[r] = new float[row.size()];
            for (int c = 0; c < out[r].length; c++) {
                out[r][c] = (float) row.get(c).asDouble();
            }
        }
        return out;
    }
}

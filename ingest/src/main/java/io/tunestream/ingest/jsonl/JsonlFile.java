package io.tunestream.ingest.jsonl;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads a JSONL file: one JSON object per line, blank lines skipped. A line that is not a JSON
 * object becomes a {@link LineProblem} with the parser's reason; reading goes on.
 */
public final class JsonlFile {

    private static final ObjectMapper JSON = new ObjectMapper();

    /** The objects and the problems of a file, each in line order. */
    public record Contents(List<JsonlLine> lines, List<LineProblem> problems) {
        public Contents {
            lines = List.copyOf(lines);
            problems = List.copyOf(problems);
        }
    }

    private JsonlFile() {
    }

    /**
     * Reads all of {@code file}.
     *
     * @throws UncheckedIOException if the file cannot be read (naming it)
     */
    public static Contents read(Path file) {
        try (BufferedReader reader = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            return read(file.toString(), reader);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file + ": " + e.getMessage(), e);
        }
    }

    /** Reads all of {@code reader}; {@code source} names it in problems and locations, like a file name. */
    public static Contents read(String source, BufferedReader reader) throws IOException {
        return read(source, reader, JSON);
    }

    /**
     * As {@link #read(String, BufferedReader)}, each line parsed by {@code mapper} (e.g. one with
     * stream read constraints for text from the network: a line beyond them is a problem of its own).
     */
    public static Contents read(String source, BufferedReader reader, ObjectMapper mapper) throws IOException {
        List<JsonlLine> lines = new ArrayList<>();
        List<LineProblem> problems = new ArrayList<>();
        long number = 0;
        for (String text = reader.readLine(); text != null; text = reader.readLine()) {
            number++;
            if (text.isBlank()) {
                continue;
            }
            try {
                JsonNode node = mapper.readTree(text);
                if (node instanceof ObjectNode object) {
                    lines.add(new JsonlLine(source, number, object));
                } else {
                    problems.add(new LineProblem(source, number, "expected a JSON object, got " + kind(node)));
                }
            } catch (JsonProcessingException e) {
                problems.add(new LineProblem(source, number, "malformed JSON"
                        + (e.getLocation() != null ? " at column " + e.getLocation().getColumnNr() : "") + ": "
                        + reason(e)));
            }
        }
        return new Contents(lines, problems);
    }

    /** Jackson's message without its source-location suffix (the column is given separately). */
    private static String reason(JsonProcessingException e) {
        String message = e.getOriginalMessage();
        int location = message.indexOf(" (start marker at");
        return (location >= 0 ? message.substring(0, location) : message).lines().findFirst().orElse(message);
    }

    private static String kind(JsonNode node) {
        return node.isArray() ? "an array" : node.isTextual() ? "a string" : node.isNumber() ? "a number"
                : node.isBoolean() ? "a boolean" : "null";
    }
}

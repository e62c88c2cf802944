package io.tunestream.ingest.jsonl;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class JsonlFileTest {

    @Test
    void shouldReadObjectsWithLineNumbersAndReportBadLinesWithFileLineAndReason(@TempDir Path dir) throws Exception {
        Path file = Files.writeString(dir.resolve("in.jsonl"),
                "{\"a\": \"1\"}\n\n{\"a\": \"2\"\n[1, 2]\n{\"a\": \"3\"}\n");

        JsonlFile.Contents contents = JsonlFile.read(file);

        assertThat(contents.lines()).extracting(JsonlLine::line).containsExactly(1L, 5L);
        assertThat(contents.lines().get(1).json().get("a").asText()).isEqualTo("3");
        assertThat(contents.problems()).hasSize(2);
        assertThat(contents.problems().get(0).toString()).isEqualTo(file
                + ":3: malformed JSON at column 10: Unexpected end-of-input: expected close marker for Object");
        assertThat(contents.problems().get(1).toString()).isEqualTo(file + ":4: expected a JSON object, got an array");
    }
}

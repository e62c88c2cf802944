package io.tunestream.ingest.template;

import java.nio.file.Path;
import java.util.List;

/** A template file that cannot be used, with every problem found (each naming file, entry and task). */
public class TemplateFileException extends RuntimeException {

    private final Path file;
    private final List<String> problems;

    public TemplateFileException(Path file, List<String> problems) {
        super(String.join(System.lineSeparator(), problems));
        this.file = file;
        this.problems = List.copyOf(problems);
    }

    public Path file() {
        return file;
    }

    public List<String> problems() {
        return problems;
    }
}

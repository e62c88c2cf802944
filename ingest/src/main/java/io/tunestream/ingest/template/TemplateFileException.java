package io.tunestream.ingest.template;

import java.util.List;

/** Templates that cannot be used, with every problem found (each naming file, entry and task). */
public class TemplateFileException extends RuntimeException {

    private final String source;
    private final List<String> problems;

    public TemplateFileException(String source, List<String> problems) {
        super(String.join(System.lineSeparator(), problems));
        this.source = source;
        this.problems = List.copyOf(problems);
    }

    /** The file (or other source) the templates came from. */
    public String source() {
        return source;
    }

    public List<String> problems() {
        return problems;
    }
}

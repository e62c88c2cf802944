package io.tunestream.ingest.jsonl;

import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * One JSON object read from a JSONL file.
 *
 * @param source file it came from, as given
 * @param line   1-based line number
 * @param json   the object
 */
public record JsonlLine(String source, long line, ObjectNode json) {

    /** {@code file:line}, e.g. for a record's source field. */
    public String location() {
        return source + ":" + line;
    }
}

package io.tunestream.ingest.jsonl;

/**
 * Why one input line was rejected.
 *
 * @param source file the line is in (as given on the command line)
 * @param line   1-based line number
 * @param reason what is wrong, naming the task and field where there is one
 */
public record LineProblem(String source, long line, String reason) {

    /** {@code file:line: reason}, the form compilers use, so editors can jump to it. */
    @Override
    public String toString() {
        return source + ":" + line + ": " + reason;
    }
}

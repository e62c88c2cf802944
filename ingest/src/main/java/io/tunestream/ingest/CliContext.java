package io.tunestream.ingest;

import java.io.PrintWriter;
import java.time.Clock;
import java.util.Objects;

/**
 * Where the commands write and what time it is: standard output for results, standard error for
 * progress and problems. Tests pass their own.
 */
public record CliContext(PrintWriter out, PrintWriter err, Clock clock) {
    public CliContext {
        Objects.requireNonNull(out, "out");
        Objects.requireNonNull(err, "err");
        Objects.requireNonNull(clock, "clock");
    }

    /** The process's standard streams and the system clock. */
    public static CliContext system() {
        return new CliContext(new PrintWriter(System.out, true), new PrintWriter(System.err, true), Clock.systemUTC());
    }
}

package io.tunestream.ingest;

/** Exit codes of the ingest commands. */
public final class ExitCodes {
    /** Everything was done. */
    public static final int OK = 0;
    /** The command failed (cannot connect, broker or registry refused, timeout); see standard error. */
    public static final int FAILED = 1;
    /** Bad command line (picocli's usage error code). */
    public static final int USAGE = 2;
    /** The input had problems (bad lines, unknown tasks, invalid templates); valid lines may have gone out. */
    public static final int INPUT_REJECTED = 3;
    /** No answer arrived in time. */
    public static final int TIMEOUT = 4;

    private ExitCodes() {
    }
}

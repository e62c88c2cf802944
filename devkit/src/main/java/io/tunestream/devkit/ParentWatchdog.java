package io.tunestream.devkit;

import java.util.ArrayList;
import java.util.List;

/**
 * Wraps a child command so that the child cannot outlive this JVM, even when this JVM is
 * killed with SIGKILL and no shutdown hook runs. Linux/POSIX only.
 *
 * <p>A {@code /bin/sh} starts a background loop and then {@code exec}s the command, so the
 * child keeps the shell's pid (the {@link Process} the caller holds is the command itself) and
 * the loop is the child's own child. Once a second the loop checks that the parent JVM is
 * alive; when it is gone, it kills the child with SIGKILL. When the child ends first, the loop
 * notices (its {@code $$} no longer exists) and ends too.
 */
final class ParentWatchdog {
    private static final String SCRIPT = String.join("\n",
            "parent=\"$1\"; shift",
            "(",
            "  while kill -0 \"$$\" 2>/dev/null; do",
            "    if ! kill -0 \"$parent\" 2>/dev/null; then kill -KILL \"$$\" 2>/dev/null; exit 0; fi",
            "    sleep 1",
            "  done",
            ") </dev/null >/dev/null 2>&1 &",
            "exec \"$@\"");

    private ParentWatchdog() {
    }

    /** {@code command}, to be run as a child that is killed when the process {@code parentPid} ends. */
    static List<String> wrap(List<String> command, long parentPid) {
        List<String> wrapped = new ArrayList<>(command.size() + 5);
        wrapped.add("/bin/sh");
        wrapped.add("-c");
        wrapped.add(SCRIPT);
        wrapped.add("tunestream-watchdog"); // $0 of the script
        wrapped.add(Long.toString(parentPid));
        wrapped.addAll(command);
        return wrapped;
    }
}

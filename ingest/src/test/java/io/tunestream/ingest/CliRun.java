package io.tunestream.ingest;

import io.tunestream.devkit.PlatformEndpoints;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;

/** One run of the ingest CLI against the test platform, as a newcomer would type it. */
public record CliRun(int exitCode, String out, String err) {

    /** Runs {@code ingest <args> --bootstrap-servers … --registry-url …}. */
    public static CliRun run(PlatformEndpoints platform, String... args) {
        List<String> all = new ArrayList<>(List.of(args));
        if (!all.contains("--help")) {
            all.addAll(List.of("--bootstrap-servers", platform.bootstrapServers(), "--registry-url", platform.registryUrl()));
        }
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int exitCode = IngestCli.commandLine(new CliContext(new PrintWriter(out, true), new PrintWriter(err, true),
                Clock.systemUTC())).execute(all.toArray(String[]::new));
        return new CliRun(exitCode, out.toString(), err.toString());
    }
}

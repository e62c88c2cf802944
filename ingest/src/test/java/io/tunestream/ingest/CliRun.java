package io.tunestream.ingest;

import io.tunestream.devkit.PlatformEndpoints;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;

/** One run of the ingest CLI against the test platform, as a newcomer would type it. */
public record CliRun(int exitCode, String out, String err) {

    /** Platforms (bootstrap servers) on which {@code ingest setup} ran in this test JVM. */
    private static final java.util.Set<String> SET_UP = java.util.concurrent.ConcurrentHashMap.newKeySet();

    /**
     * Runs {@code ingest setup} once per platform and test JVM: the commands only check their topics
     * and schemas, as they do on a real deployment after setup.
     */
    public static void setUp(PlatformEndpoints platform) {
        if (SET_UP.contains(platform.bootstrapServers())) {
            return;
        }
        CliRun setup = execute(platform, "setup");
        if (setup.exitCode() != 0) {
            throw new AssertionError("ingest setup failed: " + setup.err());
        }
        SET_UP.add(platform.bootstrapServers());
    }

    /** Runs {@code ingest <args> --bootstrap-servers … --registry-url …}, after {@link #setUp}. */
    public static CliRun run(PlatformEndpoints platform, String... args) {
        if (args.length > 0 && !args[0].equals("setup") && !List.of(args).contains("--help")) {
            setUp(platform);
        }
        return execute(platform, args);
    }

    private static CliRun execute(PlatformEndpoints platform, String... args) {
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

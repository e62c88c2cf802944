package io.tunestream.devkit;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.common.utils.Utils;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A real Apicurio Registry server running as a child JVM on 127.0.0.1, its storage an H2 file
 * database in its directory ({@value #DATABASE_DIRECTORY_NAME}), so schemas and their global ids
 * survive a {@link #stop}/{@link #restart} and, with a kept directory, a new run.
 *
 * <p>{@link #start} launches the distribution devkit's build unpacked, with the same
 * {@code java} as this JVM, and returns once {@value #READINESS_PATH} answers. The child's
 * stdout and stderr go to {@code apicurio-registry.log}; when the start fails, the exception
 * carries the last lines of that log and the child is gone.
 *
 * <p>For fault tests, {@link #stop} ends the child (the port then refuses connections) and
 * {@link #restart} launches it again on the same port and database.
 *
 * <p>The child cannot outlive this JVM: {@link #close} destroys it, a shutdown hook does so
 * on a normal exit, and a watchdog kills it within a second when this JVM is killed outright.
 */
public final class EmbeddedRegistry implements AutoCloseable {
    static final String READINESS_PATH = "/apis/registry/v3/system/info";
    static final String LOG_FILE_NAME = "apicurio-registry.log";
    static final String DATABASE_DIRECTORY_NAME = "registry-db";
    private static final Logger LOG = LoggerFactory.getLogger(EmbeddedRegistry.class);
    private static final Duration POLL_INTERVAL = Duration.ofMillis(200);
    private static final Duration GRACEFUL_STOP = Duration.ofSeconds(10);
    private static final int LOG_TAIL_LINES = 30;

    private final List<String> command;
    private final Path runnerJar;
    private final Duration startTimeout;
    private final String url;
    private final Path logDirectory;
    private final boolean deleteLogDirectoryOnClose;
    /** The running child and the hook that destroys it; null while {@link #stop stopped}. */
    private Process process;
    private Thread shutdownHook;
    private boolean closed;

    private EmbeddedRegistry(Launched launched, List<String> command, Path runnerJar, Duration startTimeout, String url,
                             Path logDirectory, boolean deleteLogDirectoryOnClose) {
        this.process = launched.process();
        this.shutdownHook = launched.shutdownHook();
        this.command = command;
        this.runnerJar = runnerJar;
        this.startTimeout = startTimeout;
        this.url = url;
        this.logDirectory = logDirectory;
        this.deleteLogDirectoryOnClose = deleteLogDirectoryOnClose;
    }

    /** A child that answered its readiness check, and the hook that destroys it when this JVM exits. */
    private record Launched(Process process, Thread shutdownHook) {
    }

    /** Starts a registry on a free port with the default settings. */
    public static EmbeddedRegistry start() {
        return start(EmbeddedRegistryConfig.defaults());
    }

    /**
     * Starts a registry and waits until it answers.
     *
     * @throws PlatformStartException naming the URL, the cause and the log's last lines when the
     *                                server cannot start or is not ready in time; the child is destroyed
     */
    public static EmbeddedRegistry start(EmbeddedRegistryConfig config) {
        RegistryDistribution distribution = config.home().map(RegistryDistribution::at).orElseGet(RegistryDistribution::fromBuild);
        if (config.port() != 0) {
            LoopbackPorts.requireFree(config.port(), "Apicurio Registry");
        }
        int port = LoopbackPorts.resolve(config.port());
        String url = "http://" + LoopbackPorts.HOST + ":" + port;
        boolean temporaryLogDirectory = config.logDirectory().isEmpty();
        Path logDirectory = config.logDirectory().map(Path::toAbsolutePath).orElseGet(EmbeddedRegistry::createTemporaryDirectory);
        List<String> command = ParentWatchdog.wrap(serverCommand(distribution, config, port, logDirectory),
                ProcessHandle.current().pid());
        Launched launched = launch(command, url, logDirectory, config.startTimeout(), distribution.runnerJar());
        return new EmbeddedRegistry(launched, command, distribution.runnerJar(), config.startTimeout(), url, logDirectory,
                temporaryLogDirectory);
    }

    /**
     * Starts the child and waits until it answers.
     *
     * @throws PlatformStartException naming the URL, the cause and the log's last lines; the child is destroyed
     */
    private static Launched launch(List<String> command, String url, Path logDirectory, Duration startTimeout, Path runnerJar) {
        Path logFile = logDirectory.resolve(LOG_FILE_NAME);
        Process process;
        try {
            Files.createDirectories(logDirectory);
            process = new ProcessBuilder(command)
                    .directory(logDirectory.toFile())
                    .redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(logFile.toFile()))
                    .start();
        } catch (IOException e) {
            throw new PlatformStartException("Apicurio Registry could not be launched from " + runnerJar
                    + ": " + e.getMessage(), e);
        }
        Thread shutdownHook = new Thread(() -> destroy(process), "tunestream-registry-stop-" + process.pid());
        Runtime.getRuntime().addShutdownHook(shutdownHook);
        try {
            awaitReady(process, url, startTimeout);
        } catch (RuntimeException e) {
            destroy(process);
            removeShutdownHook(shutdownHook);
            throw new PlatformStartException("Apicurio Registry failed to start on " + url + " (pid " + process.pid()
                    + "): " + e.getMessage() + "; log " + logFile + " ends with:\n" + tail(logFile), e);
        }
        LOG.info("Apicurio Registry ready on {} (pid {}, log {})", url, process.pid(), logFile);
        return new Launched(process, shutdownHook);
    }

    /** The base URL, e.g. {@code http://127.0.0.1:41234}, without the API path. */
    public String url() {
        return url;
    }

    /**
     * The running child JVM's process id.
     *
     * @throws IllegalStateException while the registry is stopped or closed
     */
    public synchronized long pid() {
        if (process == null) {
            throw new IllegalStateException("Apicurio Registry on " + url + " is not running");
        }
        return process.pid();
    }

    /** Whether the child runs: started and not {@link #stop stopped} or closed. */
    public synchronized boolean isRunning() {
        return process != null;
    }

    /**
     * Ends the child JVM (SIGTERM, SIGKILL after 10 s) and waits for it: the registry's port refuses
     * connections until {@link #restart}. Its database is kept. Idempotent.
     *
     * @throws IllegalStateException when the registry is closed
     */
    public synchronized void stop() {
        requireOpen();
        if (process == null) {
            return;
        }
        destroy(process);
        removeShutdownHook(shutdownHook);
        process = null;
        shutdownHook = null;
        LOG.info("Apicurio Registry on {} stopped (database kept in {} for a restart)", url,
                logDirectory.resolve(DATABASE_DIRECTORY_NAME));
    }

    /**
     * Launches a {@link #stop stopped} registry again on the same port and database and waits until it
     * answers; the schemas and global ids registered before are served again. Does nothing when it runs.
     *
     * @throws IllegalStateException  when the registry is closed
     * @throws PlatformStartException naming the URL, the cause and the log's last lines; it stays stopped
     */
    public synchronized void restart() {
        requireOpen();
        if (process != null) {
            return;
        }
        int port = Integer.parseInt(url.substring(url.lastIndexOf(':') + 1));
        LoopbackPorts.requireFree(port, "Apicurio Registry");
        Launched launched = launch(command, url, logDirectory, startTimeout, runnerJar);
        process = launched.process();
        shutdownHook = launched.shutdownHook();
    }

    private void requireOpen() {
        if (closed) {
            throw new IllegalStateException("Apicurio Registry on " + url + " is closed");
        }
    }

    /** Stops the child JVM, waits for it and deletes a temporary log directory. Idempotent. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (process != null) {
            destroy(process);
            removeShutdownHook(shutdownHook);
            process = null;
        }
        if (deleteLogDirectoryOnClose) {
            try {
                Utils.delete(logDirectory.toFile());
            } catch (IOException e) {
                throw new UncheckedIOException("Apicurio Registry stopped but its log directory " + logDirectory
                        + " could not be deleted", e);
            }
        }
        LOG.info("Apicurio Registry on {} stopped", url);
    }

    static List<String> serverCommand(RegistryDistribution distribution, EmbeddedRegistryConfig config, int port, Path directory) {
        Map<String, String> properties = new LinkedHashMap<>();
        properties.put("quarkus.http.host", LoopbackPorts.HOST);
        properties.put("quarkus.http.port", String.valueOf(port));
        properties.put("quarkus.banner.enabled", "false");
        properties.put("quarkus.http.access-log.enabled", "false");
        properties.put("apicurio.storage.kind", "sql");
        properties.put("apicurio.storage.sql.kind", "h2");
        // A file, not the default jdbc:h2:mem: schemas and global ids survive a restart (records in
        // Kafka name schemas by global id, so a registry that forgot them would make them unreadable).
        properties.put("apicurio.datasource.url", "jdbc:h2:file:"
                + directory.toAbsolutePath().resolve(DATABASE_DIRECTORY_NAME).resolve("registry"));
        // Tests clean up after themselves; the registry refuses deletes unless allowed.
        properties.put("apicurio.rest.deletion.group.enabled", "true");
        properties.put("apicurio.rest.deletion.artifact.enabled", "true");
        properties.put("apicurio.rest.deletion.artifact-version.enabled", "true");
        properties.putAll(config.serverProperties());

        List<String> command = new ArrayList<>();
        command.add(currentJava());
        command.add("-Xmx" + config.maxHeap());
        // Starts in a third less time on a busy machine; the registry never runs long enough for C2 to pay off.
        command.add("-XX:TieredStopAtLevel=1");
        command.add("-XX:+UseSerialGC");
        // Out of memory, exit (and show in the log) rather than answer half the requests.
        command.add("-XX:+ExitOnOutOfMemoryError");
        properties.forEach((name, value) -> command.add("-D" + name + "=" + value));
        command.add("-jar");
        command.add(distribution.runnerJar().toString());
        return command;
    }

    /** The {@code java} launcher of this JVM, so the child runs on the same Java. */
    private static String currentJava() {
        return ProcessHandle.current().info().command()
                .orElseGet(() -> Path.of(System.getProperty("java.home"), "bin", "java").toString());
    }

    private static void awaitReady(Process process, String url, Duration timeout) {
        HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(1)).build();
        HttpRequest request = HttpRequest.newBuilder(URI.create(url + READINESS_PATH))
                .timeout(Duration.ofSeconds(2))
                .GET()
                .build();
        long deadline = System.nanoTime() + timeout.toNanos();
        String lastAnswer = "no answer yet";
        while (true) {
            if (!process.isAlive()) {
                throw new IllegalStateException("the server exited with code " + process.exitValue() + " before it was ready");
            }
            try {
                HttpResponse<String> response = client.send(request, HttpResponse.BodyHandlers.ofString());
                if (response.statusCode() == 200) {
                    return;
                }
                lastAnswer = "HTTP " + response.statusCode() + " " + response.body();
            } catch (IOException e) {
                lastAnswer = e.toString();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while waiting for " + READINESS_PATH, e);
            }
            if (System.nanoTime() - deadline >= 0) {
                throw new IllegalStateException("not ready within " + timeout + ": " + READINESS_PATH
                        + " gave " + lastAnswer);
            }
            sleep(POLL_INTERVAL);
        }
    }

    /**
     * SIGTERM, then SIGKILL after {@link #GRACEFUL_STOP}; waits for the child and its watchdog loop.
     * A caller already interrupted (a start cancelled because the broker failed) kills the child at
     * once and still waits for it, so that no process outlives the failed start.
     */
    private static void destroy(Process process) {
        List<ProcessHandle> descendants = process.descendants().toList();
        if (Thread.currentThread().isInterrupted()) {
            process.destroyForcibly();
        } else {
            process.destroy();
        }
        if (!waitForExit(process)) {
            process.destroyForcibly();
            waitForExit(process);
        }
        descendants.forEach(ProcessHandle::destroy);
    }

    /** Waits up to {@link #GRACEFUL_STOP} for the process to exit, through interrupts, which it keeps for the caller. */
    private static boolean waitForExit(Process process) {
        long deadline = System.nanoTime() + GRACEFUL_STOP.toNanos();
        boolean interrupted = false;
        try {
            while (true) {
                try {
                    return process.waitFor(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
                } catch (InterruptedException e) {
                    interrupted = true;
                    if (System.nanoTime() >= deadline) {
                        return !process.isAlive();
                    }
                }
            }
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private static void removeShutdownHook(Thread hook) {
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException e) {
            // The JVM is already shutting down: the hook runs (or ran) and destroys the child anyway.
        }
    }

    private static String tail(Path logFile) {
        try {
            String text = new String(Files.readAllBytes(logFile), StandardCharsets.UTF_8);
            List<String> lines = Arrays.asList(text.split("\\R"));
            return String.join("\n", lines.subList(Math.max(0, lines.size() - LOG_TAIL_LINES), lines.size()));
        } catch (IOException e) {
            return "(log unreadable: " + e + ")";
        }
    }

    private static Path createTemporaryDirectory() {
        try {
            return Files.createTempDirectory("tunestream-registry-");
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot create a temporary log directory for Apicurio Registry", e);
        }
    }

    private static void sleep(Duration duration) {
        try {
            Thread.sleep(duration.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for " + READINESS_PATH, e);
        }
    }
}

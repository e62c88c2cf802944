package io.tunestream.serving.it;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Deque;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A serving instance in a child JVM ({@link CrashableServingMain}, the echo model) that a fault
 * scenario can SIGKILL ({@link Process#destroyForcibly} is SIGKILL on Linux). Its stdout lines are
 * queued; {@link #await} finds the marker lines the main prints.
 */
final class ServingProcess implements AutoCloseable {

    private final String name;
    private final Process process;
    private final BlockingQueue<String> lines = new LinkedBlockingQueue<>();
    private final Deque<String> tail = new ConcurrentLinkedDeque<>();

    /**
     * @param config  the serving properties file
     * @param stallAt the batch (counted from 1) in which the model hangs until the JVM is killed; 0 never
     */
    ServingProcess(String name, Path config, int stallAt) throws IOException {
        this.name = name;
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        process = new ProcessBuilder(java, "-Xmx384m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC",
                "-cp", System.getProperty("java.class.path"), CrashableServingMain.class.getName(),
                config.toString(), Integer.toString(stallAt))
                .redirectErrorStream(true).start();
        Thread reader = new Thread(this::readOutput, "serving-process-" + name);
        reader.setDaemon(true);
        reader.start();
    }

    private void readOutput() {
        try (var in = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
            for (String line; (line = in.readLine()) != null; ) {
                if (!line.startsWith("ANSWERED ")) {
                    lines.add(line);
                }
                tail.add(line);
                if (tail.size() > 40) {
                    tail.poll();
                }
            }
        } catch (IOException e) {
            lines.add("READ FAILED " + e);
        }
    }

    /** Waits for a line starting with {@code prefix} and returns it. */
    String await(String prefix, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            String line = lines.poll(100, TimeUnit.MILLISECONDS);
            if (line != null && line.startsWith(prefix)) {
                return line;
            }
            if (line == null && !process.isAlive()) {
                throw new AssertionError("serving " + name + " exited with " + process.exitValue() + " before printing "
                        + prefix + "; its last lines:\n" + String.join("\n", tail));
            }
        }
        throw new AssertionError("serving " + name + " did not print " + prefix + " within " + timeout
                + "; its last lines:\n" + String.join("\n", tail));
    }

    /** SIGKILL, and wait for the JVM to be gone. */
    void kill() throws InterruptedException {
        process.destroyForcibly();
        if (!process.waitFor(30, TimeUnit.SECONDS)) {
            throw new AssertionError("serving " + name + " (pid " + process.pid() + ") survived SIGKILL for 30 s");
        }
    }

    @Override
    public void close() throws InterruptedException {
        if (process.isAlive()) {
            kill();
        }
    }
}

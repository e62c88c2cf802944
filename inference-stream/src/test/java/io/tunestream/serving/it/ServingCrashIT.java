package io.tunestream.serving.it;

import static io.tunestream.serving.testing.Fixtures.assistant;
import static io.tunestream.serving.testing.Fixtures.assistantRequest;
import static org.assertj.core.api.Assertions.assertThat;

import io.tunestream.devkit.PlatformEndpoints;
import io.tunestream.devkit.junit.LocalPlatformExtension;
import io.tunestream.schemas.Answer;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Kills the serving app (a child JVM, SIGKILL) in the middle of a batch, restarts it, and checks
 * with a read_committed consumer that every request has exactly one answer.
 */
@ExtendWith(LocalPlatformExtension.class)
class ServingCrashIT {

    private static final Duration TIMEOUT = Duration.ofSeconds(90);

    /** A child JVM running {@link CrashableServingMain}, with its stdout lines in a queue. */
    private static final class Child implements AutoCloseable {
        final Process process;
        final BlockingQueue<String> lines = new LinkedBlockingQueue<>();

        Child(Path config, int stallAt) throws Exception {
            String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
            process = new ProcessBuilder(java, "-Xmx512m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC",
                    "-cp", System.getProperty("java.class.path"), CrashableServingMain.class.getName(),
                    config.toString(), Integer.toString(stallAt))
                    .redirectErrorStream(true).start();
            Thread reader = new Thread(() -> {
                try (var in = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                    for (String line; (line = in.readLine()) != null; ) {
                        lines.add(line);
                    }
                } catch (java.io.IOException e) {
                    lines.add("READ FAILED " + e);
                }
            }, "child-stdout");
            reader.setDaemon(true);
            reader.start();
        }

        /** Waits for a line starting with {@code prefix} and returns it. */
        String await(String prefix) throws InterruptedException {
            long deadline = System.nanoTime() + TIMEOUT.toNanos();
            while (System.nanoTime() < deadline) {
                String line = lines.poll(100, TimeUnit.MILLISECONDS);
                if (line != null && line.startsWith(prefix)) {
                    return line;
                }
                if (line == null && !process.isAlive()) {
                    throw new AssertionError("child JVM exited with " + process.exitValue() + " before printing "
                            + prefix);
                }
            }
            throw new AssertionError("child JVM did not print " + prefix + " within " + TIMEOUT);
        }

        void kill() throws InterruptedException {
            process.destroyForcibly();
            process.waitFor(30, TimeUnit.SECONDS);
        }

        @Override
        public void close() throws InterruptedException {
            if (process.isAlive()) {
                kill();
            }
        }
    }

    @Test
    void shouldAnswerEveryRequestExactlyOnceWhenTheAppIsKilledInTheMiddleOfABatch(PlatformEndpoints platform)
            throws Exception {
        try (var fixture = new ServingFixture(platform, 1)) {
            fixture.publish(assistant("assistant", 4));
            Path config = fixture.stateDir.resolveSibling(fixture.prefix + "serving.properties");
            var properties = new Properties();
            Map<String, String> settings = fixture.config(2, 50);
            settings.put("kafka.consumer.session.timeout.ms", "6000");
            properties.putAll(settings);
            try (var out = Files.newBufferedWriter(config)) {
                properties.store(out, "crash test");
            }
            List<String> ids = IntStream.range(0, 12).mapToObj(i -> "r" + i).toList();
            var committed = new ArrayList<Answer>();

            String stalled;
            try (var first = new Child(config, 4)) {
                first.await("RUNNING");
                for (String id : ids.subList(0, 4)) {
                    fixture.send(assistantRequest(id, "assistant"));
                }
                committed.addAll(fixture.awaitAnswers(4, TIMEOUT));
                assertThat(committed).extracting(Answer::getRequestId).containsExactlyInAnyOrder("r0", "r1", "r2", "r3");
                for (String id : ids.subList(4, 12)) {
                    fixture.send(assistantRequest(id, "assistant"));
                }
                stalled = first.await("STALLED");
                first.kill();
            }
            committed.addAll(fixture.drainAnswers(Duration.ofSeconds(1)));
            assertThat(committed).extracting(Answer::getRequestId).as("nothing of the stalled batch %s is committed", stalled)
                    .doesNotContain(stalled.substring("STALLED [".length(), stalled.length() - 1).split(", "));

            try (var second = new Child(config, 0)) {
                second.await("RUNNING");
                long deadline = System.nanoTime() + TIMEOUT.toNanos();
                while (committed.stream().map(Answer::getRequestId).distinct().count() < ids.size()
                        && System.nanoTime() < deadline) {
                    committed.addAll(fixture.awaitAnswers(ids.size(), Duration.ofSeconds(1)));
                }
                committed.addAll(fixture.drainAnswers(Duration.ofSeconds(2)));
            }

            Map<String, Long> answersPerRequest = committed.stream()
                    .collect(Collectors.groupingBy(Answer::getRequestId, Collectors.counting()));
            assertThat(answersPerRequest).as("answers per request id")
                    .isEqualTo(ids.stream().collect(Collectors.toMap(Function.identity(), id -> 1L)));
            assertThat(committed).allSatisfy(a -> assertThat(a.getError()).isNull());
        }
    }
}

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
        final java.util.Deque<String> tail = new java.util.concurrent.ConcurrentLinkedDeque<>();

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
                        tail.add(line);
                        if (tail.size() > 40) {
                            tail.poll();
                        }
                    }
                } catch (java.io.IOException e) {
                    lines.add("READ FAILED " + e);
                }
            }, "child-stdout");
            reader.setDaemon(true);
            reader.start();
        }

        final List<String> answered = new java.util.concurrent.CopyOnWriteArrayList<>();

        /** Waits for a line starting with {@code prefix} and returns it; remembers the ANSWERED ids on the way. */
        String await(String prefix) throws InterruptedException {
            long deadline = System.nanoTime() + TIMEOUT.toNanos();
            while (System.nanoTime() < deadline) {
                String line = lines.poll(100, TimeUnit.MILLISECONDS);
                if (line != null && line.startsWith("ANSWERED ")) {
                    answered.addAll(List.of(line.substring("ANSWERED ".length()).split(",")));
                }
                if (line != null && line.startsWith(prefix)) {
                    return line;
                }
                if (line == null && !process.isAlive()) {
                    throw new AssertionError("child JVM exited with " + process.exitValue() + " before printing "
                            + prefix + "; its last lines:\n" + String.join("\n", tail));
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

    private final long startNanos = System.nanoTime();

    private void phase(String what) {
        System.out.printf("crash test +%.1f s: %s%n", (System.nanoTime() - startNanos) / 1e9, what);
    }

    private static Path writeConfig(ServingFixture fixture, String name, Map<String, String> settings)
            throws Exception {
        Path file = fixture.stateDir.resolveSibling(fixture.prefix + name + ".properties");
        var properties = new Properties();
        properties.putAll(settings);
        try (var out = Files.newBufferedWriter(file)) {
            properties.store(out, "crash test");
        }
        return file;
    }

    /**
     * The first instance commits only every 10 minutes: the answers of the batches it completes are
     * written inside an open transaction when it is killed in the next batch. The second instance
     * (same state directory, same static member id, normal commits) takes over at once.
     */
    @Test
    void shouldAnswerEveryRequestExactlyOnceWhenTheAppIsKilledInTheMiddleOfABatch(PlatformEndpoints platform)
            throws Exception {
        try (var fixture = new ServingFixture(platform, 1)) {
            fixture.publish(assistant("assistant", 4));
            Map<String, String> settings = fixture.config(2, 500);
            settings.put("kafka.main.consumer.group.instance.id", fixture.prefix + "instance");
            Path normal = writeConfig(fixture, "normal", settings);
            settings.put("kafka.commit.interval.ms", "600000");
            settings.put("kafka.producer.transaction.timeout.ms", "600000");
            Path lazy = writeConfig(fixture, "lazy-commit", settings);
            List<String> ids = IntStream.range(0, 12).mapToObj(i -> "r" + i).toList();

            String stalled;
            List<String> answeredBeforeCrash;
            try (var first = new Child(lazy, 3)) {
                first.await("RUNNING");
                phase("first instance running");
                fixture.sendAll(ids.stream().map(id -> assistantRequest(id, "assistant")).toList());
                stalled = first.await("STALLED");
                answeredBeforeCrash = List.copyOf(first.answered);
                phase("first instance stalled in " + stalled + " after answering " + answeredBeforeCrash);
                long deadline = System.nanoTime() + TIMEOUT.toNanos();
                while (fixture.answerIdsReadUncommitted(Duration.ofMillis(300)).size() < answeredBeforeCrash.size()
                        && System.nanoTime() < deadline) {
                    Thread.sleep(100);
                }
                first.kill();
                phase("first instance killed");
            }
            assertThat(answeredBeforeCrash).as("rows answered before the stalled batch").isNotEmpty();
            List<String> uncommittedBeforeRestart = fixture.answerIdsReadUncommitted(Duration.ofMillis(500));
            assertThat(uncommittedBeforeRestart).as("answers of the two completed batches, in the open transaction")
                    .containsExactlyInAnyOrderElementsOf(answeredBeforeCrash);
            assertThat(fixture.drainAnswers(Duration.ofSeconds(1))).as("committed answers before the restart").isEmpty();

            var committed = new ArrayList<Answer>();
            try (var second = new Child(normal, 0)) {
                second.await("RUNNING");
                phase("second instance running");
                long deadline = System.nanoTime() + TIMEOUT.toNanos();
                while (committed.stream().map(Answer::getRequestId).distinct().count() < ids.size()
                        && System.nanoTime() < deadline) {
                    committed.addAll(fixture.awaitAnswers(ids.size(), Duration.ofSeconds(1)));
                }
                committed.addAll(fixture.drainAnswers(Duration.ofSeconds(2)));
            }
            phase("all answered");

            Map<String, Long> answersPerRequest = committed.stream()
                    .collect(Collectors.groupingBy(Answer::getRequestId, Collectors.counting()));
            assertThat(answersPerRequest).as("committed answers per request id")
                    .isEqualTo(ids.stream().collect(Collectors.toMap(Function.identity(), id -> 1L)));
            assertThat(committed).allSatisfy(a -> assertThat(a.getError()).isNull());
            assertThat(fixture.answerIdsReadUncommitted(Duration.ofMillis(500)))
                    .as("the log holds the aborted answers next to the committed ones")
                    .filteredOn(answeredBeforeCrash.get(0)::equals).hasSize(2);
        }
    }
}

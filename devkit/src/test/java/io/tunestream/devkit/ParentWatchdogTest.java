package io.tunestream.devkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.time.Duration;
import java.util.List;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** A wrapped child dies with its parent, even when the parent is killed outright. */
class ParentWatchdogTest {
    private Process parent;
    private Process child;

    @AfterEach
    void stopProcesses() {
        for (Process process : new Process[] {child, parent}) {
            if (process != null) {
                process.descendants().forEach(ProcessHandle::destroyForcibly);
                process.destroyForcibly();
            }
        }
    }

    @Test
    void shouldKillTheChildWhenTheParentIsKilled() throws IOException {
        parent = new ProcessBuilder("sleep", "60").start();
        child = new ProcessBuilder(ParentWatchdog.wrap(List.of("sleep", "61"), parent.pid())).start();
        await().atMost(Duration.ofSeconds(5)).until(() -> child.descendants().findAny().isPresent());

        parent.destroyForcibly();

        await().atMost(Duration.ofSeconds(10)).until(() -> !child.isAlive());
        assertThat(child.exitValue()).isEqualTo(128 + 9); // SIGKILL
    }

    @Test
    void shouldRunTheCommandInTheChildProcessItself() throws IOException {
        parent = new ProcessBuilder("sleep", "60").start();
        child = new ProcessBuilder(ParentWatchdog.wrap(List.of("sleep", "61"), parent.pid())).start();

        await().atMost(Duration.ofSeconds(5)).untilAsserted(() ->
                assertThat(child.info().command()).hasValueSatisfying(command -> assertThat(command).endsWith("/sleep")));
        assertThat(child.isAlive()).isTrue();
    }

    @Test
    void shouldPassTheExitCodeAndEndTheWatchdogWhenTheChildEnds() throws Exception {
        parent = new ProcessBuilder("sleep", "60").start();
        child = new ProcessBuilder(ParentWatchdog.wrap(List.of("sh", "-c", "sleep 2; exit 3"), parent.pid())).start();
        await().atMost(Duration.ofSeconds(5)).until(() -> child.descendants().findAny().isPresent());
        List<ProcessHandle> watchdog = child.children().toList();

        assertThat(child.waitFor()).isEqualTo(3);
        await().atMost(Duration.ofSeconds(5)).until(() -> watchdog.stream().noneMatch(ProcessHandle::isAlive));
        assertThat(parent.isAlive()).isTrue();
    }
}

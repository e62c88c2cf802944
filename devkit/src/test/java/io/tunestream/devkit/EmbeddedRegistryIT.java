package io.tunestream.devkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;
import static org.awaitility.Awaitility.await;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Failing to start a registry, and its child JVM never outliving the test JVM. */
class EmbeddedRegistryIT {

    @Test
    @Timeout(10)
    void shouldNameThePortAndStartNoChildWhenTheRegistryPortIsTaken() throws IOException {
        Set<Long> childrenBefore = childPids();
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
            int port = taken.getLocalPort();

            assertThatThrownBy(() -> EmbeddedRegistry.start(EmbeddedRegistryConfig.defaults().withPort(port)))
                    .isInstanceOf(PlatformStartException.class)
                    .hasMessage("Apicurio Registry cannot listen on 127.0.0.1:" + port
                            + ": the port is already in use (choose another port, or 0 for a free one)");
        }
        assertThat(childPids()).isEqualTo(childrenBefore);
    }

    @Test
    @Timeout(10)
    void shouldNameTheDirectoryAndStartNoChildWhenTheHomeIsBogus(@TempDir Path temp) {
        Set<Long> childrenBefore = childPids();
        Path bogus = temp.resolve("no-registry-here");

        assertThatThrownBy(() -> EmbeddedRegistry.start(EmbeddedRegistryConfig.defaults().withHome(bogus)))
                .isInstanceOf(PlatformStartException.class)
                .hasMessage("Apicurio Registry server not found: " + bogus
                        + " is not a directory (devkit's build unpacks it: ./mvnw -B -pl devkit generate-resources)");
        assertThat(childPids()).isEqualTo(childrenBefore);
    }

    @Test
    @Timeout(30)
    void shouldDestroyTheChildAndShowTheLogWhenNotReadyInTime(@TempDir Path logDirectory) {
        Set<Long> childrenBefore = childPids();
        EmbeddedRegistryConfig config = EmbeddedRegistryConfig.defaults()
                .withStartTimeout(Duration.ofMillis(300))
                .withLogDirectory(logDirectory);

        PlatformStartException failure = catchThrowableOfType(PlatformStartException.class, () -> EmbeddedRegistry.start(config));

        assertThat(failure).hasMessageMatching("(?s)Apicurio Registry failed to start on http://127\\.0\\.0\\.1:\\d+ \\(pid \\d+\\):"
                + " not ready within PT0\\.3S: /apis/registry/v3/system/info gave .+; log "
                + Pattern.quote(logDirectory.resolve("apicurio-registry.log").toString()) + " ends with:\n.*");
        Matcher pid = Pattern.compile("\\(pid (\\d+)\\)").matcher(failure.getMessage());
        assertThat(pid.find()).isTrue();
        assertThat(ProcessHandle.of(Long.parseLong(pid.group(1))).filter(ProcessHandle::isAlive)).isEmpty();
        assertThat(childPids()).isEqualTo(childrenBefore);
    }

    /**
     * A JVM that holds a registry is killed with SIGKILL, so no shutdown hook runs: the
     * registry's watchdog must still end the registry.
     */
    @Test
    @Timeout(180)
    void shouldKillTheRegistryWhenItsParentJvmIsKilled() throws Exception {
        Process holder = new ProcessBuilder(List.of(
                ProcessHandle.current().info().command().orElseThrow(),
                "-cp", System.getProperty("java.class.path"),
                RegistryHolderMain.class.getName()))
                .redirectErrorStream(true)
                .start();
        try (BufferedReader output = new BufferedReader(new InputStreamReader(holder.getInputStream(), StandardCharsets.UTF_8))) {
            long registryPid = readRegistryPid(output);
            ProcessHandle registry = ProcessHandle.of(registryPid).orElseThrow();
            assertThat(registry.parent().map(ProcessHandle::pid)).hasValue(holder.pid());

            holder.destroyForcibly();

            await().atMost(Duration.ofSeconds(15)).until(() -> !registry.isAlive());
        } finally {
            holder.descendants().forEach(ProcessHandle::destroyForcibly);
            holder.destroyForcibly();
        }
    }

    /**
     * A schema registered before a stop resolves by the same global id after the restart, on the same
     * URL; while stopped, the port refuses connections.
     */
    @Test
    @Timeout(300)
    void shouldServeASchemaByItsGlobalIdAfterAStopAndRestart() throws Exception {
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
        try (EmbeddedRegistry registry = EmbeddedRegistry.start()) {
            String api = registry.url() + "/apis/registry/v3";
            String create = "{\"artifactId\":\"kept-value\",\"artifactType\":\"AVRO\",\"firstVersion\":{\"content\":"
                    + "{\"contentType\":\"application/json\",\"content\":" + quoted(SCHEMA) + "}}}";
            HttpResponse<String> created = http.send(HttpRequest.newBuilder(URI.create(api + "/groups/kept/artifacts"))
                    .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(create)).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(created.statusCode()).as(created.body()).isEqualTo(200);
            Matcher globalId = Pattern.compile("\"globalId\":(\\d+)").matcher(created.body());
            assertThat(globalId.find()).as(created.body()).isTrue();
            URI byGlobalId = URI.create(api + "/ids/globalIds/" + globalId.group(1));

            registry.stop();
            assertThat(registry.isRunning()).isFalse();
            assertThatThrownBy(() -> http.send(HttpRequest.newBuilder(byGlobalId).timeout(Duration.ofSeconds(2)).build(),
                    HttpResponse.BodyHandlers.ofString())).isInstanceOf(ConnectException.class);
            registry.restart();

            HttpResponse<String> fetched = http.send(HttpRequest.newBuilder(byGlobalId).timeout(Duration.ofSeconds(10)).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(fetched.statusCode()).as(fetched.body()).isEqualTo(200);
            assertThat(fetched.body()).isEqualTo(SCHEMA);
        }
    }

    private static final String SCHEMA =
            "{\"type\":\"record\",\"name\":\"Kept\",\"namespace\":\"io.tunestream.test\",\"fields\":[{\"name\":\"text\",\"type\":\"string\"}]}";

    private static String quoted(String json) {
        return "\"" + json.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
    }

    private static long readRegistryPid(BufferedReader output) throws IOException {
        String line;
        StringBuilder seen = new StringBuilder();
        while ((line = output.readLine()) != null) {
            if (line.startsWith(RegistryHolderMain.PID_PREFIX)) {
                return Long.parseLong(line.substring(RegistryHolderMain.PID_PREFIX.length()));
            }
            seen.append(line).append('\n');
        }
        throw new AssertionError("The registry holder ended without starting a registry:\n" + seen);
    }

    private static Set<Long> childPids() {
        return ProcessHandle.current().children().filter(ProcessHandle::isAlive).map(ProcessHandle::pid).collect(Collectors.toSet());
    }
}

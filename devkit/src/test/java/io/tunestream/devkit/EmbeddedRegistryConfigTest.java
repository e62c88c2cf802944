package io.tunestream.devkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;

import org.junit.jupiter.api.Test;

class EmbeddedRegistryConfigTest {

    @Test
    void shouldRejectAHeapSizeTheJvmWouldNotUnderstand() {
        assertThatThrownBy(() -> EmbeddedRegistryConfig.defaults().withMaxHeap("lots"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("maxHeap must be a JVM size such as 256m, was 'lots'");
    }

    @Test
    void shouldRejectANegativePort() {
        assertThatThrownBy(() -> EmbeddedRegistryConfig.defaults().withPort(-1))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("port must be 0 (any free port) or 1..65535, was -1");
    }

    @Test
    void shouldRunTheRunnerJarOnAnH2FileInItsDirectoryOnLoopbackWithTheSameJava() {
        RegistryDistribution distribution = new RegistryDistribution(Path.of("/opt/registry"), Path.of("/opt/registry/app-runner.jar"));
        EmbeddedRegistryConfig config = EmbeddedRegistryConfig.defaults()
                .withMaxHeap("128m")
                .withServerProperty("apicurio.rest.deletion.group.enabled", "false");

        var command = EmbeddedRegistry.serverCommand(distribution, config, 18080, Path.of("/var/registry"));

        assertThat(command.get(0)).isEqualTo(ProcessHandle.current().info().command().orElseThrow());
        assertThat(command).contains("-Xmx128m",
                        "-Dquarkus.http.host=127.0.0.1",
                        "-Dquarkus.http.port=18080",
                        "-Dapicurio.storage.kind=sql",
                        "-Dapicurio.storage.sql.kind=h2",
                        "-Dapicurio.datasource.url=jdbc:h2:file:/var/registry/registry-db/registry",
                        "-Dapicurio.rest.deletion.group.enabled=false")
                .doesNotContain("-Dapicurio.rest.deletion.group.enabled=true")
                .endsWith("-jar", "/opt/registry/app-runner.jar");
    }

    @Test
    void shouldFindTheDistributionThatTheBuildUnpacked() {
        RegistryDistribution distribution = RegistryDistribution.fromBuild();

        assertThat(distribution.home()).isAbsolute().isDirectory();
        assertThat(distribution.runnerJar().getFileName().toString()).isEqualTo("apicurio-registry-app-3.0.9-runner.jar");
        assertThat(distribution.runnerJar()).isRegularFile();
    }
}

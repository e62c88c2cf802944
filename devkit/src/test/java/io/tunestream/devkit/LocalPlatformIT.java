package io.tunestream.devkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Path;
import java.util.Set;
import java.util.stream.Collectors;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The platform as a whole: endpoints while open, nothing left once closed or failed. */
class LocalPlatformIT {

    @Test
    @Timeout(180)
    void shouldStopTheBrokerAndTheRegistryChildWhenClosed() {
        LocalPlatform platform = LocalPlatform.start();
        PlatformEndpoints endpoints = platform.endpoints();
        ProcessHandle registry = ProcessHandle.of(platform.registry().pid()).orElseThrow();
        Path kafkaData = platform.kafka().dataDirectory();
        assertThat(endpoints.bootstrapServers()).isEqualTo(platform.kafka().bootstrapServers());
        assertThat(endpoints.registryUrl()).isEqualTo(platform.registry().url());
        assertThat(endpoints.registryApiUrl()).isEqualTo(platform.registry().url() + "/apis/registry/v3");
        assertThat(registry.parent().map(ProcessHandle::pid)).hasValue(ProcessHandle.current().pid());

        platform.close();

        assertThat(registry.isAlive()).isFalse();
        assertThat(kafkaData).doesNotExist();
        assertThat(accepts(endpoints.bootstrapServers())).isFalse();
    }

    @Test
    @Timeout(60)
    void shouldStopTheBrokerAgainWhenTheRegistryCannotStart(@TempDir Path temp) throws IOException {
        Set<Long> childrenBefore = childPids();
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
            int kafkaPort = LoopbackPorts.pickFree();
            EmbeddedKafkaConfig kafkaConfig = EmbeddedKafkaConfig.defaults().withPort(kafkaPort).withDataDirectory(temp.resolve("kafka"));
            EmbeddedRegistryConfig registryConfig = EmbeddedRegistryConfig.defaults().withPort(taken.getLocalPort());

            assertThatThrownBy(() -> LocalPlatform.start(kafkaConfig, registryConfig))
                    .isInstanceOf(PlatformStartException.class)
                    .hasMessage("Apicurio Registry cannot listen on 127.0.0.1:" + taken.getLocalPort()
                            + ": the port is already in use (choose another port, or 0 for a free one)");
            assertThat(accepts("127.0.0.1:" + kafkaPort)).isFalse();
        }
        assertThat(childPids()).isEqualTo(childrenBefore);
    }

    @Test
    @Timeout(30)
    void shouldReportTheBrokerAndLeaveNoRegistryWhenTheBrokerCannotStart() throws IOException {
        Set<Long> childrenBefore = childPids();
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
            EmbeddedKafkaConfig kafkaConfig = EmbeddedKafkaConfig.defaults().withPort(taken.getLocalPort());

            assertThatThrownBy(() -> LocalPlatform.start(kafkaConfig, EmbeddedRegistryConfig.defaults()))
                    .isInstanceOf(PlatformStartException.class)
                    .hasMessage("Kafka broker cannot listen on 127.0.0.1:" + taken.getLocalPort()
                            + ": the port is already in use (choose another port, or 0 for a free one)");
        }
        assertThat(childPids()).isEqualTo(childrenBefore);
    }

    private static boolean accepts(String hostAndPort) {
        String[] parts = hostAndPort.split(":");
        try (Socket socket = new Socket(parts[0], Integer.parseInt(parts[1]))) {
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private static Set<Long> childPids() {
        return ProcessHandle.current().children().filter(ProcessHandle::isAlive).map(ProcessHandle::pid).collect(Collectors.toSet());
    }
}

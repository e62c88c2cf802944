package io.tunestream.devkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;

import org.junit.jupiter.api.Test;

class LoopbackPortsTest {

    @Test
    void shouldPickABindablePortBelowTheEphemeralRange() throws IOException {
        int port = LoopbackPorts.pickFree();

        assertThat(port).isBetween(20_000, 31_999);
        try (ServerSocket socket = new ServerSocket(port, 1, InetAddress.getByName("127.0.0.1"))) {
            assertThat(socket.getLocalPort()).isEqualTo(port);
        }
    }

    @Test
    void shouldNameTheComponentAndPortWhenThePortIsTaken() throws IOException {
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
            assertThatThrownBy(() -> LoopbackPorts.requireFree(taken.getLocalPort(), "Test server"))
                    .isInstanceOf(PlatformStartException.class)
                    .hasMessage("Test server cannot listen on 127.0.0.1:" + taken.getLocalPort()
                            + ": the port is already in use (choose another port, or 0 for a free one)");
        }
    }
}

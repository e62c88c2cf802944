package io.tunestream.devkit;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;

/** TCP ports on the loopback interface, where every devkit server listens. */
final class LoopbackPorts {
    static final String HOST = "127.0.0.1";

    private LoopbackPorts() {
    }

    /**
     * A port that was free a moment ago. Another process may take it before the caller binds
     * it; the window is short and a clash surfaces as a {@link PlatformStartException}.
     */
    static int pickFree() {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getByName(HOST))) {
            return socket.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException("No free TCP port on " + HOST, e);
        }
    }

    /** {@code requested}, or a free port when it is 0. */
    static int resolve(int requested) {
        return requested == 0 ? pickFree() : requested;
    }

    /**
     * Fails fast, naming the port and who wanted it, when {@code port} is already bound on
     * the loopback interface: the servers themselves report a clash late (the registry only
     * in its log) or vaguely.
     */
    static void requireFree(int port, String component) {
        try (ServerSocket socket = new ServerSocket()) {
            socket.setReuseAddress(true);
            socket.bind(new InetSocketAddress(InetAddress.getByName(HOST), port), 1);
        } catch (IOException e) {
            throw new PlatformStartException(component + " cannot listen on " + HOST + ":" + port
                    + ": the port is already in use (choose another port, or 0 for a free one)", e);
        }
    }

    static void requireValid(int port, String setting) {
        if (port < 0 || port > 65_535) {
            throw new IllegalArgumentException(setting + " must be 0 (any free port) or 1..65535, was " + port);
        }
    }
}

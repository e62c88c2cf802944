package io.tunestream.devkit;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.util.concurrent.ThreadLocalRandom;

/** TCP ports on the loopback interface, where every devkit server listens. */
final class LoopbackPorts {
    static final String HOST = "127.0.0.1";

    private LoopbackPorts() {
    }

    /**
     * Ports drawn from below Linux's ephemeral range (32768-60999): outgoing connections and
     * servers bound to port 0 take theirs from that range, and on a machine running many test
     * JVMs one of them could take a port between our pick and the server's bind.
     */
    private static final int FIRST_CANDIDATE = 20_000;
    private static final int CANDIDATES = 12_000;
    private static final int ATTEMPTS = 50;

    /**
     * A port that was free a moment ago. Another process may take it before the caller binds
     * it; the window is short and a clash surfaces as a {@link PlatformStartException}.
     */
    static int pickFree() {
        for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
            int candidate = FIRST_CANDIDATE + ThreadLocalRandom.current().nextInt(CANDIDATES);
            if (isFree(candidate)) {
                return candidate;
            }
        }
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getByName(HOST))) {
            return socket.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException("No free TCP port on " + HOST, e);
        }
    }

    private static boolean isFree(int port) {
        try (ServerSocket socket = new ServerSocket()) {
            socket.setReuseAddress(true);
            socket.bind(new InetSocketAddress(InetAddress.getByName(HOST), port), 1);
            return true;
        } catch (IOException e) {
            return false;
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

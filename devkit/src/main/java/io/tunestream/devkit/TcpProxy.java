package io.tunestream.devkit;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A TCP proxy on 127.0.0.1 in front of one server, which a test opens and closes to make that server
 * unreachable (connections refused, open connections cut) and reachable again, on the same port.
 */
public final class TcpProxy implements AutoCloseable {

    private final String targetHost;
    private final int targetPort;
    private final int port;
    private final List<Socket> sockets = new CopyOnWriteArrayList<>();
    private ServerSocket server;
    private volatile boolean stalled;

    private TcpProxy(String targetHost, int targetPort, int port) {
        this.targetHost = targetHost;
        this.targetPort = targetPort;
        this.port = port;
    }

    /** A proxy to {@code targetHost:targetPort} on a free port, closed (nothing listens) until {@link #open}. */
    public static TcpProxy closed(String targetHost, int targetPort) {
        try (var probe = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            return new TcpProxy(targetHost, targetPort, probe.getLocalPort());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A proxy to {@code targetUrl}'s host and port ({@code http://host:port}), closed until {@link #open}. */
    public static TcpProxy to(String targetUrl) {
        java.net.URI uri = java.net.URI.create(targetUrl);
        return closed(uri.getHost(), uri.getPort());
    }

    /** {@code http://127.0.0.1:<port>}: the target's URL through this proxy. */
    public String url() {
        return "http://127.0.0.1:" + port();
    }

    public int port() {
        return port;
    }

    /**
     * Accepts connections but never answers (a hung registry): new connections are held open without
     * being forwarded until {@link #shut}.
     */
    public synchronized void stall() {
        stalled = true;
        sockets.forEach(TcpProxy::closeQuietly);
        sockets.clear();
        listen();
    }

    /** Listens and forwards every connection to the target; connections held by {@link #stall} are cut. */
    public synchronized TcpProxy open() {
        if (stalled) {
            stalled = false;
            sockets.forEach(TcpProxy::closeQuietly);
            sockets.clear();
        }
        listen();
        return this;
    }

    private void listen() {
        if (server != null) {
            return;
        }
        try {
            var socket = new ServerSocket();
            socket.setReuseAddress(true);
            socket.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port));
            server = socket;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot listen on 127.0.0.1:" + port, e);
        }
        ServerSocket listening = server;
        daemon("tcp-proxy-" + port, () -> accept(listening));
    }

    /** Stops listening and cuts the open connections: the target is unreachable through this proxy. */
    public synchronized void shut() {
        if (server == null) {
            return;
        }
        closeQuietly(server);
        server = null;
        sockets.forEach(TcpProxy::closeQuietly);
        sockets.clear();
    }

    private void accept(ServerSocket listening) {
        while (!listening.isClosed()) {
            try {
                Socket client = listening.accept();
                sockets.add(client);
                if (stalled) {
                    continue;
                }
                Socket target = new Socket(targetHost, targetPort);
                sockets.add(target);
                pump(client, target);
                pump(target, client);
            } catch (IOException e) {
                // closed by shut(), or the target refused: the client's connection fails
            }
        }
    }

    private void pump(Socket from, Socket to) {
        daemon("tcp-proxy-pump-" + port, () -> {
            byte[] buffer = new byte[16 * 1024];
            try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
                int n;
                while ((n = in.read(buffer)) >= 0) {
                    out.write(buffer, 0, n);
                    out.flush();
                }
            } catch (IOException e) {
                // a side closed: close both
            } finally {
                closeQuietly(from);
                closeQuietly(to);
            }
        });
    }

    private static void daemon(String name, Runnable body) {
        var thread = new Thread(body, name);
        thread.setDaemon(true);
        thread.start();
    }

    private static void closeQuietly(AutoCloseable closeable) {
        try {
            closeable.close();
        } catch (Exception e) {
            // closing a socket that is already gone
        }
    }

    @Override
    public void close() {
        shut();
    }
}

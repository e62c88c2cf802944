package io.tunestream.devkit;

/**
 * A local platform component (the Kafka broker or the Apicurio Registry) could not start.
 * The message names the component, its address and the cause; nothing the failed start
 * created (threads, child processes, temporary directories) is left running.
 */
public class PlatformStartException extends RuntimeException {
    public PlatformStartException(String message) {
        super(message);
    }

    public PlatformStartException(String message, Throwable cause) {
        super(message, cause);
    }
}

package io.tunestream.schemas.registry;

/**
 * The registry could not be reached (connection refused, timeout, 5xx, throttled) while a
 * record's schema had to be fetched. Transient: the record is fine; wait and decode it again.
 */
public final class RegistryUnavailableException extends RuntimeException {

    public RegistryUnavailableException(String message, Throwable cause) {
        super(message, cause);
    }
}

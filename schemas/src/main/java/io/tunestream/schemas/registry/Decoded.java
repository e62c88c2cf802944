package io.tunestream.schemas.registry;

import java.util.Objects;

/**
 * What decoding one record value gave: the record, or the reason it can never be read.
 * A registry that cannot be reached is neither: {@link RecordDecoder#decode} throws
 * {@link RegistryUnavailableException} for it, so the caller waits and tries again.
 *
 * @param <T> the generated record class
 */
public sealed interface Decoded<T> {

    /** @param value the record; {@code null} for a tombstone (a record without a value) */
    record Value<T>(T value) implements Decoded<T> {
    }

    /**
     * The bytes can never be read as a {@code T}, whatever the registry's state: no Apicurio header,
     * a schema id the reachable registry does not know, a record of another type, or bytes that are not
     * the Avro of their schema. Such a record is dead-lettered with {@code reason}.
     *
     * @param reason what is wrong with the bytes, for the dead-letter headers and the log
     * @param cause  the exception that showed it
     */
    record Poison<T>(String reason, Exception cause) implements Decoded<T> {
        public Poison {
            Objects.requireNonNull(reason, "reason");
            Objects.requireNonNull(cause, "cause");
        }
    }
}

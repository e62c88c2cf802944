package io.tunestream.trainer.loop;

import java.nio.charset.StandardCharsets;
import java.util.OptionalInt;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.Headers;

/**
 * The adapter version in a header of every adapter and checkpoint record the trainer publishes, so
 * that the version is known even when the value cannot be decoded (a poison record): the trainer
 * then still publishes above it and never reuses a version number.
 */
public final class VersionHeader {

    public static final String NAME = "tunestream.adapter.version";

    private VersionHeader() {
    }

    public static void add(Headers headers, int version) {
        headers.add(NAME, Integer.toString(version).getBytes(StandardCharsets.UTF_8));
    }

    /** The version in {@code headers}, if there is a readable one. */
    public static OptionalInt read(Headers headers) {
        Header header = headers.lastHeader(NAME);
        if (header == null || header.value() == null) {
            return OptionalInt.empty();
        }
        try {
            return OptionalInt.of(Integer.parseInt(new String(header.value(), StandardCharsets.UTF_8)));
        } catch (NumberFormatException e) {
            return OptionalInt.empty();
        }
    }
}

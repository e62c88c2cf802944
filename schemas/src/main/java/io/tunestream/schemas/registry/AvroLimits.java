package io.tunestream.schemas.registry;

import io.tunestream.schemas.Topics;
import java.util.List;

/**
 * Avro's decoding limits, bounded by the largest record a topic can hold.
 *
 * <p>Avro allocates a string, bytes or array at the length its input declares, before reading
 * it: left at Avro's default (2 GiB), a 7-byte record declaring a 1 GiB string makes the reader
 * allocate 1 GiB (found by fuzzing the adapter check). No field of a record can be longer than the
 * record, and no record longer than {@link Topics#LARGE_MESSAGE_BYTES}, so that is the limit; a
 * longer declared length fails as Avro's {@code SystemLimitException}, which the serdes report as
 * a bad record.
 *
 * <p>Avro reads these limits from system properties once, when it first checks one, so they are
 * set before any decoding: the serdes of this project call {@link #install()} when their class
 * loads. A limit already set (e.g. with {@code -D}) is kept.
 */
public final class AvroLimits {

    /** Avro's properties for the longest string, bytes and block of array or map items. */
    static final List<String> PROPERTIES = List.of("org.apache.avro.limits.string.maxLength",
            "org.apache.avro.limits.bytes.maxLength", "org.apache.avro.limits.collectionItems.maxLength");

    private AvroLimits() {
    }

    /** Sets every limit not already set to {@link Topics#LARGE_MESSAGE_BYTES}. */
    public static void install() {
        for (String property : PROPERTIES) {
            if (System.getProperty(property) == null) {
                System.setProperty(property, Integer.toString(Topics.LARGE_MESSAGE_BYTES));
            }
        }
    }
}

package io.tunestream.schemas.registry;

import io.tunestream.schemas.Topics;
import java.lang.reflect.Method;
import java.util.List;
import org.apache.avro.SystemLimitException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

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
 * <p>Avro reads these limits from system properties once, when it first checks one (creating a
 * {@code Utf8} is enough), and keeps them: {@link #install()} sets the properties and makes Avro
 * read them again. The serdes of this project call it when their class loads, so the limits hold
 * from their first record on. A limit already set (e.g. with {@code -D}) is kept.
 */
public final class AvroLimits {

    private static final Logger LOG = LoggerFactory.getLogger(AvroLimits.class);

    /** Avro's properties for the longest string, bytes and block of array or map items. */
    static final List<String> PROPERTIES = List.of("org.apache.avro.limits.string.maxLength",
            "org.apache.avro.limits.bytes.maxLength", "org.apache.avro.limits.collectionItems.maxLength");

    private AvroLimits() {
    }

    /** Sets every limit not already set to {@link Topics#LARGE_MESSAGE_BYTES}, and has Avro apply them. */
    public static synchronized void install() {
        for (String property : PROPERTIES) {
            if (System.getProperty(property) == null) {
                System.setProperty(property, Integer.toString(Topics.LARGE_MESSAGE_BYTES));
            }
        }
        try {
            // package-private in Avro 1.11.3+: re-reads the properties (Avro's own tests use it)
            Method reset = SystemLimitException.class.getDeclaredMethod("resetLimits");
            reset.setAccessible(true);
            reset.invoke(null);
        } catch (ReflectiveOperationException | RuntimeException e) {
            LOG.warn("Avro's decoding limits could not be re-read ({}); they hold only if set before Avro's first "
                    + "length check, e.g. with -D{}={}", e, PROPERTIES.get(0), Topics.LARGE_MESSAGE_BYTES);
        }
    }
}

package io.tunestream.trainer.state;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.function.Function;

/**
 * Deterministic hold-out of TRAIN examples for validation, for tasks without VALIDATION examples:
 * an example is held out when the SHA-256 of its id, read as a number in [0, 1), is below the
 * task's {@code validationFraction}. The choice depends on the id only, so an example stays on the
 * same side as the task grows, and every trainer makes the same split.
 *
 * <p>A small task can end up with nothing held out; then (fraction above 0, at least two
 * examples) the example with the lowest hash is held out, so a validation loss always exists.
 */
public final class ValidationHoldout {

    private ValidationHoldout() {
    }

    /** The training and validation parts of {@code examples}, each in the input order. */
    public record Split<E>(List<E> train, List<E> validation) {
        public Split {
            train = List.copyOf(train);
            validation = List.copyOf(validation);
        }
    }

    /** Where the id falls in [0, 1): the first 53 bits of its SHA-256. */
    public static double position(String exampleId) {
        MessageDigest sha;
        try {
            sha = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JVM has no SHA-256", e);
        }
        long bits = ByteBuffer.wrap(sha.digest(exampleId.getBytes(StandardCharsets.UTF_8))).getLong() >>> 11;
        return bits / (double) (1L << 53);
    }

    /** Splits {@code examples} by the position of {@code id(example)} against {@code fraction}. */
    public static <E> Split<E> split(List<E> examples, Function<E, String> id, double fraction) {
        if (!(fraction >= 0 && fraction < 1)) {
            throw new IllegalArgumentException("validationFraction must be in [0, 1), got " + fraction);
        }
        List<E> train = new ArrayList<>();
        List<E> validation = new ArrayList<>();
        for (E e : examples) {
            (position(id.apply(e)) < fraction ? validation : train).add(e);
        }
        if (validation.isEmpty() && fraction > 0 && train.size() >= 2) {
            E lowest = train.stream().min(Comparator.comparingDouble(e -> position(id.apply(e)))).orElseThrow();
            train.remove(lowest);
            validation.add(lowest);
        }
        return new Split<>(train, validation);
    }
}

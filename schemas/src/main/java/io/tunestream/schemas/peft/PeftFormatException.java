package io.tunestream.schemas.peft;

import java.util.Objects;

/**
 * A PEFT adapter directory (or its two files) that cannot be imported: malformed, of a type or dtype we do not
 * read, or not fitting the model. {@link #reason()} is a short tag for metrics and API answers ({@code config},
 * {@code safetensors}, {@code dtype}, {@code peft_type}, {@code shape}, {@code model}, {@code non_finite},
 * {@code size}, {@code template}, {@code archive}: a zip of the two files that cannot be read); the message says what and where, for the user.
 */
public final class PeftFormatException extends RuntimeException {

    private final String reason;

    public PeftFormatException(String reason, String message) {
        super(message);
        this.reason = Objects.requireNonNull(reason, "reason");
    }

    public PeftFormatException(String reason, String message, Throwable cause) {
        super(message, cause);
        this.reason = Objects.requireNonNull(reason, "reason");
    }

    /** The tag: {@code config}, {@code safetensors}, {@code dtype}, {@code peft_type}, {@code shape}, … */
    public String reason() {
        return reason;
    }
}

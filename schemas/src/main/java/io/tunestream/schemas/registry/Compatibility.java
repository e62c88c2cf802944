package io.tunestream.schemas.registry;

/**
 * The registry's compatibility levels (rule type {@code COMPATIBILITY}). Tunestream uses
 * {@link #BACKWARD}: a new schema must read everything written with the previous one, so
 * consumers can be upgraded before producers.
 */
public enum Compatibility {
    BACKWARD, BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE, NONE
}

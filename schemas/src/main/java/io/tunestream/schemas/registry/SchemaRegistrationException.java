package io.tunestream.schemas.registry;

/**
 * The registry refused a schema (e.g. a compatibility rule violation) or could not be reached.
 * The message names the artifact and carries the registry's own explanation.
 */
public class SchemaRegistrationException extends RuntimeException {

    private final String artifactId;
    private final int status;

    public SchemaRegistrationException(String artifactId, int status, String message, Throwable cause) {
        super(message, cause);
        this.artifactId = artifactId;
        this.status = status;
    }

    /** The artifact concerned. */
    public String artifactId() {
        return artifactId;
    }

    /** HTTP status of the registry's answer; 0 when there was none. */
    public int status() {
        return status;
    }

    /** Whether the registry refused the schema because a rule (compatibility, validity) failed. */
    public boolean isRuleViolation() {
        return status == 409;
    }
}

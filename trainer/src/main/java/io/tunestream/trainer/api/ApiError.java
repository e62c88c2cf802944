package io.tunestream.trainer.api;

import java.util.Objects;

/**
 * An API request that failed, as the caller gets it: an HTTP status and a JSON body with the reason (and the task,
 * and the replica that owns it when another one does).
 */
public final class ApiError extends RuntimeException {

    /** The JSON body of an error answer. */
    public record Body(String reason, String kind, String task, String owner) {
    }

    private final int status;
    private final Body body;

    public ApiError(int status, String kind, String task, String owner, String reason) {
        super(Objects.requireNonNull(reason, "reason"));
        this.status = status;
        this.body = new Body(reason, kind, task, owner);
    }

    public ApiError(int status, String kind, String task, String reason) {
        this(status, kind, task, null, reason);
    }

    public int status() {
        return status;
    }

    public Body body() {
        return body;
    }
}

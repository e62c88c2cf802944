package io.tunestream.trainer.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.Objects;

/**
 * An API request that failed, as the caller gets it: an HTTP status and a JSON body with the reason (and the task,
 * and the replica that owns it when another one does).
 */
public final class ApiError extends RuntimeException {

    /**
     * The JSON body of an error answer.
     *
     * @param peftReason for a refused PEFT import, the tag of its reason ({@code model}, {@code safetensors}, …;
     *                   {@code PeftFormatException.reason()}); left out otherwise
     */
    public record Body(String reason, String kind, String task, String owner,
                       @JsonInclude(JsonInclude.Include.NON_NULL) String peftReason) {

        public Body(String reason, String kind, String task, String owner) {
            this(reason, kind, task, owner, null);
        }
    }

    private final int status;
    private final Body body;

    public ApiError(int status, String kind, String task, String owner, String reason) {
        super(Objects.requireNonNull(reason, "reason"));
        this.status = status;
        this.body = new Body(reason, kind, task, owner);
    }

    private ApiError(int status, Body body) {
        super(body.reason());
        this.status = status;
        this.body = body;
    }

    /** A refused PEFT import: 400 INVALID with the reason's tag. */
    public static ApiError invalidPeft(String task, String peftReason, String reason) {
        return new ApiError(400, new Body(Objects.requireNonNull(reason, "reason"), "INVALID", task, null,
                Objects.requireNonNull(peftReason, "peftReason")));
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

package io.tunestream.serving.batch;

import io.tunestream.schemas.AdapterVersion;
import io.tunestream.schemas.InferenceRequest;
import io.tunestream.schemas.TaskTemplate;
import java.util.Objects;
import java.util.Optional;

/**
 * One validated request of a batch, joined with its task's template and the adapter to apply.
 *
 * @param request  the request, already validated against its template
 * @param template the task's template at the time the batch runs
 * @param adapter  the adapter version to apply; empty means the plain base model (the template allows it)
 */
public record BatchItem(InferenceRequest request, TaskTemplate template, Optional<AdapterVersion> adapter) {
    public BatchItem {
        Objects.requireNonNull(request, "request");
        Objects.requireNonNull(template, "template");
        Objects.requireNonNull(adapter, "adapter");
    }

    public String requestId() {
        return request.getRequestId();
    }

    public String task() {
        return request.getTask();
    }
}

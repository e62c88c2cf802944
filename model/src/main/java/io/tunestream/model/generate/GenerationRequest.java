package io.tunestream.model.generate;

import io.tunestream.model.prompt.TaskTemplate;
import io.tunestream.model.prompt.VirtualTokenTable;

import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * One row of a batch.
 *
 * @param id               the caller's id, echoed in the result
 * @param template         the task's template; it must have an answer field (the part generated)
 * @param fields           the request's fields (the answer field, if given, is ignored)
 * @param virtualTokens    the task's adapter; required when the template has virtual tokens unless
 *                         {@code allowPlainPrompt}
 * @param options          decoding options
 * @param allowPlainPrompt with no adapter, run the template without its virtual tokens instead of failing
 */
public record GenerationRequest(String id, TaskTemplate template, Map<String, String> fields,
                                Optional<VirtualTokenTable> virtualTokens, GenerationOptions options,
                                boolean allowPlainPrompt) {

    public GenerationRequest {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(template, "template");
        fields = Map.copyOf(fields);
        Objects.requireNonNull(virtualTokens, "virtualTokens");
        Objects.requireNonNull(options, "options");
    }
}

package io.tunestream.model.generate;

import io.tunestream.model.prompt.DeepPromptTable;
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
 * @param deepPrompt       the task's deep prompt (prefix tuning), placed at the start of the row's KV cache;
 *                         with one and no {@code virtualTokens}, the template's virtual-token slots are left
 *                         out (the prefix takes their place)
 */
public record GenerationRequest(String id, TaskTemplate template, Map<String, String> fields,
                                Optional<VirtualTokenTable> virtualTokens, GenerationOptions options,
                                boolean allowPlainPrompt, Optional<DeepPromptTable> deepPrompt) {

    /** A request without a deep prompt. */
    public GenerationRequest(String id, TaskTemplate template, Map<String, String> fields,
                             Optional<VirtualTokenTable> virtualTokens, GenerationOptions options,
                             boolean allowPlainPrompt) {
        this(id, template, fields, virtualTokens, options, allowPlainPrompt, Optional.empty());
    }

    public GenerationRequest {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(template, "template");
        fields = Map.copyOf(fields);
        Objects.requireNonNull(virtualTokens, "virtualTokens");
        Objects.requireNonNull(options, "options");
        Objects.requireNonNull(deepPrompt, "deepPrompt");
    }
}

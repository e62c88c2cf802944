package io.tunestream.serving.topology;

import io.tunestream.schemas.AnswerError;
import io.tunestream.schemas.ErrorKind;
import io.tunestream.schemas.GenerationOptions;
import io.tunestream.schemas.InferenceRequest;
import io.tunestream.schemas.RequestLimits;
import io.tunestream.schemas.TaskTemplate;
import io.tunestream.serving.batch.ServingModelInfo;
import java.util.Optional;

/**
 * Semantic checks of a request that arrives, before it waits for a batch: ids, the size limits of
 * {@link RequestLimits}, task, the template's fields, generation options and length limits. What fails here gets an error answer
 * at once; the adapter is resolved later, when the batch runs.
 */
final class RequestValidator {

    private final ServingModelInfo model;
    private final int maxPromptChars;

    RequestValidator(ServingModelInfo model, int maxPromptChars) {
        this.model = model;
        this.maxPromptChars = maxPromptChars;
    }

    /**
     * Empty when the request can be batched.
     *
     * @param key      the record key (should be the request id)
     * @param template the task's template, empty when the task is unknown
     */
    Optional<AnswerError> check(String key, InferenceRequest request, Optional<TaskTemplate> template) {
        String id = request.getRequestId();
        if (id == null || id.isBlank()) {
            return invalid("request with key '" + key + "': requestId is empty");
        }
        if (key != null && !key.equals(id)) {
            return invalid("request " + RequestLimits.abbreviate(id, 64) + ": record key '"
                    + RequestLimits.abbreviate(key, 64) + "' differs from requestId");
        }
        Optional<String> tooBig = RequestLimits.check(request);
        if (tooBig.isPresent()) {
            return invalid(tooBig.get());
        }
        if (request.getTask() == null || request.getTask().isBlank()) {
            return invalid("request " + id + ": task is empty");
        }
        String where = "request " + id + ", task " + request.getTask();
        if (template.isEmpty()) {
            return error(ErrorKind.UNKNOWN_TASK, where + ": unknown task (no template on the task-templates topic)");
        }
        TaskTemplate t = template.get();
        for (String field : t.getPromptTemplateFields()) {
            if (field.equals(t.getAnswerField())) {
                continue;
            }
            String value = request.getFields().get(field);
            if (value == null) {
                return invalid(where + ": missing field '" + field + "'");
            }
        }
        Optional<AnswerError> options = checkOptions(where, request.getOptions());
        if (options.isPresent()) {
            return options;
        }
        int maxSeq = Math.min(t.getMaxSeqLength(), model.maxPositions());
        // long: maxNewTokens near Integer.MAX_VALUE wrapped the sum negative and passed the check
        long reserved = (long) request.getOptions().getMaxNewTokens() + t.getTotalVirtualTokens();
        if (reserved >= maxSeq) {
            return error(ErrorKind.PROMPT_TOO_LONG, where + ": options.maxNewTokens " + request.getOptions().getMaxNewTokens()
                    + " plus " + t.getTotalVirtualTokens() + " virtual tokens leave no room for the prompt in "
                    + maxSeq + " positions (min of the task's maxSeqLength and the model's positions)");
        }
        long chars = request.getFields().values().stream().mapToLong(v -> v == null ? 0 : v.length()).sum();
        if (chars > maxPromptChars) {
            return error(ErrorKind.PROMPT_TOO_LONG, where + ": fields hold " + chars
                    + " characters, more than the serving limit of " + maxPromptChars);
        }
        return Optional.empty();
    }

    private static Optional<AnswerError> checkOptions(String where, GenerationOptions o) {
        if (o.getMaxNewTokens() < 1) {
            return invalid(where + ": options.maxNewTokens must be >= 1, was " + o.getMaxNewTokens());
        }
        if (o.getMinNewTokens() < 0 || o.getMinNewTokens() > o.getMaxNewTokens()) {
            return invalid(where + ": options.minNewTokens must be between 0 and maxNewTokens "
                    + o.getMaxNewTokens() + ", was " + o.getMinNewTokens());
        }
        if (!(o.getTemperature() >= 0f) || Float.isInfinite(o.getTemperature())) {
            return invalid(where + ": options.temperature must be a finite number >= 0, was " + o.getTemperature());
        }
        if (o.getTopK() < 0) {
            return invalid(where + ": options.topK must be >= 0, was " + o.getTopK());
        }
        if (!(o.getTopP() > 0f && o.getTopP() <= 1f)) {
            return invalid(where + ": options.topP must be in (0, 1], was " + o.getTopP());
        }
        if (!(o.getRepetitionPenalty() > 0f) || Float.isInfinite(o.getRepetitionPenalty())) {
            return invalid(where + ": options.repetitionPenalty must be a finite number > 0, was "
                    + o.getRepetitionPenalty());
        }
        return Optional.empty();
    }

    private static Optional<AnswerError> invalid(String message) {
        return error(ErrorKind.INVALID_REQUEST, message);
    }

    private static Optional<AnswerError> error(ErrorKind kind, String message) {
        return Optional.of(new AnswerError(kind, message));
    }
}

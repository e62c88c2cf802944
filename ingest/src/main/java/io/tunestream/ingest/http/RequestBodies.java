package io.tunestream.ingest.http;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.tunestream.ingest.jsonl.TaskFields;
import io.tunestream.ingest.requests.OptionsMixin;
import io.tunestream.ingest.template.TemplateCatalog;
import io.tunestream.schemas.Feedback;
import io.tunestream.schemas.GenerationOptions;
import io.tunestream.schemas.InferenceRequest;
import io.tunestream.schemas.RequestLimits;
import io.tunestream.schemas.Verdict;
import java.time.Clock;
import java.time.Duration;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.function.Supplier;

/**
 * The JSON bodies of {@code POST /ask} and {@code POST /feedback}, read and checked without
 * touching Kafka: either the record to send or the client's error (an HTTP status and why).
 * Malformed JSON is a {@link JsonProcessingException}, which the server answers with 400.
 */
final class RequestBodies {

    private static final ObjectMapper JSON = new ObjectMapper();
    /** The longest an {@code /ask} may wait for its answer: an hour. */
    static final long MAX_TIMEOUT_SECONDS = 3600;
    private static final Set<String> ASK_KEYS = Set.of("request_id", "options", "adapter_version", "timeout_seconds");

    /** A checked body: {@code value}, or {@code status} and {@code error} when the client must fix it. */
    record Parsed<T>(T value, int status, String error) {
        static <T> Parsed<T> ok(T value) {
            return new Parsed<>(value, 200, null);
        }

        static <T> Parsed<T> rejected(int status, String error) {
            return new Parsed<>(null, status, error);
        }

        boolean ok() {
            return error == null;
        }
    }

    /** What {@code /ask} sends and how long it waits for the answer. */
    record Ask(InferenceRequest request, Duration answerWait) {
    }

    private RequestBodies() {
    }

    /**
     * The request of an {@code /ask} body.
     *
     * @param templates   read only once the body is a JSON object
     * @param defaultWait the wait when the body gives no {@code timeout_seconds}
     */
    static Parsed<Ask> ask(String body, Supplier<TemplateCatalog> templates, Clock clock, Duration defaultWait)
            throws JsonProcessingException {
        JsonNode json = JSON.readTree(body);
        if (!(json instanceof ObjectNode)) {
            return Parsed.rejected(400, "body must be a JSON object");
        }
        TaskFields.Result checked = new TaskFields(templates.get(), false, ASK_KEYS).check(json, null);
        if (!checked.ok()) {
            return Parsed.rejected(422, checked.problem());
        }
        GenerationOptions options;
        try {
            options = json.has("options") ? OptionsMixin.fromJson(json.get("options"),
                    GenerationOptions.newBuilder().build()) : GenerationOptions.newBuilder().build();
        } catch (IllegalArgumentException e) {
            return Parsed.rejected(422, e.getMessage());
        }
        String id = json.hasNonNull("request_id") ? json.get("request_id").asText() : UUID.randomUUID().toString();
        Duration wait = defaultWait;
        if (json.has("timeout_seconds")) {
            // asLong() made an object or a string 0 s, and a negative or huge value is no deadline either
            JsonNode seconds = json.get("timeout_seconds");
            if (!seconds.isIntegralNumber() || !seconds.canConvertToLong() || seconds.longValue() < 1
                    || seconds.longValue() > MAX_TIMEOUT_SECONDS) {
                return Parsed.rejected(422, "timeout_seconds must be a whole number from 1 to " + MAX_TIMEOUT_SECONDS
                        + ", was " + seconds);
            }
            wait = Duration.ofSeconds(seconds.longValue());
        }
        InferenceRequest request = InferenceRequest.newBuilder().setRequestId(id)
                .setTask(checked.checked().template().getTask()).setFields(checked.checked().fields())
                .setOptions(options)
                .setAdapterVersion(json.hasNonNull("adapter_version") ? json.get("adapter_version").asInt() : null)
                .setCreatedAtMillis(clock.millis()).build();
        Optional<String> tooBig = RequestLimits.check(request);
        if (tooBig.isPresent()) {
            return Parsed.rejected(422, tooBig.get());
        }
        return Parsed.ok(new Ask(request, wait));
    }

    /**
     * The feedback of a {@code /feedback} body.
     *
     * @param templates read only once the body names a request and a task
     */
    static Parsed<Feedback> feedback(String body, Supplier<TemplateCatalog> templates, Clock clock)
            throws JsonProcessingException {
        JsonNode json = JSON.readTree(body);
        String requestId = json.path("request_id").asText("");
        String task = json.path("taskname").asText("");
        if (requestId.isEmpty() || task.isEmpty()) {
            return Parsed.rejected(422, "request_id and taskname are required");
        }
        TemplateCatalog catalog = templates.get();
        if (catalog.find(task).isEmpty()) {
            return Parsed.rejected(422, "unknown task '" + task + "' (known tasks: " + catalog.knownTasks() + ")");
        }
        Verdict verdict;
        try {
            verdict = Verdict.valueOf(json.path("verdict").asText(""));
        } catch (IllegalArgumentException e) {
            return Parsed.rejected(422, "verdict must be one of ACCEPTED, REJECTED, CORRECTED, was "
                    + json.path("verdict"));
        }
        if (verdict == Verdict.CORRECTED && !json.hasNonNull("correction")) {
            return Parsed.rejected(422, "verdict CORRECTED needs a correction");
        }
        Map<String, String> fields = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = json.path("fields").fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> field = it.next();
            fields.put(field.getKey(), field.getValue().asText());
        }
        if (!fields.isEmpty()) {
            TaskFields.Result checked = new TaskFields(catalog, false, Set.of()).check(task, fields);
            if (!checked.ok()) {
                return Parsed.rejected(422, checked.problem());
            }
        }
        Feedback feedback = Feedback.newBuilder().setRequestId(requestId).setTask(task).setVerdict(verdict)
                .setCorrection(verdict == Verdict.CORRECTED ? json.get("correction").asText() : null)
                .setFields(fields)
                .setAnswerText(json.hasNonNull("answer_text") ? json.get("answer_text").asText() : null)
                // as the CLI's --adapter-version: which adapter produced the answer judged
                .setAdapterVersion(json.hasNonNull("adapter_version") ? json.get("adapter_version").asInt() : null)
                .setComment(json.path("comment").asText(""))
                .setCreatedAtMillis(clock.millis()).build();
        Optional<String> tooBig = RequestLimits.check(feedback);
        if (tooBig.isPresent()) {
            return Parsed.rejected(422, tooBig.get());
        }
        return Parsed.ok(feedback);
    }
}

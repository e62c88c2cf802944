package io.tunestream.ingest.http;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.tunestream.ingest.feedback.FeedbackIngestion;
import io.tunestream.ingest.jsonl.TaskFields;
import io.tunestream.ingest.requests.AskIngestion;
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
import java.util.Set;
import java.util.function.Supplier;

/**
 * The JSON bodies of {@code POST /ask} and {@code POST /feedback}, read and checked without
 * touching Kafka: either the record to send or the client's error (an HTTP status and why).
 * Malformed JSON, and JSON deeper than {@link #MAX_JSON_DEPTH} or with a string longer than
 * {@link #MAX_JSON_STRING_CHARS}, is a {@link JsonProcessingException}, which the server answers
 * with 400. The checks themselves are {@link AskIngestion}'s and {@link FeedbackIngestion}'s, as
 * for the CLI.
 */
final class RequestBodies {

    /**
     * Deepest nesting of a body: the deepest valid ask is 3 (ask → options → stop), a template 5
     * (model → task_templates → entry → tuning → value).
     */
    static final int MAX_JSON_DEPTH = 16;
    /** Longest JSON string: the most every field value of a request may hold together. */
    static final int MAX_JSON_STRING_CHARS = RequestLimits.MAX_FIELD_VALUES_CHARS;
    /** Longest JSON number, in digits. */
    static final int MAX_JSON_NUMBER_CHARS = 64;

    /** The limits above, for every body the server parses (JSON, JSONL lines, YAML templates). */
    static final StreamReadConstraints LIMITS = StreamReadConstraints.builder()
            .maxNestingDepth(MAX_JSON_DEPTH)
            .maxStringLength(MAX_JSON_STRING_CHARS)
            .maxNumberLength(MAX_JSON_NUMBER_CHARS)
            .build();
    /** A mapper that refuses bodies beyond the limits above while parsing (a 400, before any allocation of them). */
    static final ObjectMapper JSON = new ObjectMapper(JsonFactory.builder().streamReadConstraints(LIMITS).build());
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

    /** {@link #ask(String, Supplier, Clock, Duration, Duration)} with {@code defaultWait} also the longest wait. */
    static Parsed<Ask> ask(String body, Supplier<TemplateCatalog> templates, Clock clock, Duration defaultWait)
            throws JsonProcessingException {
        return ask(body, templates, clock, defaultWait, defaultWait);
    }

    /**
     * The request of an {@code /ask} body.
     *
     * @param templates   read only once the body is a JSON object
     * @param defaultWait the wait when the body gives no {@code timeout_seconds}
     * @param maxWait     the longest {@code timeout_seconds} accepted (a longer one is a 400)
     */
    static Parsed<Ask> ask(String body, Supplier<TemplateCatalog> templates, Clock clock, Duration defaultWait,
                           Duration maxWait) throws JsonProcessingException {
        JsonNode json = JSON.readTree(body);
        if (!(json instanceof ObjectNode)) {
            return Parsed.rejected(400, "body must be a JSON object");
        }
        Duration wait = defaultWait;
        JsonNode timeout = json.get("timeout_seconds");
        if (timeout != null && !timeout.isNull()) {
            if (!timeout.isIntegralNumber() || !timeout.canConvertToLong() || timeout.asLong() < 1
                    || timeout.asLong() > maxWait.toSeconds()) {
                return Parsed.rejected(400, "timeout_seconds must be a whole number of seconds from 1 to "
                        + maxWait.toSeconds() + ", was " + timeout);
            }
            wait = Duration.ofSeconds(timeout.asLong());
        }
        JsonNode requestId = json.get("request_id");
        if (requestId != null && !requestId.isNull() && !requestId.isTextual()) {
            return Parsed.rejected(422, "request_id must be a string, was " + requestId);
        }
        JsonNode adapterVersion = json.get("adapter_version");
        if (adapterVersion != null && !adapterVersion.isNull() && !(adapterVersion.isIntegralNumber() && adapterVersion.canConvertToInt())) {
            return Parsed.rejected(422, "adapter_version must be an integer, was " + adapterVersion);
        }
        GenerationOptions options;
        try {
            options = json.has("options") ? OptionsMixin.fromJson(json.get("options"),
                    GenerationOptions.newBuilder().build()) : GenerationOptions.newBuilder().build();
        } catch (IllegalArgumentException e) {
            return Parsed.rejected(422, e.getMessage());
        }
        AskIngestion.Checked checked = AskIngestion.check(
                new TaskFields(templates.get(), false, ASK_KEYS).check(json, null), options,
                requestId == null || requestId.isNull() ? null : requestId.asText(),
                adapterVersion == null || adapterVersion.isNull() ? null : adapterVersion.asInt(), clock.millis());
        if (!checked.ok()) {
            return Parsed.rejected(422, checked.problem());
        }
        return Parsed.ok(new Ask(checked.request(), wait));
    }

    /**
     * The feedback of a {@code /feedback} body.
     *
     * @param templates read only once the body names a request and a task
     */
    static Parsed<Feedback> feedback(String body, Supplier<TemplateCatalog> templates, Clock clock)
            throws JsonProcessingException {
        JsonNode json = JSON.readTree(body);
        if (!(json instanceof ObjectNode)) {
            return Parsed.rejected(400, "body must be a JSON object");
        }
        String requestId = json.path("request_id").asText("");
        String task = json.path("taskname").asText("");
        if (requestId.isEmpty() || task.isEmpty()) {
            return Parsed.rejected(422, "request_id and taskname are required");
        }
        Verdict verdict;
        try {
            verdict = Verdict.valueOf(json.path("verdict").asText(""));
        } catch (IllegalArgumentException e) {
            return Parsed.rejected(422, "verdict must be one of ACCEPTED, REJECTED, CORRECTED, was "
                    + json.path("verdict"));
        }
        JsonNode adapterVersion = json.get("adapter_version");
        if (adapterVersion != null && !adapterVersion.isNull() && !(adapterVersion.isIntegralNumber() && adapterVersion.canConvertToInt())) {
            return Parsed.rejected(422, "adapter_version must be an integer, was " + adapterVersion);
        }
        Map<String, String> fields = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = json.path("fields").fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> field = it.next();
            fields.put(field.getKey(), field.getValue().asText());
        }
        FeedbackIngestion.Checked checked = FeedbackIngestion.check(templates.get(), new FeedbackIngestion.Judgement(
                requestId, task, verdict, json.hasNonNull("correction") ? json.get("correction").asText() : null,
                fields, json.hasNonNull("answer_text") ? json.get("answer_text").asText() : null,
                // as the CLI's --adapter-version: which adapter produced the answer judged
                adapterVersion == null || adapterVersion.isNull() ? null : adapterVersion.asInt(),
                json.path("comment").asText("")), clock.millis());
        if (!checked.ok()) {
            return Parsed.rejected(422, checked.problem());
        }
        return Parsed.ok(checked.feedback());
    }
}

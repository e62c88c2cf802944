package io.tunestream.schemas;

import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The size limits of what senders put on the {@code requests} and {@code feedback} topics: one rule,
 * checked at the edge (the ingest CLI and HTTP server before sending) and by the serving app before a
 * request is batched. They keep every record, and every answer and error message that repeats its
 * id, task or stop strings, far below Kafka's default 1 MiB record limit.
 *
 * <p>Lengths are in UTF-16 chars ({@link String#length()}), which bounds the UTF-8 bytes at 3 per char.
 * A request id (the record key) longer than {@link #MAX_REQUEST_ID_CHARS} cannot be answered: the
 * serving app dead-letters it with the reason instead (an answer repeats the id as key and field).
 */
public final class RequestLimits {

    /** Longest request id, which is also the record key of the request, its answer and its feedback. */
    public static final int MAX_REQUEST_ID_CHARS = 256;
    /** Longest task name. */
    public static final int MAX_TASK_CHARS = 128;
    /** Most fields in one request or feedback. */
    public static final int MAX_FIELDS = 64;
    /** Longest field name. */
    public static final int MAX_FIELD_NAME_CHARS = 128;
    /** Most characters of all field values of one request or feedback together. */
    public static final int MAX_FIELD_VALUES_CHARS = 256 * 1024;
    /** Most stop strings in a request's options. */
    public static final int MAX_STOP_STRINGS = 16;
    /** Longest stop string. */
    public static final int MAX_STOP_STRING_CHARS = 64;
    /** Longest free text of a feedback: its correction, the judged answer and the comment, each. */
    public static final int MAX_FEEDBACK_TEXT_CHARS = 64 * 1024;

    private RequestLimits() {
    }

    /**
     * The first limit {@code request} breaks, as a message naming the request, the field and both sizes;
     * empty when it is within every limit. Null ids, tasks and maps count as empty (other checks refuse them).
     */
    public static Optional<String> check(InferenceRequest request) {
        String id = request.getRequestId();
        Optional<String> idProblem = checkRequestId(id);
        if (idProblem.isPresent()) {
            return idProblem;
        }
        String where = "request " + id;
        Optional<String> task = checkTask(where, request.getTask());
        if (task.isPresent()) {
            return task;
        }
        Optional<String> fields = checkFields(where, request.getFields());
        if (fields.isPresent()) {
            return fields;
        }
        List<String> stop = request.getOptions() == null ? List.of() : request.getOptions().getStop();
        if (stop != null) {
            if (stop.size() > MAX_STOP_STRINGS) {
                return Optional.of(where + ": " + stop.size() + " stop strings, more than the limit of "
                        + MAX_STOP_STRINGS);
            }
            for (int i = 0; i < stop.size(); i++) {
                int length = stop.get(i) == null ? 0 : stop.get(i).length();
                if (length > MAX_STOP_STRING_CHARS) {
                    return Optional.of(where + ": stop string " + i + " has " + length
                            + " characters, more than the limit of " + MAX_STOP_STRING_CHARS);
                }
            }
        }
        return Optional.empty();
    }

    /** Like {@link #check(InferenceRequest)} for a feedback record. */
    public static Optional<String> check(Feedback feedback) {
        Optional<String> idProblem = checkRequestId(feedback.getRequestId());
        if (idProblem.isPresent()) {
            return idProblem.map(m -> "feedback: " + m);
        }
        String where = "feedback on request " + feedback.getRequestId();
        Optional<String> task = checkTask(where, feedback.getTask());
        if (task.isPresent()) {
            return task;
        }
        Optional<String> fields = checkFields(where, feedback.getFields());
        if (fields.isPresent()) {
            return fields;
        }
        for (var text : Map.of("correction", nullToEmpty(feedback.getCorrection()),
                "answerText", nullToEmpty(feedback.getAnswerText()),
                "comment", nullToEmpty(feedback.getComment())).entrySet()) {
            if (text.getValue().length() > MAX_FEEDBACK_TEXT_CHARS) {
                return Optional.of(where + ": " + text.getKey() + " has " + text.getValue().length()
                        + " characters, more than the limit of " + MAX_FEEDBACK_TEXT_CHARS);
            }
        }
        return Optional.empty();
    }

    /** The problem of a request id (or record key) longer than {@link #MAX_REQUEST_ID_CHARS}, if it is. */
    public static Optional<String> checkRequestId(String id) {
        int length = id == null ? 0 : id.length();
        if (length > MAX_REQUEST_ID_CHARS) {
            return Optional.of("request id '" + abbreviate(id, 32) + "' has " + length
                    + " characters, more than the limit of " + MAX_REQUEST_ID_CHARS);
        }
        return Optional.empty();
    }

    /** {@code text} cut to {@code maxChars} characters with "..." and the original length, for messages. */
    public static String abbreviate(String text, int maxChars) {
        if (text == null || text.length() <= maxChars) {
            return text;
        }
        return text.substring(0, maxChars) + "...(" + text.length() + " chars)";
    }

    private static Optional<String> checkTask(String where, String task) {
        int length = task == null ? 0 : task.length();
        if (length > MAX_TASK_CHARS) {
            return Optional.of(where + ": task name '" + abbreviate(task, 32) + "' has " + length
                    + " characters, more than the limit of " + MAX_TASK_CHARS);
        }
        return Optional.empty();
    }

    private static Optional<String> checkFields(String where, Map<String, String> fields) {
        if (fields == null) {
            return Optional.empty();
        }
        if (fields.size() > MAX_FIELDS) {
            return Optional.of(where + ": " + fields.size() + " fields, more than the limit of " + MAX_FIELDS);
        }
        long values = 0;
        for (Map.Entry<String, String> field : fields.entrySet()) {
            if (field.getKey().length() > MAX_FIELD_NAME_CHARS) {
                return Optional.of(where + ": field name '" + abbreviate(field.getKey(), 32) + "' has "
                        + field.getKey().length() + " characters, more than the limit of " + MAX_FIELD_NAME_CHARS);
            }
            values += field.getValue() == null ? 0 : field.getValue().length();
        }
        if (values > MAX_FIELD_VALUES_CHARS) {
            return Optional.of(where + ": field values hold " + values + " characters, more than the limit of "
                    + MAX_FIELD_VALUES_CHARS);
        }
        return Optional.empty();
    }

    private static String nullToEmpty(String s) {
        return s == null ? "" : s;
    }
}

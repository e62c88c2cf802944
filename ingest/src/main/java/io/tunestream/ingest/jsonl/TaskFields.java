package io.tunestream.ingest.jsonl;

import com.fasterxml.jackson.databind.JsonNode;
import io.tunestream.ingest.template.TemplateCatalog;
import io.tunestream.schemas.TaskTemplate;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Checks the task and fields of a NeMo JSONL line (or of {@code ask}'s arguments) against the
 * task's template: the task must be known, every template field present as a string, and no
 * other field given. The answer field is required for examples and optional for requests
 * (where it is the expected answer).
 */
public final class TaskFields {

    /** Key of the task name in NeMo datasets. */
    public static final String TASKNAME = "taskname";

    /** A line's task and fields when it passes. */
    public record Checked(TaskTemplate template, Map<String, String> fields, String answer) {
    }

    /** Either the checked line or why it fails. */
    public record Result(Checked checked, String problem) {
        public boolean ok() {
            return problem == null;
        }
    }

    private final TemplateCatalog templates;
    private final boolean answerRequired;
    private final Set<String> otherKeys;

    /**
     * @param templates      known templates
     * @param answerRequired whether the answer field must be present (examples) or may be (requests)
     * @param otherKeys      keys besides {@code taskname} and fields that a line may carry (e.g. {@code request_id})
     */
    public TaskFields(TemplateCatalog templates, boolean answerRequired, Set<String> otherKeys) {
        this.templates = Objects.requireNonNull(templates, "templates");
        this.answerRequired = answerRequired;
        this.otherKeys = Set.copyOf(otherKeys);
    }

    /** Checks a JSONL object; {@code defaultTask} is used when it has no {@code taskname} (may be null). */
    public Result check(JsonNode line, String defaultTask) {
        JsonNode taskNode = line.get(TASKNAME);
        if (taskNode != null && !taskNode.isTextual()) {
            return new Result(null, "'" + TASKNAME + "' must be a string, was " + taskNode);
        }
        String task = taskNode != null ? taskNode.asText() : defaultTask;
        if (task == null) {
            return new Result(null, "no '" + TASKNAME + "' (give one per line, or --task for the whole file)");
        }
        Map<String, String> values = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = line.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> entry = it.next();
            if (entry.getKey().equals(TASKNAME) || otherKeys.contains(entry.getKey())) {
                continue;
            }
            if (!entry.getValue().isTextual()) {
                return new Result(null, "task '" + task + "': field '" + entry.getKey() + "' must be a string, was "
                        + entry.getValue());
            }
            values.put(entry.getKey(), entry.getValue().asText());
        }
        return check(task, values);
    }

    /** Checks a task and its field values (the answer field among them, or not). */
    public Result check(String task, Map<String, String> values) {
        TaskTemplate template = templates.find(task).orElse(null);
        if (template == null) {
            return new Result(null, "unknown task '" + task + "' (known tasks: " + templates.knownTasks()
                    + "; register templates with: ingest templates FILE)");
        }
        List<String> fields = template.getPromptTemplateFields();
        String answerField = template.getAnswerField();
        List<String> unused = values.keySet().stream().filter(k -> !fields.contains(k)).toList();
        if (!unused.isEmpty()) {
            return new Result(null, "task '" + task + "': field(s) " + unused + " not used by the template (fields: "
                    + String.join(", ", fields) + ")");
        }
        List<String> missing = new ArrayList<>();
        for (String field : fields) {
            boolean isAnswer = field.equals(answerField);
            if (!values.containsKey(field) && (!isAnswer || answerRequired)) {
                missing.add(field);
            }
        }
        if (!missing.isEmpty()) {
            return new Result(null, "task '" + task + "': missing field(s) " + missing);
        }
        Map<String, String> inputs = new LinkedHashMap<>(values);
        String answer = answerField == null ? null : answerRequired ? values.get(answerField) : inputs.remove(answerField);
        return new Result(new Checked(template, answerRequired ? values : inputs, answer), null);
    }
}

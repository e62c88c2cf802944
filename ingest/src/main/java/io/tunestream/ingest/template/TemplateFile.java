package io.tunestream.ingest.template;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.tunestream.schemas.RetrainingSettings;
import io.tunestream.schemas.TaskTemplate;
import io.tunestream.schemas.template.TemplateRules;
import io.tunestream.schemas.TuningSettings;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.avro.Schema;
import org.apache.avro.specific.SpecificData;
import org.apache.avro.specific.SpecificRecord;

/**
 * Reads task templates from a NeMo prompt-learning config: the {@code task_templates:} list,
 * at the top level, under {@code model:}, or as the whole document, in YAML or JSON.
 *
 * <p>Each entry has NeMo's keys ({@code taskname}, {@code prompt_template}, {@code
 * answer_only_loss} (default false, as NeMo), {@code answer_field}, {@code truncate_field}, {@code
 * virtual_token_splits}, {@code total_virtual_tokens}), so a verbatim NeMo v1.15.0 {@code
 * task_templates} block loads; {@code prompt_template_fields} is optional: NeMo derives the fields
 * from the template ({@link TemplateRules#fields}), and a listed key must name the same fields; NeMo's {@code
 * add_bos} ({@code model.data.add_bos}, default false) is a key of the entry. And, optionally,
 * Tunestream's in snake_case: {@code max_seq_length}, {@code allow_base_model} and the maps
 * {@code tuning:} and {@code retraining:} whose keys are the snake_case names of {@link
 * TuningSettings} and {@link RetrainingSettings} fields (NeMo's {@code num_layers} is accepted for
 * {@code encoder_layers}; enum values may be written as NeMo does, e.g. {@code p-tuning}). Unknown
 * keys are errors, so a typo is not silently ignored.
 */
public final class TemplateFile {

    private static final Map<String, String> ALIASES = Map.of("taskname", "task", "num_layers", "encoderLayers");
    private static final Set<String> REQUIRED = Set.of("taskname", "prompt_template", "virtual_token_splits",
            "total_virtual_tokens");

    private TemplateFile() {
    }

    /**
     * The templates of {@code file}, each set to {@code updatedAtMillis}.
     *
     * @throws TemplateFileException listing every problem (file, entry, task, key) when the file
     *                               cannot be read or an entry breaks a rule of {@link TemplateRules}
     */
    public static List<TaskTemplate> read(Path file, long updatedAtMillis) {
        String text;
        try {
            text = Files.readString(file);
        } catch (IOException e) {
            throw new TemplateFileException(file.toString(), List.of(file + ": cannot be read: " + e));
        }
        return parse(file.toString(), text, file.getFileName().toString().toLowerCase().endsWith(".json"),
                updatedAtMillis);
    }

    /**
     * The templates of {@code text} (YAML, or JSON when {@code json}); {@code source} names it in
     * messages, like a file name.
     *
     * @throws TemplateFileException listing every problem
     */
    public static List<TaskTemplate> parse(String source, String text, boolean json, long updatedAtMillis) {
        return parse(source, text, json, updatedAtMillis, StreamReadConstraints.defaults());
    }

    /**
     * As {@link #parse(String, String, boolean, long)}, refusing text beyond {@code limits} (nesting
     * depth, string and number lengths) as not valid JSON or YAML, for text from the network.
     */
    public static List<TaskTemplate> parse(String source, String text, boolean json, long updatedAtMillis,
                                           StreamReadConstraints limits) {
        JsonNode root;
        try {
            ObjectMapper mapper = json
                    ? new ObjectMapper(JsonFactory.builder().streamReadConstraints(limits).build())
                    : new ObjectMapper(YAMLFactory.builder().streamReadConstraints(limits).build());
            root = mapper.readTree(text);
        } catch (JsonProcessingException e) {
            throw new TemplateFileException(source, List.of(source + ": not valid " + (json ? "JSON" : "YAML") + ": "
                    + e.getOriginalMessage() + (e.getLocation() != null ? " at line " + e.getLocation().getLineNr() : "")));
        }
        JsonNode list = root == null ? null : root.isArray() ? root
                : root.has("task_templates") ? root.get("task_templates") : root.path("model").get("task_templates");
        if (list == null || !list.isArray() || list.isEmpty()) {
            throw new TemplateFileException(source, List.of(source + ": no task_templates list (expected at the top level "
                    + "or under model:, as in a NeMo prompt-learning config)"));
        }
        List<String> problems = new ArrayList<>();
        List<TaskTemplate> templates = new ArrayList<>();
        Set<String> tasks = new HashSet<>();
        for (int i = 0; i < list.size(); i++) {
            JsonNode entry = list.get(i);
            String where = source + ": task_templates[" + i + "]";
            if (!entry.isObject()) {
                problems.add(where + ": must be a mapping of NeMo keys (taskname, prompt_template, …)");
                continue;
            }
            where += " (task '" + entry.path("taskname").asText("?") + "')";
            List<String> entryProblems = new ArrayList<>();
            TaskTemplate template = toTemplate(entry, updatedAtMillis, entryProblems);
            if (entryProblems.isEmpty()) {
                entryProblems.addAll(TemplateRules.problems(template));
                if (!tasks.add(template.getTask())) {
                    entryProblems.add("task '" + template.getTask() + "': listed twice");
                }
            }
            for (String problem : entryProblems) {
                problems.add(where + ": " + problem);
            }
            templates.add(template);
        }
        if (!problems.isEmpty()) {
            throw new TemplateFileException(source, problems);
        }
        return List.copyOf(templates);
    }

    private static TaskTemplate toTemplate(JsonNode entry, long updatedAtMillis, List<String> problems) {
        for (String key : REQUIRED) {
            if (!entry.hasNonNull(key)) {
                problems.add("missing required key '" + key + "'");
            }
        }
        TaskTemplate template = TaskTemplate.newBuilder().setTask("").setPromptTemplate("")
                .setPromptTemplateFields(List.of()).setVirtualTokenSplits(List.of()).setTotalVirtualTokens(0)
                .setUpdatedAtMillis(updatedAtMillis).build();
        fill(template, entry, "", problems);
        // NeMo v1.15.0 derives the fields from the template and never reads prompt_template_fields
        // (megatron_gpt_prompt_learning_model.py line 213); a listed key naming the same fields in
        // another order is the same template, a different set is reported by TemplateRules
        List<String> derived = TemplateRules.fields(template.getPromptTemplate());
        if (!entry.has("prompt_template_fields")
                || Set.copyOf(template.getPromptTemplateFields()).equals(Set.copyOf(derived))
                && template.getPromptTemplateFields().size() == derived.size()) {
            template.setPromptTemplateFields(derived);
        }
        return template;
    }

    /** Puts every key of {@code node} into the matching field of {@code record}, converted to the field's type. */
    private static void fill(SpecificRecord record, JsonNode node, String path, List<String> problems) {
        Schema schema = record.getSchema();
        for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> entry = it.next();
            String key = path + entry.getKey();
            String fieldName = ALIASES.getOrDefault(entry.getKey(), snakeToCamel(entry.getKey()));
            Schema.Field field = schema.getField(fieldName);
            if (field == null || fieldName.equals("updatedAtMillis")) {
                problems.add("unknown key '" + key + "'");
                continue;
            }
            if (field.schema().getType() == Schema.Type.RECORD) {
                if (!entry.getValue().isObject()) {
                    problems.add("'" + key + "' must be a mapping");
                    continue;
                }
                fill((SpecificRecord) record.get(field.pos()), entry.getValue(), key + ".", problems);
                continue;
            }
            try {
                record.put(field.pos(), convert(entry.getValue(), field.schema()));
            } catch (IllegalArgumentException e) {
                problems.add("'" + key + "' " + e.getMessage());
            }
        }
    }

    private static Object convert(JsonNode value, Schema schema) {
        switch (schema.getType()) {
            case UNION -> {
                if (value.isNull()) {
                    if (schema.getTypes().stream().anyMatch(t -> t.getType() == Schema.Type.NULL)) {
                        return null;
                    }
                    throw new IllegalArgumentException("must not be null");
                }
                Schema nonNull = schema.getTypes().stream().filter(t -> t.getType() != Schema.Type.NULL)
                        .findFirst().orElseThrow();
                return convert(value, nonNull);
            }
            case STRING -> {
                if (!value.isTextual()) {
                    throw new IllegalArgumentException("must be a string, was " + value);
                }
                return value.asText();
            }
            case INT -> {
                if (!value.isIntegralNumber() || !value.canConvertToInt()) {
                    throw new IllegalArgumentException("must be an integer, was " + value);
                }
                return value.intValue();
            }
            case LONG -> {
                if (!value.isIntegralNumber() || !value.canConvertToLong()) {
                    throw new IllegalArgumentException("must be an integer, was " + value);
                }
                return value.longValue();
            }
            case FLOAT -> {
                return (float) number(value);
            }
            case DOUBLE -> {
                return number(value);
            }
            case BOOLEAN -> {
                if (!value.isBoolean()) {
                    throw new IllegalArgumentException("must be true or false, was " + value);
                }
                return value.booleanValue();
            }
            case ENUM -> {
                String symbol = value.asText().trim().toUpperCase().replace('-', '_');
                if (!value.isTextual() || !schema.getEnumSymbols().contains(symbol)) {
                    throw new IllegalArgumentException("must be one of " + schema.getEnumSymbols() + ", was " + value);
                }
                return SpecificData.get().createEnum(symbol, schema);
            }
            case ARRAY -> {
                if (!value.isArray()) {
                    throw new IllegalArgumentException("must be a list, was " + value);
                }
                List<Object> items = new ArrayList<>();
                for (JsonNode item : value) {
                    items.add(convert(item, schema.getElementType()));
                }
                return items;
            }
            default -> throw new IllegalArgumentException("has unsupported type " + schema.getType());
        }
    }

    private static double number(JsonNode value) {
        // YAML writes 1e-4 without a dot as a string in some emitters; accept numeric strings too
        if (value.isNumber()) {
            return value.doubleValue();
        }
        if (value.isTextual()) {
            try {
                return Double.parseDouble(value.asText().trim());
            } catch (NumberFormatException e) {
                // fall through
            }
        }
        throw new IllegalArgumentException("must be a number, was " + value);
    }

    static String snakeToCamel(String key) {
        StringBuilder camel = new StringBuilder();
        boolean upper = false;
        for (char c : key.toCharArray()) {
            if (c == '_') {
                upper = true;
            } else {
                camel.append(upper ? Character.toUpperCase(c) : c);
                upper = false;
            }
        }
        return camel.toString();
    }
}

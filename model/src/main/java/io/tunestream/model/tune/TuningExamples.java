package io.tunestream.model.tune;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tunestream.model.prompt.Prompt;
import io.tunestream.model.prompt.PromptBuilder;
import io.tunestream.model.prompt.PromptMode;
import io.tunestream.model.prompt.TaskTemplate;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.OptionalInt;
import java.util.TreeMap;

/**
 * A task's examples (NeMo prompt-learning JSONL: one object a line, {@code taskname} plus the
 * template's fields) turned into training prompts. Lines of other tasks are not this task's and are
 * left out; lines of this task that cannot be used are skipped and counted by reason, never silently:
 * malformed JSON, a missing template field, an empty answer, a prompt that cannot be truncated to fit.
 *
 * <p>With an end-of-sequence token, it is appended to every answer (NeMo's {@code add_eos}), so the
 * tuned prompt also teaches the model where the answer ends.
 *
 * @param task     the task
 * @param prompts  usable examples, built in {@link PromptMode#TRAINING} mode (answer span marked)
 * @param fields   the fields of each usable example, in the order of {@code prompts} (for evaluation)
 * @param skipped  skipped lines by reason
 */
public record TuningExamples(String task, List<Prompt> prompts, List<Map<String, String>> fields,
                             Map<String, Long> skipped) {

    private static final ObjectMapper JSON = new ObjectMapper();

    public TuningExamples {
        Objects.requireNonNull(task, "task");
        prompts = List.copyOf(prompts);
        fields = fields.stream().map(Map::copyOf).toList();
        if (fields.size() != prompts.size()) {
            throw new IllegalArgumentException("task '" + task + "': " + prompts.size() + " prompts but " + fields.size()
                    + " field sets");
        }
        skipped = Map.copyOf(skipped);
    }

    /** Number of skipped lines, all reasons. */
    public long skippedCount() {
        return skipped.values().stream().mapToLong(Long::longValue).sum();
    }

    /**
     * Reads {@code file} and builds the examples of {@code template}'s task.
     *
     * @param maxTokens longest sequence (virtual tokens, answer and EOS included), e.g. the model's positions
     * @param eosTokenId appended to every answer when present
     * @throws IllegalArgumentException when no line of the task is usable, naming the file and the skip reasons
     */
    public static TuningExamples read(Path file, TaskTemplate template, PromptBuilder builder, int maxTokens,
                                      OptionalInt eosTokenId) {
        List<String> lines;
        try {
            lines = Files.readAllLines(file);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the examples of task '" + template.taskName() + "' from " + file, e);
        }
        TuningExamples examples = of(lines, template, builder, maxTokens, eosTokenId);
        if (examples.prompts().isEmpty()) {
            throw new IllegalArgumentException("task '" + template.taskName() + "': no usable example in " + file
                    + (examples.skipped().isEmpty() ? " (no line has taskname '" + template.taskName() + "')"
                    : " (skipped: " + new TreeMap<>(examples.skipped()) + ")"));
        }
        return examples;
    }

    /** Builds the examples of {@code template}'s task from JSONL lines (blank lines ignored). */
    public static TuningExamples of(List<String> lines, TaskTemplate template, PromptBuilder builder, int maxTokens,
                                    OptionalInt eosTokenId) {
        String task = template.taskName();
        int room = eosTokenId.isPresent() ? maxTokens - 1 : maxTokens;
        List<Prompt> prompts = new ArrayList<>();
        List<Map<String, String>> usedFields = new ArrayList<>();
        Map<String, Long> skipped = new LinkedHashMap<>();
        for (String line : lines) {
            if (line.isBlank()) {
                continue;
            }
            JsonNode node;
            try {
                node = JSON.readTree(line);
            } catch (JsonProcessingException e) {
                skipped.merge("malformed JSON", 1L, Long::sum);
                continue;
            }
            if (!node.isObject()) {
                skipped.merge("not a JSON object", 1L, Long::sum);
                continue;
            }
            JsonNode taskname = node.get("taskname");
            if (taskname != null && !taskname.asText().equals(task)) {
                continue; // another task's example
            }
            Map<String, String> fields = new LinkedHashMap<>();
            String missing = null;
            for (String field : template.promptTemplateFields()) {
                JsonNode value = node.get(field);
                if (value == null || value.isNull()) {
                    missing = field;
                    break;
                }
                fields.put(field, value.isTextual() ? value.asText() : value.toString());
            }
            if (missing != null) {
                skipped.merge("missing field '" + missing + "'", 1L, Long::sum);
                continue;
            }
            if (template.answerField() != null && fields.get(template.answerField()).isBlank()) {
                skipped.merge("empty answer", 1L, Long::sum);
                continue;
            }
            try {
                Prompt prompt = builder.build(template, fields, PromptMode.TRAINING, room);
                // without answer_only_loss the loss covers every real token (NeMo: answer_start None), so a
                // template without an answer field (NeMo's intent_and_slot) trains on the whole prompt
                if (template.answerOnlyLoss() && prompt.answerLength() == 0) {
                    skipped.merge("empty answer", 1L, Long::sum);
                    continue;
                }
                prompts.add(eosTokenId.isPresent() ? withEos(prompt, eosTokenId.getAsInt()) : prompt);
                usedFields.add(fields);
            } catch (IllegalArgumentException e) {
                skipped.merge(reason(e.getMessage(), task), 1L, Long::sum);
            }
        }
        return new TuningExamples(task, prompts, usedFields, skipped);
    }

    private static Prompt withEos(Prompt p, int eos) {
        int[] ids = java.util.Arrays.copyOf(p.tokenIds(), p.length() + 1);
        int[] rows = java.util.Arrays.copyOf(p.virtualRows(), p.length() + 1);
        ids[p.length()] = eos;
        rows[p.length()] = -1;
        return new Prompt(p.taskName(), ids, rows, p.answerStart());
    }

    /** The first {@code n} usable examples (all when there are fewer), skip counts unchanged. */
    public TuningExamples limit(int n) {
        if (n >= prompts.size()) {
            return this;
        }
        return new TuningExamples(task, prompts.subList(0, n), fields.subList(0, n), skipped);
    }

    /** The builder's message without the task prefix and the example's own numbers, so reasons group. */
    private static String reason(String message, String task) {
        String prefix = "task '" + task + "': ";
        String m = message.startsWith(prefix) ? message.substring(prefix.length()) : message;
        if (m.startsWith("prompt is ")) {
            return "prompt cannot be truncated to fit";
        }
        return m;
    }
}

package io.tunestream.model.prompt;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A NeMo prompt-learning task template (the {@code task_templates} entries of a NeMo p-tuning
 * config), validated at construction with errors naming the task. The template rule's home is
 * {@code io.tunestream.schemas.template.TemplateRules} (ingest, serving and the trainer check the
 * Avro template with it); the checks here are the invariants {@link PromptBuilder} relies on and
 * accept every template that rule accepts (this module does not depend on {@code schemas}).
 *
 * <p>Example, NeMo's SQuAD template:
 * {@code <|VIRTUAL_PROMPT_0|> Context: {context}\n\nQuestion: {question}\n\nAnswer:{answer}} with
 * fields {@code [context, question, answer]}, answer field {@code answer}, truncate field
 * {@code context}, splits {@code [10]}.
 *
 * @param taskName             {@code taskname}
 * @param promptTemplate       {@code prompt_template}: text with {@code {field}} placeholders and
 *                             {@code <|VIRTUAL_PROMPT_n|>} markers
 * @param promptTemplateFields {@code prompt_template_fields}: every placeholder of the template, in order
 * @param answerOnlyLoss       {@code answer_only_loss}: tuning counts the loss on the answer tokens only
 * @param answerField          {@code answer_field}, or null; with {@code answerOnlyLoss} the template must end with it
 * @param truncateField        {@code truncate_field}, or null: the field cut (at its end, in tokens) when a
 *                             prompt is too long
 * @param virtualTokenSplits   {@code virtual_token_splits}: marker n takes the next {@code splits[n]} rows of the
 *                             task's virtual-token table
 * @param totalVirtualTokens   {@code total_virtual_tokens}: the sum of the splits
 * @param addBos               NeMo's {@code model.data.add_bos}: every prompt, at training and inference, starts with
 *                             the model's BOS token ({@link PromptBuilder} refuses it for a model without one)
 */
public record TaskTemplate(String taskName, String promptTemplate, List<String> promptTemplateFields,
                           boolean answerOnlyLoss, String answerField, String truncateField,
                           List<Integer> virtualTokenSplits, int totalVirtualTokens, boolean addBos) {

    /** NeMo's marker of the n-th group of virtual tokens. */
    public static final Pattern VIRTUAL_MARKER = Pattern.compile("<\\|VIRTUAL_PROMPT_(\\d+)\\|>");
    /**
     * A field placeholder, as NeMo v1.15.0 finds them: {@code re.findall("\{(.*?)\}", prompt_template)}
     * ({@code megatron_gpt_prompt_learning_model.py} line 213). The same pattern as the template rule
     * in {@code schemas} ({@code TemplateRules.FIELD}).
     */
    public static final Pattern FIELD_PLACEHOLDER = Pattern.compile("\\{(.*?)\\}");

    public TaskTemplate {
        if (taskName == null || taskName.isBlank()) {
            throw new IllegalArgumentException("task template without a taskname");
        }
        if (promptTemplate == null || promptTemplate.isEmpty()) {
            throw new IllegalArgumentException(problem(taskName, "prompt_template is empty"));
        }
        promptTemplateFields = List.copyOf(promptTemplateFields);
        virtualTokenSplits = List.copyOf(virtualTokenSplits);

        Set<String> declared = new LinkedHashSet<>(promptTemplateFields);
        if (declared.size() != promptTemplateFields.size()) {
            throw new IllegalArgumentException(problem(taskName, "prompt_template_fields " + promptTemplateFields
                    + " names a field twice"));
        }
        List<String> placeholders = placeholders(promptTemplate);
        for (String p : placeholders) {
            if (!declared.contains(p)) {
                throw new IllegalArgumentException(problem(taskName, "prompt_template has placeholder {" + p
                        + "} missing from prompt_template_fields " + promptTemplateFields));
            }
        }
        for (String f : promptTemplateFields) {
            if (!placeholders.contains(f)) {
                throw new IllegalArgumentException(problem(taskName, "prompt_template_fields names '" + f
                        + "' but prompt_template has no {" + f + "}"));
            }
        }

        List<Integer> markers = new ArrayList<>();
        Matcher m = VIRTUAL_MARKER.matcher(promptTemplate);
        while (m.find()) {
            try {
                markers.add(Integer.parseInt(m.group(1)));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(problem(taskName, "prompt_template has the marker " + m.group()
                        + ", whose number is too large"), e);
            }
        }
        if (new HashSet<>(markers).size() != markers.size()) {
            throw new IllegalArgumentException(problem(taskName, "prompt_template repeats a virtual prompt marker " + markers));
        }
        for (int i = 0; i < virtualTokenSplits.size(); i++) {
            if (!markers.contains(i)) {
                throw new IllegalArgumentException(problem(taskName, "virtual_token_splits has " + virtualTokenSplits.size()
                        + " entries but prompt_template has no <|VIRTUAL_PROMPT_" + i + "|>"));
            }
            if (virtualTokenSplits.get(i) <= 0) {
                throw new IllegalArgumentException(problem(taskName, "virtual_token_splits[" + i + "] must be positive, got "
                        + virtualTokenSplits.get(i)));
            }
        }
        for (int marker : markers) {
            if (marker >= virtualTokenSplits.size()) {
                throw new IllegalArgumentException(problem(taskName, "prompt_template has <|VIRTUAL_PROMPT_" + marker
                        + "|> but virtual_token_splits " + virtualTokenSplits + " has no entry " + marker));
            }
        }
        int sum = virtualTokenSplits.stream().mapToInt(Integer::intValue).sum();
        if (sum != totalVirtualTokens) {
            throw new IllegalArgumentException(problem(taskName, "virtual_token_splits " + virtualTokenSplits + " sum to " + sum
                    + ", not total_virtual_tokens " + totalVirtualTokens));
        }

        if (answerField != null) {
            if (!declared.contains(answerField)) {
                throw new IllegalArgumentException(problem(taskName, "answer_field '" + answerField
                        + "' is not in prompt_template_fields " + promptTemplateFields));
            }
            // NeMo asserts the answer ends the template only with answer_only_loss
            // (gpt_prompt_learning_dataset.py lines 227-237)
            if (answerOnlyLoss && !promptTemplate.endsWith("{" + answerField + "}")) {
                throw new IllegalArgumentException(problem(taskName, "with answer_only_loss, prompt_template must end "
                        + "with the answer field {" + answerField + "}"));
            }
        } else if (answerOnlyLoss) {
            throw new IllegalArgumentException(problem(taskName, "answer_only_loss is set but there is no answer_field"));
        }
        if (truncateField != null) {
            if (!declared.contains(truncateField)) {
                throw new IllegalArgumentException(problem(taskName, "truncate_field '" + truncateField
                        + "' is not in prompt_template_fields " + promptTemplateFields));
            }
            if (truncateField.equals(answerField)) {
                throw new IllegalArgumentException(problem(taskName, "truncate_field and answer_field are both '"
                        + truncateField + "'"));
            }
        }
    }

    /** A template without BOS (NeMo's default {@code add_bos: false}). */
    public TaskTemplate(String taskName, String promptTemplate, List<String> promptTemplateFields,
                        boolean answerOnlyLoss, String answerField, String truncateField,
                        List<Integer> virtualTokenSplits, int totalVirtualTokens) {
        this(taskName, promptTemplate, promptTemplateFields, answerOnlyLoss, answerField, truncateField,
                virtualTokenSplits, totalVirtualTokens, false);
    }

    /** The same template with {@code add_bos} set to {@code addBos}. */
    public TaskTemplate withAddBos(boolean addBos) {
        return new TaskTemplate(taskName, promptTemplate, promptTemplateFields, answerOnlyLoss, answerField,
                truncateField, virtualTokenSplits, totalVirtualTokens, addBos);
    }

    /** NeMo's SQuAD template with {@code virtualTokens} virtual tokens in front. */
    public static TaskTemplate squad(String taskName, int virtualTokens) {
        return new TaskTemplate(taskName,
                "<|VIRTUAL_PROMPT_0|> Context: {context}\n\nQuestion: {question}\n\nAnswer:{answer}",
                List.of("context", "question", "answer"), true, "answer", "context", List.of(virtualTokens), virtualTokens);
    }

    /** The same task with its virtual-token markers removed (BOS kept): what runs when a task has no adapter yet. */
    public TaskTemplate withoutVirtualTokens() {
        if (totalVirtualTokens == 0) {
            return this;
        }
        String plain = VIRTUAL_MARKER.matcher(promptTemplate).replaceAll("").strip();
        return new TaskTemplate(taskName, plain, promptTemplateFields, answerOnlyLoss, answerField, truncateField,
                List.of(), 0, addBos);
    }

    /** Row of the virtual-token table where marker {@code n}'s tokens start. */
    public int firstRowOfMarker(int n) {
        int row = 0;
        for (int i = 0; i < n; i++) {
            row += virtualTokenSplits.get(i);
        }
        return row;
    }

    static String problem(String taskName, String what) {
        return "task '" + taskName + "': " + what;
    }

    private static List<String> placeholders(String template) {
        List<String> names = new ArrayList<>();
        Matcher m = FIELD_PLACEHOLDER.matcher(template);
        while (m.find()) {
            names.add(m.group(1));
        }
        return names;
    }
}

package io.tunestream.ingest.template;

import io.tunestream.schemas.TaskNames;
import io.tunestream.schemas.TaskTemplate;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * NeMo prompt learning's rules for a task template, checked before a template is sent: every
 * problem is reported, each naming the task, so a file is fixed in one go.
 *
 * <ul>
 *   <li>one {@code virtual_token_splits} entry per {@code <|VIRTUAL_PROMPT_n|>} marker, markers
 *       numbered 0, 1, … in order, splits positive and summing to {@code total_virtual_tokens};</li>
 *   <li>the {@code {field}} placeholders of {@code prompt_template} and {@code
 *       prompt_template_fields} name the same fields;</li>
 *   <li>{@code answer_field} is one of them and, with {@code answer_only_loss}, ends the template;</li>
 *   <li>{@code truncate_field} is one of them and not the answer field;</li>
 *   <li>the task name follows {@link TaskNames} (no '/', which example keys use).</li>
 * </ul>
 */
public final class TemplateRules {

    private static final Pattern MARKER = Pattern.compile("<\\|VIRTUAL_PROMPT_(\\d+)\\|>");
    private static final Pattern FIELD = Pattern.compile("\\{(\\w+)\\}");

    private TemplateRules() {
    }

    /** The {@code {field}} placeholders of a prompt template, in order of first appearance. */
    public static List<String> placeholders(String promptTemplate) {
        Set<String> fields = new LinkedHashSet<>();
        Matcher matcher = FIELD.matcher(promptTemplate);
        while (matcher.find()) {
            fields.add(matcher.group(1));
        }
        return List.copyOf(fields);
    }

    /** Every rule {@code template} breaks, as messages starting with {@code task '<name>': }; empty if none. */
    public static List<String> problems(TaskTemplate template) {
        String task = template.getTask();
        String prefix = "task '" + task + "': ";
        List<String> problems = new ArrayList<>();
        if (task.isBlank()) {
            problems.add("task '': taskname must not be empty");
        } else {
            TaskNames.problem(task).ifPresent(problem -> problems.add(prefix + problem));
        }
        String prompt = template.getPromptTemplate();
        List<Integer> splits = template.getVirtualTokenSplits();

        List<Integer> markers = new ArrayList<>();
        Matcher marker = MARKER.matcher(prompt);
        while (marker.find()) {
            try {
                markers.add(Integer.parseInt(marker.group(1)));
            } catch (NumberFormatException e) {
                // \d+ matches any number of digits: 99999999999 escaped as a NumberFormatException
                problems.add(prefix + "prompt_template has the marker " + marker.group() + ", whose number is too large");
            }
        }
        if (markers.size() != splits.size()) {
            problems.add(prefix + "prompt_template has " + markers.size() + " <|VIRTUAL_PROMPT_n|> marker(s), but "
                    + "virtual_token_splits has " + splits.size() + " entries " + splits + " (one split per marker)");
        }
        for (int i = 0; i < markers.size(); i++) {
            if (markers.get(i) != i) {
                problems.add(prefix + "virtual prompt markers must be numbered <|VIRTUAL_PROMPT_0|>, "
                        + "<|VIRTUAL_PROMPT_1|>, … in order, but marker " + (i + 1) + " is <|VIRTUAL_PROMPT_"
                        + markers.get(i) + "|>");
                break;
            }
        }
        if (splits.stream().anyMatch(split -> split < 1)) {
            problems.add(prefix + "virtual_token_splits " + splits + " must all be at least 1");
        }
        int sum = splits.stream().mapToInt(Integer::intValue).sum();
        if (sum != template.getTotalVirtualTokens()) {
            problems.add(prefix + "virtual_token_splits " + splits + " sum to " + sum + ", but total_virtual_tokens is "
                    + template.getTotalVirtualTokens());
        }

        List<String> fields = template.getPromptTemplateFields();
        List<String> used = placeholders(prompt);
        for (String field : used) {
            if (!fields.contains(field)) {
                problems.add(prefix + "prompt_template uses {" + field + "}, which prompt_template_fields "
                        + fields + " does not list");
            }
        }
        for (String field : fields) {
            if (!used.contains(field)) {
                problems.add(prefix + "prompt_template_fields lists '" + field + "', which prompt_template does not use");
            }
        }
        if (new LinkedHashSet<>(fields).size() != fields.size()) {
            problems.add(prefix + "prompt_template_fields " + fields + " lists a field twice");
        }

        String answer = template.getAnswerField();
        if (answer != null) {
            if (!fields.contains(answer)) {
                problems.add(prefix + "answer_field '" + answer + "' is not one of prompt_template_fields " + fields);
            } else if (template.getAnswerOnlyLoss() && !prompt.endsWith("{" + answer + "}")) {
                problems.add(prefix + "with answer_only_loss, the answer field {" + answer
                        + "} must end prompt_template");
            }
        } else if (template.getAnswerOnlyLoss()) {
            problems.add(prefix + "answer_only_loss is true, but answer_field is not set");
        }
        String truncate = template.getTruncateField();
        if (truncate != null) {
            if (!fields.contains(truncate)) {
                problems.add(prefix + "truncate_field '" + truncate + "' is not one of prompt_template_fields " + fields);
            } else if (truncate.equals(answer)) {
                problems.add(prefix + "truncate_field '" + truncate + "' must not be the answer field");
            }
        }
        if (template.getMaxSeqLength() <= template.getTotalVirtualTokens()) {
            problems.add(prefix + "max_seq_length " + template.getMaxSeqLength()
                    + " leaves no room for the prompt after " + template.getTotalVirtualTokens() + " virtual tokens");
        }
        return List.copyOf(problems);
    }
}

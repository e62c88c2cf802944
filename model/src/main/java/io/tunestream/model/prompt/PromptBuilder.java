package io.tunestream.model.prompt;

import io.tunestream.model.tokenize.TextTokenizer;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;

/**
 * Builds the token sequence of one example from its task template, as NeMo's prompt-learning
 * dataset does; used by generation ({@link PromptMode#INFERENCE}) and tuning ({@link PromptMode#TRAINING}).
 *
 * <ul>
 *   <li>{@code {field}} placeholders take the example's fields; the answer field is left out at
 *       inference and tokenized on its own at training, so its span is exact and the prompt part is
 *       the same token sequence in both modes.</li>
 *   <li>{@code <|VIRTUAL_PROMPT_n|>} takes the next {@code virtual_token_splits[n]} rows of the
 *       task's table. The text between markers is tokenized piece by piece (NeMo's virtual tokens are
 *       special tokens, which split the text), and whitespace touching a marker is dropped, as
 *       HuggingFace tokenizers do around special tokens: {@code "<|VIRTUAL_PROMPT_0|> Context:"} gives the
 *       virtual rows then the tokens of {@code "Context:"}.</li>
 *   <li>When the sequence is longer than {@code maxTokens}, the truncate field is cut at its end, in
 *       tokens, until it fits (NeMo's {@code _truncate_input}).</li>
 * </ul>
 * The field {@code taskname} of a NeMo JSONL example is accepted and ignored.
 */
public final class PromptBuilder {

    private static final String TASKNAME = "taskname";
    private final TextTokenizer tokenizer;

    public PromptBuilder(TextTokenizer tokenizer) {
        this.tokenizer = tokenizer;
    }

    /**
     * Builds one example.
     *
     * @param template  the task's template
     * @param fields    the example's fields by name
     * @param mode      inference (answer left out) or training (answer appended)
     * @param maxTokens the longest sequence allowed, virtual tokens and (at training) the answer included;
     *                  at inference pass max_seq_length minus the tokens to generate
     * @throws IllegalArgumentException naming the task and the problem: unknown or missing field, no answer
     *                                  field at training, a prompt that cannot be truncated to fit
     */
    public Prompt build(TaskTemplate template, Map<String, String> fields, PromptMode mode, int maxTokens) {
        String task = template.taskName();
        List<String> declared = template.promptTemplateFields();
        for (String name : fields.keySet()) {
            if (!declared.contains(name) && !name.equals(TASKNAME)) {
                throw new IllegalArgumentException(TaskTemplate.problem(task, "unknown field '" + name
                        + "' (template fields: " + declared + ")"));
            }
        }
        String answerField = template.answerField();
        for (String name : declared) {
            if (name.equals(answerField) && mode == PromptMode.INFERENCE) {
                continue;
            }
            if (!fields.containsKey(name) || fields.get(name) == null) {
                throw new IllegalArgumentException(TaskTemplate.problem(task, "missing field '" + name + "'"
                        + (name.equals(answerField) ? " (the answer, required for training)" : "")));
            }
        }
        if (mode == PromptMode.TRAINING && answerField == null) {
            throw new IllegalArgumentException(TaskTemplate.problem(task, "the template has no answer_field to train on"));
        }
        if (maxTokens <= 0) {
            throw new PromptTooLongException(TaskTemplate.problem(task, "no room for a prompt: " + maxTokens
                    + " tokens allowed"));
        }

        int[] answer = mode == PromptMode.TRAINING ? tokenizer.encode(fields.get(answerField)) : new int[0];
        Map<String, String> values = new HashMap<>(fields);
        Assembled built = assemble(template, values, answer);
        String truncate = template.truncateField();
        if (built.length() > maxTokens) {
            if (truncate == null) {
                throw new PromptTooLongException(TaskTemplate.problem(task, "prompt is " + built.length()
                        + " tokens, more than the " + maxTokens + " allowed, and the template has no truncate_field"));
            }
            int[] fieldIds = tokenizer.encode(values.get(truncate));
            int keep = fieldIds.length;
            // re-tokenizing the cut field can merge tokens differently: cut again until it fits
            while (built.length() > maxTokens && keep > 0) {
                keep = Math.max(0, keep - (built.length() - maxTokens));
                int[] kept = new int[keep];
                System.arraycopy(fieldIds, 0, kept, 0, keep);
                values.put(truncate, tokenizer.decode(kept));
                built = assemble(template, values, answer);
            }
            if (built.length() > maxTokens) {
                throw new PromptTooLongException(TaskTemplate.problem(task, "prompt is " + built.length()
                        + " tokens with truncate_field '" + truncate + "' emptied, more than the " + maxTokens + " allowed"));
            }
        }
        if (built.length() == 0) {
            throw new IllegalArgumentException(TaskTemplate.problem(task, "the prompt is empty"));
        }
        return new Prompt(task, built.tokenIds(), built.virtualRows(), built.length() - answer.length);
    }

    private record Assembled(int[] tokenIds, int[] virtualRows) {
        int length() {
            return tokenIds.length;
        }
    }

    private Assembled assemble(TaskTemplate template, Map<String, String> values, int[] answer) {
        String text = template.promptTemplate();
        String answerField = template.answerField();
        if (answerField != null) {
            text = text.substring(0, text.length() - answerField.length() - 2);
        }
        List<Integer> ids = new ArrayList<>();
        List<Integer> rows = new ArrayList<>();
        Matcher m = TaskTemplate.VIRTUAL_MARKER.matcher(text);
        int from = 0;
        boolean afterMarker = false;
        while (m.find()) {
            appendText(fill(text.substring(from, m.start()), values), afterMarker, true, ids, rows);
            int marker = Integer.parseInt(m.group(1));
            int first = template.firstRowOfMarker(marker);
            for (int r = 0; r < template.virtualTokenSplits().get(marker); r++) {
                ids.add(-1);
                rows.add(first + r);
            }
            from = m.end();
            afterMarker = true;
        }
        appendText(fill(text.substring(from), values), afterMarker, false, ids, rows);
        for (int a : answer) {
            ids.add(a);
            rows.add(-1);
        }
        return new Assembled(ids.stream().mapToInt(Integer::intValue).toArray(),
                rows.stream().mapToInt(Integer::intValue).toArray());
    }

    private void appendText(String piece, boolean afterMarker, boolean beforeMarker, List<Integer> ids, List<Integer> rows) {
        String p = afterMarker ? piece.stripLeading() : piece;
        p = beforeMarker ? p.stripTrailing() : p;
        if (p.isEmpty()) {
            return;
        }
        for (int id : tokenizer.encode(p)) {
            ids.add(id);
            rows.add(-1);
        }
    }

    private static String fill(String text, Map<String, String> values) {
        Matcher m = TaskTemplate.FIELD_PLACEHOLDER.matcher(text);
        StringBuilder out = new StringBuilder();
        while (m.find()) {
            String v = values.get(m.group(1));
            m.appendReplacement(out, Matcher.quoteReplacement(v == null ? "" : v));
        }
        m.appendTail(out);
        return out.toString();
    }
}

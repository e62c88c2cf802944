package io.tunestream.model.prompt;

import io.tunestream.model.tokenize.TextTokenizer;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.regex.Matcher;

/**
 * Builds the token sequence of one example from its task template exactly as NeMo v1.15.0's
 * {@code GPTPromptLearningDataset.load_data} does ({@code
 * nemo/collections/nlp/data/language_modeling/megatron/gpt_prompt_learning_dataset.py}); used by
 * generation ({@link PromptMode#INFERENCE}) and tuning ({@link PromptMode#TRAINING}).
 * docs/nemo-compat.md lists what differs and why.
 *
 * <ol>
 *   <li>The fields are put into the template one after the other, in template order
 *       ({@code _insert_text_in_template}, lines 239-252). A field the example does not give (the
 *       answer at inference) is replaced by nothing and the text so far is stripped of surrounding
 *       whitespace, so {@code "Answer: {answer}"} ends at {@code "Answer:"}, with no stray space token
 *       before generation. Unlike NeMo, a field's value is never searched for later placeholders or
 *       markers.</li>
 *   <li>The whole assembled string is tokenized at once (line 158): each {@code <|VIRTUAL_PROMPT_n|>}
 *       becomes the next {@code virtual_token_splits[n]} rows of the task's table, as NeMo's pseudo
 *       tokens, which are special tokens of the slow HuggingFace tokenizer NeMo uses; the text between
 *       them is tokenized piece by piece with the whitespace touching a pseudo token dropped, as that
 *       tokenizer does around special tokens. So a field and the template text around it are tokenized
 *       together: in {@code "Answer:{answer}"} with the answer {@code "."}, {@code ":."} is one pre-token that
 *       BPE may merge.</li>
 *   <li>With {@code add_bos} in the template, the model's BOS token comes first (lines 161-162).</li>
 *   <li>At training, the answer span is the last {@code len(tokenize(answer))} positions, the answer
 *       taking a leading space when the template has one before {@code {answer}} ({@code
 *       _find_answer_start}, {@code _add_leading_space}, lines 289-312).</li>
 *   <li>A sequence longer than {@code maxTokens} is cut in the truncate field: its tokens (leading
 *       space as above) are found in the sequence and their last tokens removed, as many as the excess
 *       ({@code _truncate_input}, lines 267-287). A sequence that still does not fit is refused (NeMo
 *       skips the example).</li>
 * </ol>
 * NeMo's EOS ({@code add_eos}, training only) is appended by the tuning code, which passes a
 * {@code maxTokens} one lower. The field {@code taskname} of a NeMo JSONL example is accepted and ignored.
 */
public final class PromptBuilder {

    private static final String TASKNAME = "taskname";
    private final TextTokenizer tokenizer;
    private final OptionalInt bosTokenId;

    /** A builder for a model without a BOS token: a template with {@code add_bos} is refused. */
    public PromptBuilder(TextTokenizer tokenizer) {
        this(tokenizer, OptionalInt.empty());
    }

    /**
     * A builder for a model whose BOS token is {@code bosTokenId} (its config's {@code bos_token_id}, {@link
     * io.tunestream.model.onnx.ModelConfig#bosTokenId()}). A template with {@code add_bos} (NeMo's {@code
     * model.data.add_bos}) starts every sequence with it, at training and inference alike; a template without it
     * never does (NeMo's default).
     */
    public PromptBuilder(TextTokenizer tokenizer, OptionalInt bosTokenId) {
        this.tokenizer = tokenizer;
        this.bosTokenId = bosTokenId;
    }

    /**
     * Refuses a template this builder cannot build: one with {@code add_bos} for a model without a BOS token.
     * Called where templates are checked against the model, before any request, and by {@link #build} and
     * {@link #sharedStart}.
     *
     * @throws IllegalArgumentException naming the task
     */
    public void check(TaskTemplate template) {
        if (template.addBos() && bosTokenId.isEmpty()) {
            throw new IllegalArgumentException(TaskTemplate.problem(template.taskName(),
                    "add_bos is set but the model has no BOS token (no bos_token_id in its config.json or "
                            + "generation_config.json)"));
        }
    }

    /**
     * Builds one example.
     *
     * @param template  the task's template
     * @param fields    the example's fields by name
     * @param mode      inference (the answer field left out) or training (every field given)
     * @param maxTokens the longest sequence allowed, BOS, virtual tokens and (at training) the answer included;
     *                  at inference pass max_seq_length minus the tokens to generate
     * @throws IllegalArgumentException naming the task and the problem: unknown or missing field, {@code add_bos}
     *                                  without a BOS token, a prompt that cannot be truncated to fit
     *                                  ({@link PromptTooLongException})
     */
    public Prompt build(TaskTemplate template, Map<String, String> fields, PromptMode mode, int maxTokens) {
        check(template);
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
        if (maxTokens <= 0) {
            throw new PromptTooLongException(TaskTemplate.problem(task, "no room for a prompt: " + maxTokens
                    + " tokens allowed"));
        }

        Sequence built = tokenize(template, insertFields(template, fields, mode));
        if (built.length() == 0) {
            throw new IllegalArgumentException(TaskTemplate.problem(task, "the prompt is empty"));
        }
        int answerStart = built.length();
        if (mode == PromptMode.TRAINING && answerField != null
                && template.promptTemplate().endsWith("{" + answerField + "}")) {
            int answerTokens = tokenizer.encode(withLeadingSpace(template, answerField, fields.get(answerField))).length;
            answerStart = Math.max(0, built.length() - answerTokens);
        }
        if (built.length() > maxTokens) {
            int before = built.length();
            built = truncate(template, fields, mode, built, maxTokens);
            answerStart = Math.max(0, Math.min(built.length(), answerStart - (before - built.length())));
        }
        return new Prompt(task, built.tokenIds(), built.virtualRows(), answerStart);
    }

    /**
     * The start every inference prompt of {@code template} shares: BOS, the virtual tokens and the template
     * text before the first field, tokenized as {@link #build} tokenizes it (the leading whitespace {@code
     * build} strips at inference stripped too). It is computed once per template for prefix caching.
     *
     * <p>A prompt's own ids may still differ at the end of this start: {@code build} tokenizes the text before
     * a field together with the field's value, and BPE can merge across that boundary ({@code "Context: "}
     * then {@code "Kamiro"} gives {@code " Kamiro"}, not {@code " "}). Compare with each prompt before reusing
     * anything computed from it.
     *
     * @return the shared positions (possibly none), answer span empty
     * @throws IllegalArgumentException for a template with {@code add_bos} when the model has no BOS token
     */
    public Prompt sharedStart(TaskTemplate template) {
        check(template);
        List<Piece> pieces = parse(template.promptTemplate());
        int firstField = 0;
        while (firstField < pieces.size() && !(pieces.get(firstField) instanceof Placeholder)) {
            firstField++;
        }
        List<Piece> start = new ArrayList<>(pieces.subList(0, firstField));
        if (template.answerField() != null && template.promptTemplateFields().contains(template.answerField())) {
            // at inference the answer is never given, so build strips the assembled text's leading whitespace
            for (int i = 0; i < start.size() && start.get(i) instanceof Text t; i++) {
                String s = t.text().stripLeading();
                start.set(i, new Text(s));
                if (!s.isEmpty()) {
                    break;
                }
            }
        }
        Sequence built = tokenize(template, start);
        return new Prompt(template.taskName(), built.tokenIds(), built.virtualRows(), built.length());
    }

    /** One piece of the template while fields are put in: text, a placeholder not yet filled, or a marker. */
    private sealed interface Piece permits Text, Placeholder, Marker {
    }

    private record Text(String text) implements Piece {
    }

    private record Placeholder(String field) implements Piece {
    }

    private record Marker(int n) implements Piece {
    }

    /** NeMo's {@code _insert_text_in_template}, with values kept as text so they are never re-scanned. */
    private static List<Piece> insertFields(TaskTemplate template, Map<String, String> fields, PromptMode mode) {
        List<Piece> pieces = parse(template.promptTemplate());
        for (String field : template.promptTemplateFields()) {
            boolean given = fields.get(field) != null && !(mode == PromptMode.INFERENCE && field.equals(template.answerField()));
            String value = given ? fields.get(field) : "";
            pieces.replaceAll(p -> p instanceof Placeholder ph && ph.field().equals(field) ? new Text(value) : p);
            if (!given) {
                strip(pieces);
            }
        }
        return pieces;
    }

    private static List<Piece> parse(String template) {
        List<Piece> pieces = new ArrayList<>();
        Matcher marker = TaskTemplate.VIRTUAL_MARKER.matcher(template);
        int from = 0;
        while (marker.find()) {
            parseFields(template.substring(from, marker.start()), pieces);
            pieces.add(new Marker(Integer.parseInt(marker.group(1))));
            from = marker.end();
        }
        parseFields(template.substring(from), pieces);
        return pieces;
    }

    private static void parseFields(String text, List<Piece> pieces) {
        Matcher field = TaskTemplate.FIELD_PLACEHOLDER.matcher(text);
        int from = 0;
        while (field.find()) {
            pieces.add(new Text(text.substring(from, field.start())));
            pieces.add(new Placeholder(field.group(1)));
            from = field.end();
        }
        pieces.add(new Text(text.substring(from)));
    }

    /** Python's {@code str.strip()} on the string the pieces spell: whitespace off both ends, through text pieces only. */
    private static void strip(List<Piece> pieces) {
        for (int i = 0; i < pieces.size() && pieces.get(i) instanceof Text t; i++) {
            String s = t.text().stripLeading();
            pieces.set(i, new Text(s));
            if (!s.isEmpty()) {
                break;
            }
        }
        for (int i = pieces.size() - 1; i >= 0 && pieces.get(i) instanceof Text t; i--) {
            String s = t.text().stripTrailing();
            pieces.set(i, new Text(s));
            if (!s.isEmpty()) {
                break;
            }
        }
    }

    /** A token sequence: ids, -1 at virtual positions; table rows, -1 at token positions. */
    private record Sequence(int[] tokenIds, int[] virtualRows) {
        int length() {
            return tokenIds.length;
        }
    }

    /**
     * The tokenizer's view of the assembled string: pseudo tokens split it, and the text next to one
     * loses its touching whitespace (transformers' slow {@code PreTrainedTokenizer.tokenize} strips
     * left and right of special tokens added as plain strings, as NeMo adds its pseudo tokens).
     */
    private Sequence tokenize(TaskTemplate template, List<Piece> pieces) {
        List<Integer> ids = new ArrayList<>();
        List<Integer> rows = new ArrayList<>();
        if (template.addBos()) {
            ids.add(bosTokenId.orElseThrow());
            rows.add(-1);
        }
        StringBuilder text = new StringBuilder();
        boolean afterMarker = false;
        for (Piece piece : pieces) {
            if (piece instanceof Text t) {
                text.append(t.text());
            } else if (piece instanceof Marker m) {
                appendText(text.toString(), afterMarker, true, ids, rows);
                text.setLength(0);
                int first = template.firstRowOfMarker(m.n());
                for (int r = 0; r < template.virtualTokenSplits().get(m.n()); r++) {
                    ids.add(-1);
                    rows.add(first + r);
                }
                afterMarker = true;
            } else {
                throw new IllegalStateException("placeholder {" + ((Placeholder) piece).field() + "} left unfilled");
            }
        }
        appendText(text.toString(), afterMarker, false, ids, rows);
        return new Sequence(ids.stream().mapToInt(Integer::intValue).toArray(),
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

    /** NeMo's {@code _add_leading_space}: a space before the value when the template has one before {@code {field}}. */
    private static String withLeadingSpace(TaskTemplate template, String field, String value) {
        String prompt = template.promptTemplate();
        int at = prompt.indexOf("{" + field + "}");
        return at > 0 && prompt.charAt(at - 1) == ' ' ? " " + value : value;
    }

    /** NeMo's {@code _truncate_input}: the truncate field's tokens found in the sequence lose their last ones. */
    private Sequence truncate(TaskTemplate template, Map<String, String> fields, PromptMode mode, Sequence built,
                              int maxTokens) {
        String task = template.taskName();
        String field = template.truncateField();
        if (field == null) {
            throw new PromptTooLongException(TaskTemplate.problem(task, "prompt is " + built.length()
                    + " tokens, more than the " + maxTokens + " allowed, and the template has no truncate_field"));
        }
        int excess = built.length() - maxTokens;
        int[] fieldIds = tokenizer.encode(withLeadingSpace(template, field, fields.get(field)));
        int start = indexOf(built.tokenIds(), fieldIds);
        if (start < 0) {
            // NeMo raises "Subsequence not found in sequence" here
            throw new PromptTooLongException(TaskTemplate.problem(task, "prompt is " + built.length()
                    + " tokens, more than the " + maxTokens + " allowed, and the tokens of truncate_field '" + field
                    + "' are not in it (the field merges with the template text around it), so it cannot be cut"));
        }
        int cut = Math.min(excess, fieldIds.length);
        int keepEnd = start + fieldIds.length - cut;
        int[] ids = concat(Arrays.copyOfRange(built.tokenIds(), 0, keepEnd),
                Arrays.copyOfRange(built.tokenIds(), start + fieldIds.length, built.length()));
        int[] rows = concat(Arrays.copyOfRange(built.virtualRows(), 0, keepEnd),
                Arrays.copyOfRange(built.virtualRows(), start + fieldIds.length, built.length()));
        if (ids.length > maxTokens) {
            throw new PromptTooLongException(TaskTemplate.problem(task, "prompt is " + ids.length
                    + " tokens with truncate_field '" + field + "' emptied, more than the " + maxTokens + " allowed"));
        }
        return new Sequence(ids, rows);
    }

    /** First position where {@code part} occurs in {@code whole}, or -1. */
    private static int indexOf(int[] whole, int[] part) {
        if (part.length == 0) {
            return -1;
        }
        outer:
        for (int i = 0; i + part.length <= whole.length; i++) {
            for (int j = 0; j < part.length; j++) {
                if (whole[i + j] != part[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }

    private static int[] concat(int[] a, int[] b) {
        int[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}

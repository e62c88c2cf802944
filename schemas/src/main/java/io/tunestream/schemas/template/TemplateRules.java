package io.tunestream.schemas.template;

import io.tunestream.schemas.PromptEncoderType;
import io.tunestream.schemas.TaskNames;
import io.tunestream.schemas.TaskTemplate;
import io.tunestream.schemas.TuningSettings;
import io.tunestream.schemas.PromptInit;
import io.tunestream.schemas.VirtualPromptStyle;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The one home of the task-template rule: NeMo prompt learning's checks (NVIDIA/NeMo v1.15.0,
 * {@code gpt_prompt_learning_dataset.py} {@code _input_sanity_checks}, lines 194-237, and
 * {@code megatron_gpt_prompt_learning_model.py} {@code load_task_templates}, lines 198-224) plus a
 * few of Tunestream's, on the Avro {@link TaskTemplate}. Ingest checks a template before sending
 * it, serving before storing it, the trainer before tuning it, so nothing accepted at ingest is
 * refused downstream. Every problem is reported, each naming the task, so a file is fixed in one go.
 *
 * <ul>
 *   <li>one {@code virtual_token_splits} entry per {@code <|VIRTUAL_PROMPT_n|>} marker, each of
 *       {@code 0 … n-1} once (in any order, as NeMo replaces them by number), splits positive and
 *       summing to {@code total_virtual_tokens}, which is below {@code max_seq_length};</li>
 *   <li>{@code prompt_template_fields} is what NeMo derives from the template ({@link #fields}):
 *       NeMo never reads the key, so the Avro field holds the derived list;</li>
 *   <li>{@code answer_field} is one of the fields and, only with {@code answer_only_loss} (as in
 *       NeMo), ends the template; {@code answer_only_loss} needs an {@code answer_field};</li>
 *   <li>{@code truncate_field} is one of the fields and not the answer field (Tunestream: NeMo only
 *       checks the latter with {@code answer_only_loss}, and ignores an unknown truncate field);</li>
 *   <li>the task name follows {@link TaskNames} (no '/', which example keys use);</li>
 *   <li>p-tuning encoders as NeMo builds them: an MLP has at least 2 layers, dropout only with the
 *       LSTM (between its layers), {@code encoder_hidden} positive;</li>
 *   <li>{@code virtual_prompt_style: prefix-tuning} (deep prompts) has virtual tokens (the prefix's length)
 *       and {@code init: random}: the prefix holds keys and values of every layer, which token embeddings
 *       (text, vocab) are not.</li>
 * </ul>
 */
public final class TemplateRules {

    /** NeMo's marker of the n-th group of virtual tokens. */
    public static final Pattern MARKER = Pattern.compile("<\\|VIRTUAL_PROMPT_(\\d+)\\|>");
    /** NeMo's field pattern, {@code re.findall("\{(.*?)\}", prompt_template)} (model file, line 213). */
    public static final Pattern FIELD = Pattern.compile("\\{(.*?)\\}");

    private TemplateRules() {
    }

    /**
     * The fields of a prompt template as NeMo derives them ({@link #FIELD}), each once, in order of
     * first appearance; what {@code prompt_template_fields} must hold.
     */
    public static List<String> fields(String promptTemplate) {
        Set<String> fields = new LinkedHashSet<>();
        Matcher matcher = FIELD.matcher(promptTemplate);
        while (matcher.find()) {
            fields.add(matcher.group(1));
        }
        return List.copyOf(fields);
    }

    /**
     * What keeps {@code template} from running on a model, as messages starting with {@code task '<name>': };
     * empty if nothing. Serving checks it against its model when a template arrives, the trainer before a run,
     * so a template the model cannot build is refused there with its task named, not at its first request:
     * {@code add_bos} needs a model with a BOS token ({@code bos_token_id}).
     *
     * @param modelHasBos whether the model's config declares a {@code bos_token_id}
     */
    public static List<String> problemsOnModel(TaskTemplate template, boolean modelHasBos) {
        if (template.getAddBos() && !modelHasBos) {
            return List.of("task '" + template.getTask() + "': add_bos is set but the model has no BOS token "
                    + "(no bos_token_id in its config.json or generation_config.json)");
        }
        return List.of();
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
        if (prompt.isBlank()) {
            problems.add(prefix + "prompt_template must not be empty");
        }
        List<Integer> splits = template.getVirtualTokenSplits();

        List<Integer> markers = new ArrayList<>();
        Matcher marker = MARKER.matcher(prompt);
        while (marker.find()) {
            try {
                markers.add(Integer.parseInt(marker.group(1)));
            } catch (NumberFormatException e) {
                // \d+ matches any number of digits: 99999999999 escaped as a NumberFormatException (found by fuzzing)
                problems.add(prefix + "prompt_template has the marker " + marker.group() + ", whose number is too large");
            }
        }
        if (markers.size() != splits.size()) {
            problems.add(prefix + "prompt_template has " + markers.size() + " <|VIRTUAL_PROMPT_n|> marker(s), but "
                    + "virtual_token_splits has " + splits.size() + " entries " + splits + " (one split per marker)");
        } else {
            Set<Integer> expected = new TreeSet<>();
            for (int i = 0; i < splits.size(); i++) {
                expected.add(i);
            }
            if (!new TreeSet<>(markers).equals(expected)) {
                problems.add(prefix + "virtual prompt markers must be <|VIRTUAL_PROMPT_0|> … <|VIRTUAL_PROMPT_"
                        + (splits.size() - 1) + "|>, each once, but the template has numbers " + markers);
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
        List<String> derived = fields(prompt);
        if (!fields.equals(derived)) {
            problems.add(prefix + "prompt_template_fields " + fields + " differ from the fields of prompt_template "
                    + derived + " (NeMo derives them from the template; leave the key out)");
        }

        String answer = template.getAnswerField();
        if (answer != null) {
            if (!derived.contains(answer)) {
                problems.add(prefix + "answer_field '" + answer + "' is not a field of prompt_template " + derived);
            } else if (template.getAnswerOnlyLoss() && !prompt.endsWith("{" + answer + "}")) {
                problems.add(prefix + "with answer_only_loss, the answer field {" + answer
                        + "} must end prompt_template");
            }
        } else if (template.getAnswerOnlyLoss()) {
            problems.add(prefix + "answer_only_loss is true, but answer_field is not set");
        }
        String truncate = template.getTruncateField();
        if (truncate != null) {
            if (!derived.contains(truncate)) {
                problems.add(prefix + "truncate_field '" + truncate + "' is not a field of prompt_template " + derived);
            } else if (truncate.equals(answer)) {
                problems.add(prefix + "truncate_field '" + truncate + "' must not be the answer field");
            }
        }
        TuningSettings tuning = template.getTuning();
        if (tuning.getVirtualPromptStyle() == VirtualPromptStyle.P_TUNING) {
            String encoder = tuning.getEncoderType().name().toLowerCase(Locale.ROOT);
            if (tuning.getEncoderHidden() < 1) {
                problems.add(prefix + "tuning.encoder_hidden must be at least 1, got " + tuning.getEncoderHidden());
            }
            if (tuning.getEncoderType() == PromptEncoderType.MLP && tuning.getEncoderLayers() < 2) {
                // NeMo v1.15.0 prompt_encoder.py: "The MLP prompt encoder must have at least 2 layers."
                problems.add(prefix + "tuning.encoder_layers of the mlp encoder must be at least 2 (as NeMo), got "
                        + tuning.getEncoderLayers());
            } else if (tuning.getEncoderType() == PromptEncoderType.LSTM && tuning.getEncoderLayers() < 1) {
                problems.add(prefix + "tuning.encoder_layers of the lstm encoder must be at least 1, got "
                        + tuning.getEncoderLayers());
            }
            if (!(tuning.getDropout() >= 0 && tuning.getDropout() < 1)) {
                problems.add(prefix + "tuning.dropout must be in [0, 1), got " + tuning.getDropout());
            } else if (tuning.getDropout() > 0 && tuning.getEncoderType() != PromptEncoderType.LSTM) {
                // NeMo applies dropout only between the LSTM's layers (lstm_dropout)
                problems.add(prefix + "tuning.dropout applies only between LSTM layers (as NeMo), but the " + encoder
                        + " encoder has dropout " + tuning.getDropout());
            }
        }
        if (tuning.getVirtualPromptStyle() == VirtualPromptStyle.PREFIX_TUNING) {
            if (template.getTotalVirtualTokens() < 1) {
                problems.add(prefix + "prefix-tuning needs virtual tokens (the prefix's length), but "
                        + "total_virtual_tokens is " + template.getTotalVirtualTokens());
            }
            if (tuning.getInit() == PromptInit.VOCAB) {
                problems.add(prefix + "tuning.init must be random or text with prefix-tuning (the prefix holds keys and "
                        + "values of every layer, not token embeddings), got vocab");
            } else if (tuning.getInit() == PromptInit.TEXT && tuning.getPrefixProjection()) {
                // PEFT's projection starts from a random embedding: keys and values of a text are its output, not its input
                problems.add(prefix + "tuning.init text starts the prefix itself, so it cannot be used with "
                        + "prefix_projection (whose MLP starts from a random input, as PEFT's)");
            } else if (tuning.getInit() == PromptInit.TEXT
                    && (tuning.getInitText() == null || tuning.getInitText().isBlank())) {
                problems.add(prefix + "tuning.init text needs a non-blank init_text (its keys and values start the prefix)");
            }
            if (tuning.getPrefixProjection()) {
                if (tuning.getEncoderHidden() < 1) {
                    problems.add(prefix + "tuning.encoder_hidden of the prefix projection must be at least 1, got "
                            + tuning.getEncoderHidden());
                }
                if (tuning.getEncoderLayers() < 2) {
                    problems.add(prefix + "tuning.encoder_layers of the prefix projection (an MLP) must be at least 2, got "
                            + tuning.getEncoderLayers());
                }
            }
        } else if (tuning.getPrefixProjection()) {
            problems.add(prefix + "tuning.prefix_projection applies to prefix-tuning only, but virtual_prompt_style is "
                    + tuning.getVirtualPromptStyle().name().toLowerCase(Locale.ROOT).replace('_', '-'));
        }
        if (template.getMaxSeqLength() <= template.getTotalVirtualTokens()) {
            problems.add(prefix + "max_seq_length " + template.getMaxSeqLength()
                    + " leaves no room for the prompt after " + template.getTotalVirtualTokens() + " virtual tokens");
        }
        return List.copyOf(problems);
    }
}

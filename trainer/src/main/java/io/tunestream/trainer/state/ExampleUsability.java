package io.tunestream.trainer.state;

import io.tunestream.schemas.LabelledExample;
import io.tunestream.schemas.TaskTemplate;
import java.util.Map;
import java.util.Optional;

/**
 * Whether an example can train its task's current template, as far as can be told without the
 * tokenizer: every template field present, a non-blank answer. (Prompts that cannot be truncated
 * to fit are found by the run and counted as skipped there.)
 */
public final class ExampleUsability {

    private ExampleUsability() {
    }

    /** Empty when usable, otherwise the reason it is not (the same wording as the run's skip reasons). */
    public static Optional<String> problem(LabelledExample example, TaskTemplate template) {
        Map<String, String> fields = example.getFields();
        for (String field : template.getPromptTemplateFields()) {
            if (fields.get(field) == null) {
                return Optional.of("missing field '" + field + "'");
            }
        }
        String answerField = template.getAnswerField();
        if (answerField != null && (fields.get(answerField) == null || fields.get(answerField).isBlank())) {
            return Optional.of("empty answer");
        }
        return Optional.empty();
    }
}

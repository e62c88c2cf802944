package io.tunestream.serving.topology;

import io.tunestream.schemas.Topics;
import java.util.Objects;

/**
 * Names of the topics the serving topology uses. Production uses {@link #standard()} (the
 * catalogue in {@link Topics}); tests give each case its own names so they share one broker.
 */
public record ServingTopics(String requests, String answers, String templates, String adapters, String deadLetter) {

    public ServingTopics {
        Objects.requireNonNull(requests, "requests");
        Objects.requireNonNull(answers, "answers");
        Objects.requireNonNull(templates, "templates");
        Objects.requireNonNull(adapters, "adapters");
        Objects.requireNonNull(deadLetter, "deadLetter");
    }

    public static ServingTopics standard() {
        return new ServingTopics(Topics.REQUESTS.name(), Topics.ANSWERS.name(), Topics.TASK_TEMPLATES.name(),
                Topics.ADAPTERS.name(), Topics.REQUESTS_DEAD_LETTER.name());
    }

    /** The standard names with {@code prefix} in front of each. */
    public static ServingTopics prefixed(String prefix) {
        var s = standard();
        return new ServingTopics(prefix + s.requests, prefix + s.answers, prefix + s.templates, prefix + s.adapters,
                prefix + s.deadLetter);
    }
}

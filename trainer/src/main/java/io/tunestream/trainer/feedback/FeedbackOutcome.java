package io.tunestream.trainer.feedback;

import io.tunestream.schemas.LabelledExample;
import java.util.Objects;

/** What a piece of feedback becomes. */
public sealed interface FeedbackOutcome {

    /** A training example, to be written to {@code examples}. */
    record NewExample(LabelledExample example) implements FeedbackOutcome {
        public NewExample {
            Objects.requireNonNull(example, "example");
        }
    }

    /** A rejected answer without a better one: counted, nothing to train on. */
    record Rejected(String requestId) implements FeedbackOutcome {
    }

    /** Feedback that cannot become an example, and why. */
    record Skipped(String reason) implements FeedbackOutcome {
    }
}

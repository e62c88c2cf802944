package io.tunestream.serving.batch;

import io.tunestream.schemas.ErrorKind;
import io.tunestream.schemas.FinishReason;
import java.util.Objects;

/** What became of one row of a batch: generated text, or an error that concerns this row only. */
public sealed interface BatchOutcome {

    /**
     * @param text             the generated answer
     * @param promptTokens     tokens in the prompt, virtual tokens included
     * @param completionTokens tokens generated
     * @param finishReason     why generation ended (never {@link FinishReason#ERROR})
     */
    record Generated(String text, int promptTokens, int completionTokens, FinishReason finishReason)
            implements BatchOutcome {
        public Generated {
            Objects.requireNonNull(text, "text");
            Objects.requireNonNull(finishReason, "finishReason");
            if (finishReason == FinishReason.ERROR) {
                throw new IllegalArgumentException("a generated outcome cannot finish with ERROR; use Failed");
            }
        }
    }

    /** @param kind class of the error; @param message what went wrong, naming the task and field */
    record Failed(ErrorKind kind, String message) implements BatchOutcome {
        public Failed {
            Objects.requireNonNull(kind, "kind");
            Objects.requireNonNull(message, "message");
        }
    }
}

package io.tunestream.model.prompt;

/** What a prompt is built for. */
public enum PromptMode {
    /** Generation: the answer field is left out; the model writes it. */
    INFERENCE,
    /** Tuning: the answer field's tokens are appended and marked as the answer span. */
    TRAINING
}

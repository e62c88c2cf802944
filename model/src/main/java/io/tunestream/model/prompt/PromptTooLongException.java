package io.tunestream.model.prompt;

/**
 * A prompt that cannot be made to fit its token budget, even after cutting the template's
 * {@code truncate_field}. Callers that answer requests report it apart from other bad input: the
 * sender can shorten the fields or ask for fewer new tokens.
 */
public final class PromptTooLongException extends IllegalArgumentException {

    public PromptTooLongException(String message) {
        super(message);
    }
}

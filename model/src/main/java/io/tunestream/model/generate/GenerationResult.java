package io.tunestream.model.generate;

import java.util.Arrays;

/**
 * The outcome of one row.
 *
 * @param id               the request's id
 * @param text             the completion (before a stop string; without the EOS token); empty on error
 * @param tokenIds         the generated token ids (the EOS token excluded)
 * @param promptTokens     positions of the prompt, virtual tokens included
 * @param completionTokens generated tokens (the EOS token included: it was computed)
 * @param finishReason     why the row stopped
 * @param error            what went wrong when {@code finishReason} is ERROR, else null
 * @param errorKind        the class of that error when {@code finishReason} is ERROR, else null
 */
public record GenerationResult(String id, String text, int[] tokenIds, int promptTokens, int completionTokens,
                               FinishReason finishReason, String error, RowError errorKind) {

    public static GenerationResult failed(String id, RowError kind, String error) {
        return new GenerationResult(id, "", new int[0], 0, 0, FinishReason.ERROR, error, kind);
    }

    public boolean isError() {
        return finishReason == FinishReason.ERROR;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof GenerationResult r && id.equals(r.id) && text.equals(r.text) && Arrays.equals(tokenIds, r.tokenIds)
                && promptTokens == r.promptTokens && completionTokens == r.completionTokens
                && finishReason == r.finishReason && java.util.Objects.equals(error, r.error) && errorKind == r.errorKind;
    }

    @Override
    public int hashCode() {
        return id.hashCode() * 31 + Arrays.hashCode(tokenIds);
    }

    @Override
    public String toString() {
        return "GenerationResult[" + id + ", " + finishReason + (error != null ? ", " + errorKind + " error=" + error : "") + ", text="
                + text + ", tokens=" + Arrays.toString(tokenIds) + ", prompt=" + promptTokens + ", completion="
                + completionTokens + "]";
    }
}

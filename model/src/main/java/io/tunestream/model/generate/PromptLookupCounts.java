package io.tunestream.model.generate;

/**
 * What prompt-lookup decoding did in a {@link Generator}'s generations so far ({@link Generator#promptLookupCounts()}):
 * a verification pass chooses its accepted draft tokens plus one, where a step chooses one.
 *
 * @param passes         verification passes run (model runs over a row's last token and its draft, if any: a row that
 *                       looks up runs every token through passes)
 * @param draftedTokens  draft tokens fed to them
 * @param acceptedTokens draft tokens the row chose too, whose positions the passes kept
 * @param rejectedPasses passes with a draft whose first token was not the row's choice: one token for a pass, as a step
 */
public record PromptLookupCounts(long passes, long draftedTokens, long acceptedTokens, long rejectedPasses) {

    /** Tokens a verification pass chose on average (tokens a model run after the prefill); 0 before any pass. */
    public double tokensPerPass() {
        return passes == 0 ? 0 : 1 + (double) acceptedTokens / passes;
    }

    /** What was counted since {@code earlier}. */
    public PromptLookupCounts since(PromptLookupCounts earlier) {
        return new PromptLookupCounts(passes - earlier.passes, draftedTokens - earlier.draftedTokens,
                acceptedTokens - earlier.acceptedTokens, rejectedPasses - earlier.rejectedPasses);
    }
}

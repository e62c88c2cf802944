package io.tunestream.model.generate;

/**
 * Drafts of prompt-lookup decoding (Hugging Face's {@code prompt_lookup_num_tokens}, vLLM's n-gram speculator): the
 * tokens that followed the most recent earlier occurrence of a sequence's last {@code n} tokens, a guess of what comes
 * next that pays off when the output copies its prompt (extractive answers) or repeats itself. The model then checks the whole draft in
 * one pass ({@code DecodeState.verify}); a draft only saves passes, never changes the tokens.
 *
 * <p>The last {@code maxNgram} tokens are looked up first; with no earlier occurrence, the last {@code maxNgram - 1},
 * and so on down to one token. An immutable value; {@link #draft} is a pure function of its arguments.
 *
 * @param maxDraft most tokens a draft holds (K); 0 turns drafting off
 * @param maxNgram tokens at the end of the sequence looked up first (N); at least 1
 */
public record PromptLookup(int maxDraft, int maxNgram) {

    /** Drafting off. */
    public static final PromptLookup OFF = new PromptLookup(0, 1);
    /**
     * Serving's default: drafts of up to 4 tokens after the last 2 (or 1) tokens, the fastest of the measured K and N at
     * batch 1 on demo-gpt2 (GenerationBenchmark, BENCHMARKS.md): longer drafts are accepted less and cost more to verify.
     */
    public static final PromptLookup DEFAULT = new PromptLookup(4, 2);

    public PromptLookup {
        if (maxDraft < 0) {
            throw new IllegalArgumentException("the draft length of prompt lookup must be >= 0 (0 = off), got " + maxDraft);
        }
        if (maxNgram < 1) {
            throw new IllegalArgumentException("the n-gram size of prompt lookup must be >= 1, got " + maxNgram);
        }
    }

    /** Whether drafts are made at all. */
    public boolean enabled() {
        return maxDraft > 0;
    }

    /**
     * @param sequence the tokens so far (prompt ids then generated ids); only {@code [0, length)} is read
     * @param length   tokens of {@code sequence} that count
     * @param limit    most tokens the caller can take (room left in the row); the draft holds at most
     *                 {@code min(maxDraft, limit)}
     * @return {@code min(maxDraft, limit)} tokens that followed the most recent earlier occurrence of the longest
     *         suffix of at most {@code maxNgram} tokens that occurred before, those past the end of the sequence
     *         continuing the copy (the suffix's own continuation); empty when no suffix occurred before
     */
    public int[] draft(int[] sequence, int length, int limit) {
        int most = Math.min(maxDraft, limit);
        if (most <= 0 || length < 2) {
            return new int[0];
        }
        for (int n = Math.min(maxNgram, length - 1); n >= 1; n--) {
            int suffix = length - n;
            // the latest start before the suffix's own; a match must leave at least one token after it
            for (int start = suffix - 1; start >= 0; start--) {
                if (matches(sequence, start, suffix, n)) {
                    // a copy that reaches the end goes on copying its own start (as an overlapping LZ77 copy does):
                    // a loop of period p drafts the whole loop again
                    int from = start + n;
                    int[] out = new int[most];
                    for (int i = 0; i < most; i++) {
                        out[i] = from + i < length ? sequence[from + i] : out[from + i - length];
                    }
                    return out;
                }
            }
        }
        return new int[0];
    }

    private static boolean matches(int[] sequence, int start, int suffix, int n) {
        for (int i = 0; i < n; i++) {
            if (sequence[start + i] != sequence[suffix + i]) {
                return false;
            }
        }
        return true;
    }
}

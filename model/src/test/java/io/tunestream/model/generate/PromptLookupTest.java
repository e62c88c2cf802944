package io.tunestream.model.generate;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class PromptLookupTest {

    private static int[] draft(PromptLookup lookup, int... sequence) {
        return lookup.draft(sequence, sequence.length, Integer.MAX_VALUE);
    }

    @Test
    void shouldDraftWhatFollowedTheLastTokensEarlier() {
        // "... 7 8 | 9 10 11 ... 7 8" : after 7 8 came 9 10 11
        assertThat(draft(new PromptLookup(3, 2), 1, 7, 8, 9, 10, 11, 12, 5, 7, 8)).containsExactly(9, 10, 11);
    }

    @Test
    void shouldTakeTheMostRecentOccurrence() {
        assertThat(draft(new PromptLookup(2, 2), 7, 8, 1, 2, 7, 8, 3, 4, 9, 7, 8)).containsExactly(3, 4);
    }

    @Test
    void shouldCutTheDraftAtMaxDraftTheLimitAndTheSequencesEnd() {
        int[] seq = {7, 8, 1, 2, 3, 4, 5, 6, 7, 8};
        assertThat(draft(new PromptLookup(4, 2), seq)).containsExactly(1, 2, 3, 4);
        assertThat(new PromptLookup(4, 2).draft(seq, seq.length, 2)).containsExactly(1, 2);
        assertThat(new PromptLookup(4, 2).draft(seq, seq.length, 0)).isEmpty();
        // the copy runs into the suffix itself and goes on copying: a loop of period 2 drafts the loop
        assertThat(draft(new PromptLookup(5, 2), 5, 6, 5, 6)).containsExactly(5, 6, 5, 6, 5);
        assertThat(draft(new PromptLookup(4, 2), 1, 9, 9, 9)).containsExactly(9, 9, 9, 9);
        assertThat(draft(new PromptLookup(4, 2), 1, 2, 3, 1, 2)).containsExactly(3, 1, 2, 3);
    }

    @Test
    void shouldReadOnlyTheGivenLength() {
        int[] seq = {7, 8, 1, 2, 7, 8, 99, 99};
        assertThat(new PromptLookup(3, 2).draft(seq, 6, 10)).containsExactly(1, 2, 7);
    }

    @Test
    void shouldFallBackToShorterNgrams() {
        // 3 8 never occurred before, 8 did (followed by 4 5)
        assertThat(draft(new PromptLookup(2, 2), 1, 8, 4, 5, 3, 8)).containsExactly(4, 5);
        // with N = 3 the 3-gram 2 7 8 (followed by 1) wins over the later 2-gram 7 8 (followed by 6)
        assertThat(draft(new PromptLookup(1, 3), 2, 7, 8, 1, 7, 8, 6, 2, 7, 8)).containsExactly(1);
        assertThat(draft(new PromptLookup(1, 2), 2, 7, 8, 1, 7, 8, 6, 2, 7, 8)).containsExactly(6);
    }

    @Test
    void shouldDraftNothingWhenTheLastTokenNeverOccurredBefore() {
        assertThat(draft(new PromptLookup(4, 3), 1, 2, 3, 4, 5)).isEmpty();
        assertThat(draft(new PromptLookup(4, 3), 1)).isEmpty();
        assertThat(new PromptLookup(4, 3).draft(new int[0], 0, 4)).isEmpty();
        assertThat(draft(PromptLookup.OFF, 7, 8, 7, 8)).isEmpty();
        assertThat(PromptLookup.OFF.enabled()).isFalse();
    }

    @Test
    void shouldRejectNegativeDraftsAndEmptyNgrams() {
        assertThatThrownBy(() -> new PromptLookup(-1, 2)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("the draft length of prompt lookup must be >= 0 (0 = off), got -1");
        assertThatThrownBy(() -> new PromptLookup(4, 0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("the n-gram size of prompt lookup must be >= 1, got 0");
    }
}

package io.tunestream.ingest.requests;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;

class AnswerScoresTest {

    @Test
    void shouldNormaliseCasePunctuationArticlesAndSpaces() {
        assertThat(AnswerScores.normalize("  The  Eiffel-Tower, in  Paris! ")).isEqualTo("eiffeltower in paris");
    }

    @Test
    void shouldMatchExactlyAfterNormalisation() {
        assertThat(AnswerScores.exactMatch(" Lenronaburg", "lenronaburg.")).isEqualTo(1.0);
        assertThat(AnswerScores.exactMatch("Lenronaburg Bay", "Lenronaburg")).isEqualTo(0.0);
    }

    @Test
    void shouldScoreTokenOverlapAsF1() {
        // prediction 3 tokens, reference 2, 2 in common: P = 2/3, R = 1, F1 = 0.8
        assertThat(AnswerScores.f1("blue green red", "the green red")).isCloseTo(0.8, within(1e-12));
        assertThat(AnswerScores.f1("a", "the")).isEqualTo(1.0);
        assertThat(AnswerScores.f1("", "paris")).isEqualTo(0.0);
        assertThat(AnswerScores.f1("red red", "red")).isCloseTo(2 * 0.5 * 1 / 1.5, within(1e-12));
    }
}

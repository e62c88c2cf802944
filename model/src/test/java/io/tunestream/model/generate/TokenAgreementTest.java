package io.tunestream.model.generate;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Rows compared up to and including their first difference. */
class TokenAgreementTest {

    private static GenerationResult tokens(int... ids) {
        return new GenerationResult("r", "", ids, 3, ids.length, FinishReason.LENGTH, null, null);
    }

    @Test
    void shouldCountEachRowUpToItsFirstDifference() {
        List<GenerationResult> a = List.of(tokens(1, 2, 3, 4), tokens(5, 6, 7), tokens(8, 9), tokens(1));
        List<GenerationResult> b = List.of(tokens(1, 2, 3, 4), tokens(5, 0, 7), tokens(8, 9, 10), tokens(1));

        TokenAgreement agreement = TokenAgreement.between(a, b);

        // 4 equal; 1 equal + the difference; 2 equal + the longer row's extra token; 1 equal
        assertThat(agreement).isEqualTo(new TokenAgreement(10, 2, 4));
        assertThat(agreement.rate()).isEqualTo(0.2);
        assertThat(agreement.plus(new TokenAgreement(10, 0, 1))).isEqualTo(new TokenAgreement(20, 2, 5));
    }

    @Test
    void shouldRefuseListsOfDifferentSizes() {
        assertThatThrownBy(() -> TokenAgreement.between(List.of(tokens(1)), List.of()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("1 results with 0");
        assertThat(new TokenAgreement(0, 0, 0).rate()).isZero();
    }
}

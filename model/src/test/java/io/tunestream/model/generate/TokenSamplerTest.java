package io.tunestream.model.generate;

import org.junit.jupiter.api.Test;

import java.util.BitSet;
import java.util.List;
import java.util.OptionalLong;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

class TokenSamplerTest {

    private static final float[] LOGITS = {1.0f, 3.0f, 2.9f, -1.0f, 0.5f};
    private static final int[] NO_EOS = {};

    private static int sample(GenerationOptions o, BitSet seen, int generated, int[] eos, long seed) {
        return TokenSampler.next(LOGITS, 0, LOGITS.length, o, seen, generated, eos, new SplittableRandom(seed));
    }

    private static GenerationOptions options(double temperature, int topK, double topP, double penalty, int min) {
        return new GenerationOptions(10, min, temperature, topK, topP, penalty, List.of(), OptionalLong.of(1));
    }

    @Test
    void shouldPickTheArgmaxWhenGreedy() {
        assertThat(sample(options(0, 0, 1, 1, 0), new BitSet(), 0, NO_EOS, 1)).isEqualTo(1);
    }

    @Test
    void shouldDivideAPositiveLogitByThePenaltyOfASeenToken() {
        BitSet seen = new BitSet();
        seen.set(1);
        assertThat(sample(options(0, 0, 1, 1.1, 0), seen, 0, NO_EOS, 1)).isEqualTo(2);
    }

    @Test
    void shouldSuppressEosBeforeMinNewTokens() {
        assertThat(sample(options(0, 0, 1, 1, 2), new BitSet(), 1, new int[]{1}, 1)).isEqualTo(2);
        assertThat(sample(options(0, 0, 1, 1, 2), new BitSet(), 2, new int[]{1}, 1)).isEqualTo(1);
    }

    @Test
    void shouldOnlyDrawFromTheTopKTokens() {
        for (long seed = 0; seed < 200; seed++) {
            assertThat(sample(options(5, 2, 1, 1, 0), new BitSet(), 0, NO_EOS, seed)).isIn(1, 2);
        }
    }

    @Test
    void shouldOnlyDrawFromTheNucleus() {
        // softmax of LOGITS: p(1) = 0.45, p(2) = 0.41: top_p 0.5 keeps exactly these two
        for (long seed = 0; seed < 200; seed++) {
            assertThat(sample(options(1, 0, 0.5, 1, 0), new BitSet(), 0, NO_EOS, seed)).isIn(1, 2);
        }
    }

    @Test
    void shouldDrawEveryTokenAtAHighTemperature() {
        BitSet drawn = new BitSet();
        for (long seed = 0; seed < 500; seed++) {
            drawn.set(sample(options(50, 0, 1, 1, 0), new BitSet(), 0, NO_EOS, seed));
        }
        assertThat(drawn.cardinality()).isEqualTo(LOGITS.length);
    }
}

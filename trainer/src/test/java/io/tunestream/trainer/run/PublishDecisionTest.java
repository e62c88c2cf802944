package io.tunestream.trainer.run;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.OptionalDouble;
import org.junit.jupiter.api.Test;

class PublishDecisionTest {

    @Test
    void shouldPublishWhenNothingIsServing() {
        assertThat(PublishDecision.decide(2.5, OptionalDouble.empty(), 0.0))
                .isEqualTo(new PublishDecision(true, "validation loss 2.500000, no comparable serving version"));
    }

    @Test
    void shouldPublishWhenTheNewLossBeatsTheServingByMoreThanMinImprovement() {
        assertThat(PublishDecision.decide(1.0, OptionalDouble.of(1.2), 0.1)).isEqualTo(new PublishDecision(true,
                "validation loss 1.000000 beats the serving 1.200000 by more than 0.1"));
    }

    @Test
    void shouldNotPublishWhenTheImprovementIsAtMostMinImprovement() {
        assertThat(PublishDecision.decide(1.0, OptionalDouble.of(1.1), 0.1).publish()).isFalse();
        assertThat(PublishDecision.decide(1.0, OptionalDouble.of(1.05), 0.1).publish()).isFalse();
    }

    @Test
    void shouldNotPublishAnEqualLossWithZeroMinImprovement() {
        assertThat(PublishDecision.decide(1.0, OptionalDouble.of(1.0), 0.0)).isEqualTo(new PublishDecision(false,
                "validation loss 1.000000 does not beat the serving 1.000000 by more than 0.0"));
    }

    @Test
    void shouldNotPublishANonFiniteLoss() {
        assertThat(PublishDecision.decide(Double.NaN, OptionalDouble.empty(), 0.0))
                .isEqualTo(new PublishDecision(false, "validation loss NaN is not finite"));
    }
}

package io.tunestream.trainer.state;

import static org.assertj.core.api.Assertions.assertThat;

import io.tunestream.schemas.RetrainingSettings;
import java.util.OptionalLong;
import org.junit.jupiter.api.Test;

class RetrainingTriggerTest {

    private final RetrainingSettings settings = RetrainingSettings.newBuilder().setMinNewExamples(32)
            .setMaxDelayMillis(600_000).build();

    @Test
    void shouldNotStartWithoutNewExamples() {
        assertThat(RetrainingTrigger.due(0, OptionalLong.empty(), settings, Long.MAX_VALUE)).isEmpty();
    }

    @Test
    void shouldStartWhenMinNewExamplesHaveArrived() {
        assertThat(RetrainingTrigger.due(32, OptionalLong.of(1_000), settings, 1_001))
                .contains("32 new examples (minNewExamples 32)");
    }

    @Test
    void shouldWaitWhenFewerThanMinNewExamplesAndTheDelayHasNotPassed() {
        assertThat(RetrainingTrigger.due(31, OptionalLong.of(1_000), settings, 600_999)).isEmpty();
    }

    @Test
    void shouldStartWhenTheOldestUnusedExampleHasWaitedMaxDelay() {
        assertThat(RetrainingTrigger.due(1, OptionalLong.of(1_000), settings, 601_000))
                .contains("1 new examples, the oldest waiting 600000 ms (maxDelayMillis 600000)");
    }

    @Test
    void shouldTreatMinNewExamplesBelowOneAsOne() {
        RetrainingSettings eager = RetrainingSettings.newBuilder().setMinNewExamples(0).build();
        assertThat(RetrainingTrigger.due(0, OptionalLong.empty(), eager, 0)).isEmpty();
        assertThat(RetrainingTrigger.due(1, OptionalLong.of(0), eager, 0)).isPresent();
    }

    @Test
    void shouldEstimateTheNextRunFromTheWaitingExamples() {
        RetrainingSettings settings = RetrainingSettings.newBuilder().setMinNewExamples(10).setMaxDelayMillis(60_000)
                .build();

        assertThat(RetrainingTrigger.estimate(0, OptionalLong.empty(), settings, 5_000))
                .isEqualTo(new io.tunestream.trainer.control.NextRun("IDLE", null, 10));
        assertThat(RetrainingTrigger.estimate(4, OptionalLong.of(1_000), settings, 5_000))
                .isEqualTo(new io.tunestream.trainer.control.NextRun("WAITING", 61_000L, 6));
        assertThat(RetrainingTrigger.estimate(4, OptionalLong.of(1_000), settings, 61_000).state()).isEqualTo("DUE");
        assertThat(RetrainingTrigger.estimate(10, OptionalLong.of(1_000), settings, 5_000).state()).isEqualTo("DUE");
    }
}

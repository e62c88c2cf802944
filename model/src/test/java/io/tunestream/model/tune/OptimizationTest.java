package io.tunestream.model.tune;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

class OptimizationTest {

    @Test
    void shouldMatchHandComputedAdamWStepsWithDecoupledWeightDecay() {
        double[] p = {1.0};
        AdamW.State s = AdamW.State.initial(1);

        s = AdamW.NEMO_DEFAULTS.step(p, new double[]{0.5}, 0.1, s);
        // p·(1 − lr·wd) = 0.999; m̂ = 0.5, v̂ = 0.25 → 0.999 − 0.1·0.5/(0.5 + 1e-8)
        assertThat(p[0]).isCloseTo(0.899000002, within(1e-12));
        s = AdamW.NEMO_DEFAULTS.step(p, new double[]{-1.0}, 0.1, s);

        assertThat(p[0]).isCloseTo(0.9346063928348863, within(1e-12));
        assertThat(s.steps()).isEqualTo(2);
        assertThat(s.firstMoment()[0]).isCloseTo(-0.055, within(1e-15));
        assertThat(s.secondMoment()[0]).isCloseTo(0.0249, within(1e-15));
    }

    @Test
    void shouldUseNemoAdamWDefaults() {
        assertThat(AdamW.NEMO_DEFAULTS).isEqualTo(new AdamW(0.9, 0.98, 1e-8, 0.01));
    }

    @Test
    void shouldWarmUpLinearlyThenDecayOnACosineToMinLr() {
        CosineSchedule schedule = new CosineSchedule(1e-2, 1e-4, 4, 20);

        assertThat(schedule.lr(0)).isCloseTo(0.002, within(1e-15));
        assertThat(schedule.lr(3)).isCloseTo(0.008, within(1e-15));
        assertThat(schedule.lr(4)).isCloseTo(0.01, within(1e-15));
        assertThat(schedule.lr(5)).isCloseTo(0.00990488713799599, within(1e-15));
        assertThat(schedule.lr(12)).isCloseTo(0.00505, within(1e-15));
        assertThat(schedule.lr(20)).isCloseTo(1e-4, within(1e-15));
        assertThat(schedule.lr(21)).isEqualTo(1e-4);
    }

    @Test
    void shouldRejectAScheduleThatNeverLeavesWarmup() {
        assertThatThrownBy(() -> new CosineSchedule(1e-3, 0, 10, 10))
                .hasMessage("max_steps (10) must exceed warmup_steps (10): with so few steps the run would never leave warmup");
    }

    @Test
    void shouldScaleTheGradientToTheMaxNormOnlyWhenAbove() {
        double[] big = {3, 4};
        double[] small = {0.3, 0.4};

        double norm = GradientClipping.NEMO_DEFAULT.clip(big);
        GradientClipping.NEMO_DEFAULT.clip(small);

        assertThat(norm).isEqualTo(5.0);
        assertThat(big[0]).isCloseTo(3 / (5 + 1e-6), within(1e-15));
        assertThat(big[1]).isCloseTo(4 / (5 + 1e-6), within(1e-15));
        assertThat(small).containsExactly(0.3, 0.4);
    }

    @Test
    void shouldStopAfterPatienceEpochsWithoutAnImprovementLargerThanMinDelta() {
        EarlyStopping e = EarlyStopping.start(2, 0.01)
                .observe(0, 1.0)
                .observe(1, 0.995); // not better by more than 0.01

        assertThat(e.bestEpoch()).isZero();
        assertThat(e.shouldStop()).isFalse();
        e = e.observe(2, 0.98);
        assertThat(e.bestEpoch()).isEqualTo(2);
        assertThat(e.improvedLast()).isTrue();
        e = e.observe(3, 0.99).observe(4, 0.975);
        assertThat(e.shouldStop()).isTrue();
        assertThat(e.best()).isEqualTo(0.98);
    }

    @Test
    void shouldRejectAGlobalBatchThatIsNotAMultipleOfTheMicroBatch() {
        assertThatThrownBy(() -> TuningConfig.nemoDefaults(3, 4, 10, 1))
                .hasMessage("global_batch_size (10) must be a positive multiple of micro_batch_size (4)");
    }
}

package io.tunestream.trainer.loop;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.tunestream.schemas.RunStatus;
import io.tunestream.schemas.TrainingRun;
import org.junit.jupiter.api.Test;

class TrainerMetricsTest {

    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    private final TrainerMetrics metrics = new TrainerMetrics(registry);

    private static TrainingRun running(String task, long step, Double loss) {
        return TrainingRun.newBuilder().setRunId(task + "-r").setTask(task).setStatus(RunStatus.RUNNING).setStep(step)
                .setTrainLoss(loss).build();
    }

    private double gauge(String name, String task) {
        return registry.get(name).tag("task", task).gauge().value();
    }

    @Test
    void shouldShowTheLatestStepAndLossOfEachTasksRun() {
        metrics.progress("squad", running("squad", 3, 2.5));
        metrics.progress("boolq", running("boolq", 1, 0.75));
        metrics.progress("squad", running("squad", 7, 1.25));

        assertThat(gauge("tunestream.trainer.run.step", "squad")).isEqualTo(7.0);
        assertThat(gauge("tunestream.trainer.run.train.loss", "squad")).isEqualTo(1.25);
        assertThat(gauge("tunestream.trainer.run.step", "boolq")).isEqualTo(1.0);
        assertThat(gauge("tunestream.trainer.run.train.loss", "boolq")).isEqualTo(0.75);
    }

    @Test
    void shouldShowNoLossBeforeTheRunReportsOne() {
        metrics.progress("squad", running("squad", 0, null));

        assertThat(gauge("tunestream.trainer.run.train.loss", "squad")).isNaN();
    }

    @Test
    void shouldShowEachTasksLatestValidationLossFromItsRunsAndTheirEnd() {
        metrics.progress("squad", running("squad", 5, 1.5));
        assertThat(gauge("tunestream.trainer.run.validation.loss", "squad")).as("no evaluation yet").isNaN();

        metrics.progress("squad", TrainingRun.newBuilder(running("squad", 10, 1.0)).setValidationLoss(0.875).build());
        assertThat(gauge("tunestream.trainer.run.validation.loss", "squad")).isEqualTo(0.875);

        TrainingRun ended = TrainingRun.newBuilder(running("squad", 12, 0.9)).setStatus(RunStatus.NOT_PUBLISHED)
                .setValidationLoss(0.8125).build();
        metrics.runEnded("squad", new io.tunestream.trainer.run.RunOutcome.NotPublished(ended),
                java.time.Duration.ofSeconds(3));
        assertThat(gauge("tunestream.trainer.run.validation.loss", "squad")).isEqualTo(0.8125);
        assertThat(gauge("tunestream.trainer.run.step", "squad")).as("the step stays the last reported").isEqualTo(10.0);
    }
}

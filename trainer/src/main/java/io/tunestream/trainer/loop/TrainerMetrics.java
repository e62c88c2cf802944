package io.tunestream.trainer.loop;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.tunestream.trainer.run.RunOutcome;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;

/**
 * The trainer's meters (Prometheus names): {@code tunestream_trainer_runs_total{task,outcome}} (outcome
 * started, published, not_published, failed), {@code tunestream_trainer_examples_total{task}} (examples
 * received), {@code tunestream_trainer_skipped_total{reason}} (examples and feedback left out, by reason),
 * {@code tunestream_trainer_feedback_total{verdict}}, {@code tunestream_trainer_run_duration_seconds{task}},
 * {@code tunestream_trainer_dead_letters_total{topic}} (records of an input sent to the trainer's DLQ),
 * {@code tunestream_trainer_input_retries_total{reason}} (reading paused by a transient failure),
 * {@code tunestream_trainer_examples_deleted_total{task}}, {@code tunestream_trainer_run_step{task}} and
 * {@code tunestream_trainer_run_train_loss{task}} (progress of the task's latest run).
 * Thread-safe (the loop and the run worker both record).
 */
public final class TrainerMetrics {

    private final MeterRegistry registry;
    private final java.util.concurrent.ConcurrentMap<String, RunProgress> progress =
            new java.util.concurrent.ConcurrentHashMap<>();

    public TrainerMetrics(MeterRegistry registry) {
        this.registry = Objects.requireNonNull(registry, "registry");
    }

    public void runStarted(String task) {
        runs(task, "started").increment();
    }

    public void runEnded(String task, RunOutcome outcome, Duration took) {
        String name = outcome instanceof RunOutcome.Published ? "published"
                : outcome instanceof RunOutcome.NotPublished ? "not_published" : "failed";
        runs(task, name).increment();
        Timer.builder("tunestream.trainer.run.duration").description("Wall-clock time of a tuning run")
                .tag("task", task).register(registry).record(took);
        Map<String, Long> skipped = outcome.run().getSkipped();
        skipped.forEach((reason, n) -> skipped(reason, n));
        if (outcome.run().getValidationLoss() != null) {
            progress(task).validated(outcome.run().getValidationLoss());
        }
    }

    /**
     * The step and losses of a task's run in progress (its RUNNING record), as gauges tagged by task: the
     * latest run's values stay until the next run reports.
     */
    public void progress(String task, io.tunestream.schemas.TrainingRun running) {
        RunProgress p = progress(task);
        p.update(running.getStep(), running.getTrainLoss() == null ? Double.NaN : running.getTrainLoss());
        if (running.getValidationLoss() != null) {
            p.validated(running.getValidationLoss());
        }
    }

    private RunProgress progress(String task) {
        return progress.computeIfAbsent(task, t -> {
            RunProgress p = new RunProgress();
            Gauge.builder("tunestream.trainer.run.step", p, RunProgress::step)
                    .description("Optimizer step of the task's latest run").tag("task", t).register(registry);
            Gauge.builder("tunestream.trainer.run.train.loss", p, RunProgress::trainLoss)
                    .description("Training loss at the latest step of the task's latest run").tag("task", t)
                    .register(registry);
            // the quality gate's number: a task's curve over runs shows whether new examples still help
            Gauge.builder("tunestream.trainer.run.validation.loss", p, RunProgress::validationLoss)
                    .description("Validation loss of the task's latest run, at its latest evaluation").tag("task", t)
                    .register(registry);
            return p;
        });
    }

    /** Written by run workers, read by the meter registry. */
    private static final class RunProgress {
        private volatile double step;
        private volatile double trainLoss = Double.NaN;
        private volatile double validationLoss = Double.NaN;

        void update(double latestStep, double latestLoss) {
            step = latestStep;
            trainLoss = latestLoss;
        }

        double step() {
            return step;
        }

        double trainLoss() {
            return trainLoss;
        }

        void validated(double loss) {
            validationLoss = loss;
        }

        double validationLoss() {
            return validationLoss;
        }
    }

    public void example(String task) {
        Counter.builder("tunestream.trainer.examples").description("Examples received, by task")
                .tag("task", task).register(registry).increment();
    }

    public void skipped(String reason, long n) {
        Counter.builder("tunestream.trainer.skipped").description("Examples or feedback left out, by reason")
                .tag("reason", reason).register(registry).increment(n);
    }

    public void deadLettered(String topic) {
        Counter.builder("tunestream.trainer.dead.letters").description("Records sent to the trainer's DLQ, by input topic")
                .tag("topic", topic).register(registry).increment();
    }

    public void retry(String reason) {
        Counter.builder("tunestream.trainer.input.retries")
                .description("Times reading paused for a transient failure, by reason").tag("reason", reason)
                .register(registry).increment();
    }

    public void deleted(String task) {
        Counter.builder("tunestream.trainer.examples.deleted").description("Example deletions (tombstones), by task")
                .tag("task", task).register(registry).increment();
    }

    public void feedback(String verdict) {
        Counter.builder("tunestream.trainer.feedback").description("Feedback received, by verdict")
                .tag("verdict", verdict).register(registry).increment();
    }

    private Counter runs(String task, String outcome) {
        return Counter.builder("tunestream.trainer.runs").description("Tuning runs, by task and outcome")
                .tag("task", task).tag("outcome", outcome).register(registry);
    }
}

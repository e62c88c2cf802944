package io.tunestream.model.tune;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * The p-tuning loop of one or several tasks: each task's encoder is trained with AdamW on the cosine
 * schedule, gradients accumulated over micro-batches into global batches and clipped; the validation
 * loss is computed after every epoch and drives early stopping; the table of the best validation epoch
 * is the result, together with a {@link TaskCheckpoint} from which {@link #resume} continues exactly
 * (same parameters, moments, data order and dropout masks as an uninterrupted run).
 *
 * <p>Deterministic on CPU for a given seed as long as the objective is: every random draw comes from a
 * {@link SplittableRandom} seeded from the run's seed and the position in the run.
 *
 * <p>A NaN or infinite loss or gradient stops the task with {@link StopReason#NON_FINITE_LOSS}; the
 * checkpoint returned is the last good state (before the failing step). Several tasks in one run are
 * tuned one after the other, each with its own encoder and optimizer.
 */
public final class PromptTuner {

    private static final Logger LOG = LoggerFactory.getLogger(PromptTuner.class);

    private static final long INIT_STREAM = 1;
    private static final long SHUFFLE_STREAM = 2;
    private static final long DROPOUT_STREAM = 3;

    /** Tunes every task from scratch with {@code config}; results in the order of {@code tasks}. */
    public Map<String, TaskResult> tuneAll(List<? extends TaskTuning<?>> tasks, TuningConfig config) {
        Map<String, TaskResult> results = new LinkedHashMap<>();
        for (TaskTuning<?> task : tasks) {
            if (results.containsKey(task.task())) {
                throw new IllegalArgumentException("task " + task.task() + " appears twice in one tuning run");
            }
            results.put(task.task(), null);
        }
        for (TaskTuning<?> task : tasks) {
            results.put(task.task(), tune(task, config));
        }
        return results;
    }

    /** Tunes {@code spec} from scratch until it completes, stops early, or fails. */
    public <E> TaskResult tune(TaskTuning<E> spec, TuningConfig config) {
        return tune(spec, config, Long.MAX_VALUE);
    }

    /** As {@link #tune(TaskTuning, TuningConfig)}, stopping after at most {@code stepBudget} optimizer steps. */
    public <E> TaskResult tune(TaskTuning<E> spec, TuningConfig config, long stepBudget) {
        return run(spec, start(spec, config), stepBudget);
    }

    /** Continues from {@code from} with at most {@code stepBudget} more optimizer steps. */
    public <E> TaskResult resume(TaskTuning<E> spec, TaskCheckpoint from, long stepBudget) {
        if (!from.task().equals(spec.task())) {
            throw new IllegalArgumentException("cannot resume task " + spec.task() + " from a checkpoint of task "
                    + from.task());
        }
        if (!from.encoder().equals(spec.encoder()) || from.hidden() != spec.hidden()) {
            throw new IllegalArgumentException("cannot resume task " + spec.task() + ": the checkpoint's encoder "
                    + from.encoder() + " (hidden " + from.hidden() + ") differs from the requested " + spec.encoder()
                    + " (hidden " + spec.hidden() + ")");
        }
        return run(spec, from, stepBudget);
    }

    /** The state before the first step: initial parameters, zero moments. */
    public <E> TaskCheckpoint start(TaskTuning<E> spec, TuningConfig config) {
        PromptEncoder encoder = PromptEncoder.of(spec.encoder(), spec.hidden());
        SplittableRandom rng = new SplittableRandom(Seeds.derive(config.seed(), spec.task().hashCode(), INIT_STREAM));
        double[] rows = VirtualTokenInit.rows(spec.encoder(), spec.tokenEmbeddings(), spec.hidden(), spec.initTextIds(), rng);
        double[] parameters = encoder.initialParameters(rows, rng);
        return new TaskCheckpoint(spec.task(), spec.encoder(), spec.hidden(), config, parameters,
                AdamW.State.initial(parameters.length), 0, 0, 0.0,
                EarlyStopping.start(config.patience(), config.minDelta()), parameters, List.of());
    }

    private <E> TaskResult run(TaskTuning<E> spec, TaskCheckpoint state, long stepBudget) {
        if (stepBudget < 0) {
            throw new IllegalArgumentException("step budget must be non-negative, got " + stepBudget);
        }
        TuningConfig config = state.config();
        PromptEncoder encoder = PromptEncoder.of(spec.encoder(), spec.hidden());
        CosineSchedule schedule = config.schedule(spec.train().size());
        long stepsPerEpoch = config.stepsPerEpoch(spec.train().size());
        long budget = stepBudget;
        double lr = Double.NaN;
        while (!state.finished()) {
            int epoch = state.epoch();
            List<E> order = shuffled(spec.train(), Seeds.derive(config.seed(), spec.task().hashCode(), SHUFFLE_STREAM, epoch));
            double[] parameters = state.parameters();
            AdamW.State optimizer = state.optimizer();
            double lossSum = state.epochLossSum();
            for (long s = state.stepInEpoch(); s < stepsPerEpoch; s++) {
                if (budget == 0) {
                    return result(spec, encoder, state, StopReason.STEP_BUDGET,
                            "step budget of " + stepBudget + " used up at step " + state.step() + " (epoch " + epoch + ")");
                }
                int from = Math.toIntExact(s * config.globalBatch());
                List<E> global = order.subList(from, Math.min(from + config.globalBatch(), order.size()));
                int micros = (global.size() + config.microBatch() - 1) / config.microBatch();
                double[] gradient = new double[parameters.length];
                double loss = 0;
                for (int j = 0; j < micros; j++) {
                    List<E> micro = global.subList(j * config.microBatch(),
                            Math.min((j + 1) * config.microBatch(), global.size()));
                    SplittableRandom dropout = new SplittableRandom(
                            Seeds.derive(config.seed(), spec.task().hashCode(), DROPOUT_STREAM, optimizer.steps(), j));
                    PromptEncoder.EncoderPass pass = encoder.forward(parameters, dropout);
                    TableObjective.Evaluation ev = spec.objective().lossAndGradient(TableMath.toFloats(pass.table()), micro);
                    loss += ev.loss() / micros;
                    double[] g = pass.backward(TableMath.toDoubles(ev.tableGradient()));
                    for (int i = 0; i < g.length; i++) {
                        gradient[i] += g[i] / micros;
                    }
                }
                if (!Double.isFinite(loss) || !TableMath.allFinite(gradient)) {
                    String detail = "non-finite training loss " + loss + (Double.isFinite(loss) ? " gradient" : "")
                            + " at step " + optimizer.steps() + " (epoch " + epoch + ", task " + spec.task()
                            + "); kept the checkpoint after " + state.step() + " steps";
                    LOG.warn(detail);
                    return result(spec, encoder, state, StopReason.NON_FINITE_LOSS, detail);
                }
                config.clipping().clip(gradient);
                lr = schedule.lr(optimizer.steps());
                optimizer = config.optimizer().step(parameters, gradient, lr, optimizer);
                lossSum += loss;
                budget--;
                state = new TaskCheckpoint(spec.task(), spec.encoder(), spec.hidden(), config, parameters, optimizer,
                        epoch, s + 1, lossSum, state.earlyStopping(), state.bestParameters(), state.history());
            }
            double validation = validationLoss(spec, encoder.table(parameters), config.microBatch());
            if (!Double.isFinite(validation)) {
                String detail = "non-finite validation loss " + validation + " after epoch " + epoch + " (task "
                        + spec.task() + ")";
                LOG.warn(detail);
                return result(spec, encoder, state, StopReason.NON_FINITE_LOSS, detail);
            }
            EarlyStopping early = state.earlyStopping().observe(epoch, validation);
            List<EpochResult> history = new ArrayList<>(state.history());
            EpochResult done = new EpochResult(epoch, lossSum / stepsPerEpoch, validation,
                    Double.isNaN(lr) ? schedule.lr(Math.max(0, optimizer.steps() - 1)) : lr);
            history.add(done);
            LOG.info("task {} epoch {}: train loss {}, validation loss {}{}", spec.task(), epoch,
                    String.format("%.4f", done.trainLoss()), String.format("%.4f", validation),
                    early.improvedLast() ? " (best)" : "");
            state = new TaskCheckpoint(spec.task(), spec.encoder(), spec.hidden(), config, parameters, optimizer,
                    epoch + 1, 0, 0.0, early, early.improvedLast() ? parameters : state.bestParameters(), history);
        }
        StopReason reason = state.earlyStopping().shouldStop() ? StopReason.EARLY_STOPPED : StopReason.COMPLETED;
        String detail = reason == StopReason.EARLY_STOPPED
                ? "no validation improvement above " + config.minDelta() + " for " + config.patience() + " epochs"
                : "ran " + state.history().size() + " epochs";
        return result(spec, encoder, state, reason, detail);
    }

    private static <E> double validationLoss(TaskTuning<E> spec, double[] table, int microBatch) {
        float[] t = TableMath.toFloats(table);
        double weighted = 0;
        long tokens = 0;
        List<E> examples = spec.validation();
        for (int from = 0; from < examples.size(); from += microBatch) {
            TableObjective.Evaluation ev = spec.objective().loss(t,
                    examples.subList(from, Math.min(from + microBatch, examples.size())));
            weighted += ev.loss() * ev.tokens();
            tokens += ev.tokens();
        }
        return weighted / tokens;
    }

    private static <E> List<E> shuffled(List<E> examples, long seed) {
        // Fisher-Yates with SplittableRandom (Collections.shuffle takes a RandomGenerator only from Java 21)
        List<E> order = new ArrayList<>(examples);
        SplittableRandom rng = new SplittableRandom(seed);
        for (int i = order.size() - 1; i > 0; i--) {
            Collections.swap(order, i, rng.nextInt(i + 1));
        }
        return order;
    }

    private static <E> TaskResult result(TaskTuning<E> spec, PromptEncoder encoder, TaskCheckpoint state,
                                         StopReason reason, String detail) {
        EarlyStopping early = state.earlyStopping();
        TuningReport report = new TuningReport(spec.task(), spec.train().size(), spec.validation().size(), spec.skipped(),
                state.history(), early.bestEpoch(), early.best(), state.step(), reason, detail);
        float[] table = TableMath.toFloats(encoder.table(state.bestParameters()));
        return new TaskResult(table, state, report);
    }
}

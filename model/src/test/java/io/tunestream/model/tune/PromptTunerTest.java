package io.tunestream.model.tune;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The loop against a stand-in objective: each example is a target value, the loss of a batch is the mean
 * squared distance of every table entry to the batch's targets (its minimum is the targets' mean).
 */
class PromptTunerTest {

    private static final int HIDDEN = 4;
    private static final int TOKENS = 3;

    /** Squared error; a target of NaN poisons the loss. */
    static final class Quadratic implements TableObjective<Double> {
        int calls;

        @Override
        public Evaluation lossAndGradient(float[] table, List<Double> batch) {
            calls++;
            float[] grad = new float[table.length];
            double loss = 0;
            for (double target : batch) {
                for (int i = 0; i < table.length; i++) {
                    double d = table[i] - target;
                    loss += d * d / (batch.size() * table.length);
                    grad[i] += (float) (2 * d / (batch.size() * table.length));
                }
            }
            return new Evaluation(loss, batch.size(), grad);
        }

        @Override
        public Evaluation loss(float[] table, List<Double> batch) {
            Evaluation e = lossAndGradient(table, batch);
            return new Evaluation(e.loss(), e.tokens(), new float[0]);
        }
    }

    private static TaskTuning<Double> task(String name, EncoderType type, double dropout, List<Double> train,
                                           TableObjective<Double> objective) {
        PromptEncoderConfig encoder = new PromptEncoderConfig(type, TOKENS, 8, 2, dropout, 0.1, EmbeddingInit.VOCAB,
                Optional.empty());
        float[] embeddings = new float[16 * HIDDEN];
        for (int i = 0; i < embeddings.length; i++) {
            embeddings[i] = (float) Math.sin(i);
        }
        return new TaskTuning<>(name, encoder, embeddings, HIDDEN, new int[0], train, List.of(0.5, 0.7),
                Map.of("missing field 'question'", 2L), objective);
    }

    private static List<Double> targets(int n) {
        return IntStream.range(0, n).mapToObj(i -> 0.4 + 0.4 * (i % 3)).toList();
    }

    private static TuningConfig config(int epochs) {
        return new TuningConfig(0.05, 0.001, 2, epochs, 2, 4, AdamW.NEMO_DEFAULTS, GradientClipping.NEMO_DEFAULT,
                10, 0.0, 42);
    }

    @Test
    void shouldLowerTheValidationLossAndReportEveryEpoch() {
        TaskResult result = new PromptTuner().tune(task("t", EncoderType.TPMLP, 0.0, targets(12), new Quadratic()), config(6));

        List<EpochResult> epochs = result.report().epochs();
        assertThat(epochs).hasSize(6);
        assertThat(epochs.get(5).validationLoss()).isLessThan(epochs.get(0).validationLoss() / 2);
        assertThat(result.report().stopReason()).isEqualTo(StopReason.COMPLETED);
        assertThat(result.report().steps()).isEqualTo(6 * 3);
        assertThat(result.report().trainExamples()).isEqualTo(12);
        assertThat(result.report().skipped()).containsEntry("missing field 'question'", 2L);
        assertThat(result.table()).hasSize(TOKENS * HIDDEN);
        assertThat(result.table()).containsExactly(result.checkpoint().table());
    }

    @Test
    void shouldProduceIdenticalTablesForTheSameSeed() {
        TaskResult a = new PromptTuner().tune(task("t", EncoderType.LSTM, 0.2, targets(8), new Quadratic()), config(2));
        TaskResult b = new PromptTuner().tune(task("t", EncoderType.LSTM, 0.2, targets(8), new Quadratic()), config(2));
        TaskResult other = new PromptTuner().tune(task("t", EncoderType.LSTM, 0.2, targets(8), new Quadratic()),
                new TuningConfig(0.05, 0.001, 2, 2, 2, 4, AdamW.NEMO_DEFAULTS, GradientClipping.NEMO_DEFAULT, 10, 0.0, 43));

        assertThat(a.table()).containsExactly(b.table());
        assertThat(a.checkpoint().parameters()).containsExactly(b.checkpoint().parameters());
        assertThat(other.table()).isNotEqualTo(a.table());
    }

    @Test
    void shouldContinueFromASavedCheckpointExactlyAsAnUninterruptedRun(@TempDir Path dir) {
        // 10 examples, global batch 4 → 3 steps an epoch (the last one short); stop mid-epoch 1
        PromptTuner tuner = new PromptTuner();
        TaskResult uninterrupted = tuner.tune(task("t", EncoderType.LSTM, 0.3, targets(10), new Quadratic()), config(3));

        TaskResult first = tuner.tune(task("t", EncoderType.LSTM, 0.3, targets(10), new Quadratic()), config(3), 4);
        assertThat(first.report().stopReason()).isEqualTo(StopReason.STEP_BUDGET);
        assertThat(first.checkpoint().epoch()).isEqualTo(1);
        assertThat(first.checkpoint().stepInEpoch()).isEqualTo(1);
        Path file = dir.resolve("t.ckpt");
        CheckpointCodec.write(first.checkpoint(), file);
        TaskResult resumed = tuner.resume(task("t", EncoderType.LSTM, 0.3, targets(10), new Quadratic()),
                CheckpointCodec.read(file), Long.MAX_VALUE);

        assertThat(resumed.checkpoint().parameters()).containsExactly(uninterrupted.checkpoint().parameters());
        assertThat(resumed.checkpoint().optimizer().firstMoment())
                .containsExactly(uninterrupted.checkpoint().optimizer().firstMoment());
        assertThat(resumed.table()).containsExactly(uninterrupted.table());
        assertThat(resumed.report().epochs()).isEqualTo(uninterrupted.report().epochs());
        assertThat(resumed.report().stopReason()).isEqualTo(StopReason.COMPLETED);
    }

    @Test
    void shouldStopOnANonFiniteLossAndKeepTheLastGoodCheckpoint() {
        List<Double> train = new ArrayList<>(targets(8));
        train.set(5, Double.NaN);
        // micro-batch 2, global 4: the NaN example is met in one of the first epoch's two steps
        TaskResult result = new PromptTuner().tune(task("t", EncoderType.MLP, 0.0, train, new Quadratic()), config(3));

        assertThat(result.report().stopReason()).isEqualTo(StopReason.NON_FINITE_LOSS);
        long goodSteps = result.checkpoint().step();
        assertThat(goodSteps).isLessThan(2);
        assertThat(result.report().detail()).isEqualTo("non-finite training loss NaN at step " + goodSteps
                + " (epoch 0, task t); kept the checkpoint after " + goodSteps + " steps");
        assertThat(TableMath.allFinite(result.checkpoint().parameters())).isTrue();
        assertThat(TableMath.allFinite(TableMath.toDoubles(result.table()))).isTrue();
    }

    @Test
    void shouldStopEarlyWhenTheValidationLossStopsImproving() {
        TuningConfig cfg = config(50).withLr(1e-9, 0.0, 0).withEarlyStopping(2, 0.01);

        TaskResult result = new PromptTuner().tune(task("t", EncoderType.EMBEDDING, 0.0, targets(4), new Quadratic()), cfg);

        assertThat(result.report().stopReason()).isEqualTo(StopReason.EARLY_STOPPED);
        assertThat(result.report().epochs()).hasSize(3);
        assertThat(result.report().bestEpoch()).isZero();
    }

    @Test
    void shouldTuneSeveralTasksInOneRunEachWithItsOwnTable() {
        Map<String, TaskResult> results = new PromptTuner().tuneAll(List.of(
                task("low", EncoderType.EMBEDDING, 0.0, List.of(0.1, 0.1, 0.1, 0.1), new Quadratic()),
                task("high", EncoderType.TPMLP, 0.0, List.of(0.9, 0.9, 0.9, 0.9), new Quadratic())), config(30));

        assertThat(results).containsOnlyKeys("low", "high");
        assertThat(mean(results.get("low").table())).isLessThan(mean(results.get("high").table()));
    }

    @Test
    void shouldFailATaskWithNoUsableExampleNamingTheSkipReasons() {
        assertThatThrownBy(() -> new TaskTuning<>("squad", PromptEncoderConfig.defaults(EncoderType.EMBEDDING, 2),
                new float[8], 4, new int[0], List.<Double>of(), List.of(1.0), Map.of("empty answer", 3L), new Quadratic()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("task squad has no usable training example (skipped: {empty answer=3})");
    }

    @Test
    void shouldRefuseToResumeAnotherTasksCheckpoint() {
        PromptTuner tuner = new PromptTuner();
        TaskCheckpoint start = tuner.start(task("a", EncoderType.EMBEDDING, 0.0, targets(4), new Quadratic()), config(1));

        assertThatThrownBy(() -> tuner.resume(task("b", EncoderType.EMBEDDING, 0.0, targets(4), new Quadratic()), start, 1))
                .hasMessage("cannot resume task b from a checkpoint of task a");
    }

    @Test
    void shouldRoundTripACheckpointBitExactly() {
        TaskResult r = new PromptTuner().tune(task("t", EncoderType.LSTM, 0.1, targets(6), new Quadratic()), config(2), 3);

        TaskCheckpoint back = CheckpointCodec.decode(CheckpointCodec.encode(r.checkpoint()));

        assertThat(back.parameters()).containsExactly(r.checkpoint().parameters());
        assertThat(back.optimizer().secondMoment()).containsExactly(r.checkpoint().optimizer().secondMoment());
        assertThat(back.bestParameters()).containsExactly(r.checkpoint().bestParameters());
        assertThat(back.history()).isEqualTo(r.checkpoint().history());
        assertThat(back.config()).isEqualTo(r.checkpoint().config());
        assertThat(back.encoder()).isEqualTo(r.checkpoint().encoder());
        assertThat(back.earlyStopping()).isEqualTo(r.checkpoint().earlyStopping());
        assertThat(back.stepInEpoch()).isEqualTo(r.checkpoint().stepInEpoch());
    }

    private static double mean(float[] values) {
        double s = 0;
        for (float v : values) {
            s += v;
        }
        return s / values.length;
    }
}

package io.tunestream.trainer.run;

import static org.assertj.core.api.Assertions.assertThat;

import io.tunestream.model.tune.AdamW;
import io.tunestream.model.tune.EarlyStopping;
import io.tunestream.model.tune.EncoderType;
import io.tunestream.model.tune.ParameterLayout;
import io.tunestream.model.tune.PromptEncoder;
import io.tunestream.model.tune.PromptEncoderConfig;
import io.tunestream.model.tune.TaskCheckpoint;
import io.tunestream.model.tune.TuningConfig;
import io.tunestream.schemas.AdapterCheckpoint;
import io.tunestream.schemas.PromptEncoderType;
import io.tunestream.schemas.VirtualPromptStyle;
import java.util.List;
import java.util.Optional;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

class WarmStartTest {

    private static final int HIDDEN = 8;
    private final PromptEncoderConfig mlp = PromptEncoderConfig.defaults(EncoderType.MLP, 3).withEncoderHidden(6);
    private final ParameterLayout layout = PromptEncoder.of(mlp, HIDDEN).layout();

    private AdapterCheckpoint checkpoint(String fingerprint, PromptEncoderType type) {
        double[] parameters = IntStream.range(0, layout.size()).mapToDouble(i -> i * 0.25).toArray();
        TuningConfig config = TuningConfig.nemoDefaults(2, 1, 1, 1);
        TaskCheckpoint c = new TaskCheckpoint("qa", mlp, HIDDEN, config, new double[layout.size()],
                AdamW.State.initial(layout.size()), 2, 0, 0.0, EarlyStopping.start(10, 0.001), parameters, List.of());
        return CheckpointRecords.toRecord(c, layout, 3, "run-3", fingerprint, VirtualPromptStyle.P_TUNING, type, 0);
    }

    @Test
    void shouldStartFromScratchWithoutCheckpoint() {
        WarmStart start = WarmStart.select(Optional.empty(), "model-a", EncoderType.MLP, layout);
        assertThat(start.warm()).isFalse();
        assertThat(start.reason()).isEqualTo("from scratch: no checkpoint yet");
    }

    @Test
    void shouldStartFromTheCheckpointsBestParametersWhenModelAndEncoderMatch() {
        WarmStart start = WarmStart.select(Optional.of(checkpoint("model-a", PromptEncoderType.MLP)), "model-a",
                EncoderType.MLP, layout);
        assertThat(start.warm()).isTrue();
        assertThat(start.fromVersion()).contains(3);
        assertThat(start.reason()).isEqualTo("warm start from checkpoint v3 (run run-3)");
        assertThat(start.parameters().orElseThrow())
                .containsExactly(IntStream.range(0, layout.size()).mapToDouble(i -> i * 0.25).toArray());
    }

    @Test
    void shouldStartFromScratchWhenTheModelDiffers() {
        WarmStart start = WarmStart.select(Optional.of(checkpoint("model-a", PromptEncoderType.MLP)), "model-b",
                EncoderType.MLP, layout);
        assertThat(start.warm()).isFalse();
        assertThat(start.reason()).isEqualTo("from scratch: checkpoint v3 was tuned for model model-a, this model is model-b");
    }

    @Test
    void shouldStartFromScratchWhenTheEncoderTypeDiffers() {
        WarmStart start = WarmStart.select(Optional.of(checkpoint("model-a", PromptEncoderType.MLP)), "model-a",
                EncoderType.TPMLP, PromptEncoder.of(PromptEncoderConfig.defaults(EncoderType.TPMLP, 3), HIDDEN).layout());
        assertThat(start.reason()).isEqualTo("from scratch: checkpoint v3 used encoder mlp, the template now asks for tpmlp");
    }

    @Test
    void shouldStartFromScratchWhenTheEncoderShapesDiffer() {
        ParameterLayout wider = PromptEncoder.of(mlp.withEncoderHidden(12), HIDDEN).layout();
        WarmStart start = WarmStart.select(Optional.of(checkpoint("model-a", PromptEncoderType.MLP)), "model-a",
                EncoderType.MLP, wider);
        assertThat(start.warm()).isFalse();
        assertThat(start.reason()).startsWith("from scratch: checkpoint v3: parameter '");
    }

    @Test
    void shouldKeepTheMomentsNamedAfterTheirParameter() {
        AdapterCheckpoint record = checkpoint("model-a", PromptEncoderType.MLP);
        assertThat(record.getOptimizerState()).hasSize(2 * layout.tensors().size());
        assertThat(record.getOptimizerState().get(0).getName()).isEqualTo("adam.m." + layout.tensors().get(0).name());
        assertThat(record.getEpoch()).isEqualTo(2);
        assertThat(record.getVersion()).isEqualTo(3);
    }

    /** An embedding table of 3 rows x {@code width}, as prompt tuning and prefix tuning both train. */
    private static AdapterCheckpoint embeddingCheckpoint(VirtualPromptStyle style, int width) {
        PromptEncoderConfig embedding = PromptEncoderConfig.defaults(EncoderType.EMBEDDING, 3);
        ParameterLayout table = PromptEncoder.of(embedding, width).layout();
        double[] parameters = IntStream.range(0, table.size()).mapToDouble(i -> i * 0.5).toArray();
        TaskCheckpoint c = new TaskCheckpoint("qa", embedding, width, TuningConfig.nemoDefaults(2, 1, 1, 1),
                parameters, AdamW.State.initial(table.size()), 2, 0, 0.0, EarlyStopping.start(10, 0.001), parameters,
                List.of());
        return CheckpointRecords.toRecord(c, table, 4, "run-4", "model-a", style, PromptEncoderType.TPMLP, 0);
    }

    @Test
    void shouldWarmStartAProjectedDeepPromptOnlyFromAProjectedOne() {
        // a deep prompt trained through prefix_projection is checkpointed as its MLP (encoder type MLP)
        TaskCheckpoint c = new TaskCheckpoint("qa", mlp, HIDDEN, TuningConfig.nemoDefaults(2, 1, 1, 1),
                new double[layout.size()], AdamW.State.initial(layout.size()), 2, 0, 0.0, EarlyStopping.start(10, 0.001),
                new double[layout.size()], List.of());
        AdapterCheckpoint projected = CheckpointRecords.toRecord(c, layout, 5, "run-5", "model-a",
                VirtualPromptStyle.PREFIX_TUNING, PromptEncoderType.MLP, 0);
        ParameterLayout plain = PromptEncoder.of(PromptEncoderConfig.defaults(EncoderType.EMBEDDING, 3), HIDDEN).layout();

        WarmStart again = WarmStart.select(Optional.of(projected), "model-a", EncoderType.MLP, true, layout);
        WarmStart plainFromProjected = WarmStart.select(Optional.of(projected), "model-a", EncoderType.EMBEDDING, true,
                plain);
        // deep prompts checkpointed before the projection recorded the template's encoder type (TPMLP by default)
        WarmStart projectedFromOld = WarmStart.select(Optional.of(embeddingCheckpoint(VirtualPromptStyle.PREFIX_TUNING,
                HIDDEN)), "model-a", EncoderType.MLP, true, layout);

        assertThat(again.reason()).isEqualTo("warm start from checkpoint v5 (run run-5)");
        assertThat(plainFromProjected.reason()).isEqualTo("from scratch: checkpoint v5 used encoder mlp, the template "
                + "now asks for embedding");
        assertThat(projectedFromOld.reason()).isEqualTo("from scratch: checkpoint v4 used encoder embedding, the "
                + "template now asks for mlp");
    }

    @Test
    void shouldWarmStartADeepPromptFromADeepPromptCheckpoint() {
        ParameterLayout prefix = PromptEncoder.of(PromptEncoderConfig.defaults(EncoderType.EMBEDDING, 3), HIDDEN).layout();

        WarmStart start = WarmStart.select(Optional.of(embeddingCheckpoint(VirtualPromptStyle.PREFIX_TUNING, HIDDEN)),
                "model-a", EncoderType.EMBEDDING, true, prefix);

        assertThat(start.reason()).isEqualTo("warm start from checkpoint v4 (run run-4)");
        assertThat(start.parameters().orElseThrow())
                .containsExactly(IntStream.range(0, prefix.size()).mapToDouble(i -> i * 0.5).toArray());
    }

    @Test
    void shouldNotWarmStartADeepPromptFromAPromptTuningTableOfTheSameShapeNorTheReverse() {
        ParameterLayout same = PromptEncoder.of(PromptEncoderConfig.defaults(EncoderType.EMBEDDING, 3), HIDDEN).layout();

        WarmStart deepFromTable = WarmStart.select(Optional.of(embeddingCheckpoint(VirtualPromptStyle.PROMPT_TUNING,
                HIDDEN)), "model-a", EncoderType.EMBEDDING, true, same);
        WarmStart tableFromDeep = WarmStart.select(Optional.of(embeddingCheckpoint(VirtualPromptStyle.PREFIX_TUNING,
                HIDDEN)), "model-a", EncoderType.EMBEDDING, same);

        assertThat(deepFromTable.warm()).isFalse();
        assertThat(deepFromTable.reason()).isEqualTo("from scratch: checkpoint v4 is not a deep prompt (prefix-tuning), "
                + "the template now asks for one");
        assertThat(tableFromDeep.warm()).isFalse();
        assertThat(tableFromDeep.reason()).isEqualTo("from scratch: checkpoint v4 is a deep prompt (prefix-tuning), "
                + "the template now asks for a table");
    }

    // exact resume: the checkpoint's whole state, in pieces

    private static final TuningConfig CONFIG = TuningConfig.nemoDefaults(2, 1, 1, 1);

    /** A state in epoch 1 of 2, 3 steps in, with moments and history: nothing of it is a default. */
    private TaskCheckpoint running() {
        double[] parameters = IntStream.range(0, layout.size()).mapToDouble(i -> Math.sin(i) / 3).toArray();
        double[] best = IntStream.range(0, layout.size()).mapToDouble(i -> Math.cos(i) / 7).toArray();
        double[] m = IntStream.range(0, layout.size()).mapToDouble(i -> i * 1e-3 / 9).toArray();
        double[] v = IntStream.range(0, layout.size()).mapToDouble(i -> i * 1e-6 / 11).toArray();
        return new TaskCheckpoint("qa", mlp, HIDDEN, CONFIG, parameters, new AdamW.State(m, v, 7), 1, 3, 2.5,
                EarlyStopping.start(10, 0.001).observe(0, 0.75), best,
                List.of(new io.tunestream.model.tune.EpochResult(0, 1.0, 0.75, 1e-4)));
    }

    private List<CheckpointChunks.Keyed> written(TaskCheckpoint state, boolean finished, boolean inProgress) {
        AdapterCheckpoint head = CheckpointRecords.toRecord(state, layout, 3, "run-3", "model-a",
                VirtualPromptStyle.P_TUNING, PromptEncoderType.MLP, 0);
        return CheckpointChunks.records(new ExactCheckpoint(head, io.tunestream.model.tune.CheckpointCodec.encode(state),
                "run-3@" + state.step(), "inputs-1", finished, 0, inProgress), 64 * 1024);
    }

    private WarmStart select(List<CheckpointChunks.Keyed> records, WarmStart.Run run) {
        List<AdapterCheckpoint> values = records.stream().map(CheckpointChunks.Keyed::value).toList();
        return WarmStart.select(Optional.of(values.get(values.size() - 1)), values.subList(0, values.size() - 1),
                "model-a", EncoderType.MLP, false, layout, Optional.of(run));
    }

    @Test
    void shouldResumeTheStateExactlyWhenTheRunHasTheSameInputsAndSettings() {
        TaskCheckpoint state = running();

        WarmStart start = select(written(state, false, true), new WarmStart.Run(mlp, HIDDEN, CONFIG, "inputs-1"));

        assertThat(start.warm()).isTrue();
        assertThat(start.parameters()).isEmpty();
        TaskCheckpoint resumed = start.resume().orElseThrow();
        assertThat(resumed.parameters()).containsExactly(state.parameters());
        assertThat(resumed.bestParameters()).containsExactly(state.bestParameters());
        assertThat(resumed.optimizer().firstMoment()).containsExactly(state.optimizer().firstMoment());
        assertThat(resumed.optimizer().secondMoment()).containsExactly(state.optimizer().secondMoment());
        assertThat(resumed.step()).isEqualTo(7);
        assertThat(resumed.epoch()).isEqualTo(1);
        assertThat(resumed.stepInEpoch()).isEqualTo(3);
        assertThat(resumed.epochLossSum()).isEqualTo(2.5);
        assertThat(resumed.earlyStopping()).isEqualTo(state.earlyStopping());
        assertThat(resumed.history()).isEqualTo(state.history());
        assertThat(start.fromVersion()).contains(3);
        assertThat(start.reason()).isEqualTo("exact resume of checkpoint v3 (run run-3) at step 7 (epoch 1, step 3 in it)");
    }

    @Test
    void shouldStartANewRunFromAPublishedStatesBestParametersWhenTheExamplesChanged() {
        TaskCheckpoint state = running();

        WarmStart start = select(written(state, false, false), new WarmStart.Run(mlp, HIDDEN, CONFIG, "inputs-2"));

        assertThat(start.resume()).isEmpty();
        // the doubles of the state, not the float32 copy of the head
        assertThat(start.parameters().orElseThrow()).containsExactly(state.bestParameters());
        assertThat(start.reason()).isEqualTo("warm start from checkpoint v3 (run run-3)'s best parameters, new optimizer "
                + "and schedule: the examples or the template changed since");
    }

    @Test
    void shouldStartANewRunFromTheHeadsParametersWhenAnInProgressStateDoesNotContinue() {
        TaskCheckpoint state = running();

        WarmStart start = select(written(state, false, true), new WarmStart.Run(mlp, HIDDEN, CONFIG, "inputs-2"));

        assertThat(start.resume()).isEmpty();
        double[] headParameters = start.parameters().orElseThrow();
        for (int i = 0; i < headParameters.length; i++) {
            assertThat(headParameters[i]).isEqualTo((float) state.bestParameters()[i]);
        }
        assertThat(start.reason()).isEqualTo("warm start from checkpoint v3 (run run-3)");
    }

    @Test
    void shouldNotResumeAFinishedRunNorOneWithOtherSettings() {
        WarmStart finished = select(written(running(), true, false), new WarmStart.Run(mlp, HIDDEN, CONFIG, "inputs-1"));
        WarmStart otherSettings = select(written(running(), false, false),
                new WarmStart.Run(mlp, HIDDEN, TuningConfig.nemoDefaults(3, 1, 1, 1), "inputs-1"));

        assertThat(finished.resume()).isEmpty();
        assertThat(finished.reason()).endsWith("new optimizer and schedule: its run had finished");
        assertThat(otherSettings.resume()).isEmpty();
        assertThat(otherSettings.reason()).endsWith("new optimizer and schedule: the tuning settings changed since");
    }

    @Test
    void shouldRefuseTheWarmStartAndStartFromScratchWhenAPieceIsMissing() {
        List<CheckpointChunks.Keyed> records = written(running(), false, true);
        List<AdapterCheckpoint> values = records.stream().map(CheckpointChunks.Keyed::value).toList();

        WarmStart start = WarmStart.select(Optional.of(values.get(values.size() - 1)), List.of(), "model-a",
                EncoderType.MLP, false, layout, Optional.of(new WarmStart.Run(mlp, HIDDEN, CONFIG, "inputs-1")));

        assertThat(start.warm()).isFalse();
        assertThat(start.refused()).isTrue();
        assertThat(start.reason()).isEqualTo("from scratch: warm start refused: checkpoint v3 (run-3@7): missing "
                + "piece(s) [0] of 1");
    }

    @Test
    void shouldStartFromScratchWhenTheInProgressStateOfATasksFirstRunDoesNotContinue() {
        TaskCheckpoint state = running();
        AdapterCheckpoint head = AdapterCheckpoint.newBuilder().setTask("qa").setVersion(0).setRunId("run-1")
                .setModelFingerprint("model-a").setVirtualPromptStyle(VirtualPromptStyle.P_TUNING)
                .setEncoderType(PromptEncoderType.MLP).setParameters(List.of()).setOptimizerState(List.of())
                .setStep(0).setEpoch(0).build();
        List<AdapterCheckpoint> records = CheckpointChunks.records(new ExactCheckpoint(head,
                io.tunestream.model.tune.CheckpointCodec.encode(state), "run-1@7", "inputs-1", false, 0, true), 64 * 1024)
                .stream().map(CheckpointChunks.Keyed::value).toList();

        WarmStart other = WarmStart.select(Optional.of(records.get(records.size() - 1)), records, "model-a",
                EncoderType.MLP, false, layout, Optional.of(new WarmStart.Run(mlp, HIDDEN, CONFIG, "inputs-2")));
        WarmStart same = WarmStart.select(Optional.of(records.get(records.size() - 1)), records, "model-a",
                EncoderType.MLP, false, layout, Optional.of(new WarmStart.Run(mlp, HIDDEN, CONFIG, "inputs-1")));

        assertThat(other.warm()).isFalse();
        assertThat(other.refused()).isFalse();
        assertThat(other.reason()).isEqualTo("from scratch: the checkpoint of run run-1 (no version published yet) does "
                + "not continue in this run (the examples or the template changed since) and no version was published "
                + "before it");
        assertThat(same.resume()).isPresent();
        assertThat(same.fromVersion()).isEmpty();
        assertThat(same.reason()).startsWith("exact resume of the checkpoint of run run-1 (no version published yet)");
    }
}

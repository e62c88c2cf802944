package io.tunestream.trainer.it;

import static io.tunestream.trainer.testing.Fixtures.yes;
import static org.assertj.core.api.Assertions.assertThat;

import io.tunestream.model.onnx.RuntimeConfig;
import io.tunestream.model.tune.CheckpointCodec;
import io.tunestream.model.tune.TaskCheckpoint;
import io.tunestream.schemas.AdapterCheckpoint;
import io.tunestream.schemas.DatasetSplit;
import io.tunestream.schemas.LabelledExample;
import io.tunestream.schemas.RunStatus;
import io.tunestream.schemas.TaskTemplate;
import io.tunestream.schemas.TrainingRun;
import io.tunestream.schemas.VirtualPromptStyle;
import io.tunestream.trainer.run.CheckpointChunks;
import io.tunestream.trainer.run.ExactCheckpoint;
import io.tunestream.trainer.run.ModelTaskRunner;
import io.tunestream.trainer.run.RunOutcome;
import io.tunestream.trainer.run.TaskRunner;
import io.tunestream.trainer.state.TaskSnapshot;
import io.tunestream.trainer.testing.Fixtures;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/**
 * A run split by a restart ends with exactly the parameters of the same run unsplit: the first part's checkpoint
 * goes through the record format (pieces and head, Avro binary) into a fresh runner (a new ONNX Runtime session),
 * which resumes it. On tiny-gpt2, p-tuning (LSTM encoder with dropout) and a deep prompt. An IT (own JVM) because
 * ONNX Runtime's native library can be loaded by one class loader per JVM.
 */
class ExactResumeIT {

    /** 10 examples in global batches of 4: 3 steps an epoch (the last batch of 2), 9 steps in 3 epochs. */
    private static final List<LabelledExample> TRAIN = IntStream.range(0, 10)
            .mapToObj(i -> yes("yes", i, DatasetSplit.TRAIN)).toList();
    private static final List<LabelledExample> VALIDATION = IntStream.range(0, 3)
            .mapToObj(i -> yes("yes", i, DatasetSplit.VALIDATION)).toList();
    /** Small records, so the state is split into several pieces. */
    private static final int RECORD_BYTES = 32 * 1024;

    private static ModelTaskRunner runner(long maxSteps) {
        return ModelTaskRunner.load(Fixtures.tinyGpt2(), RuntimeConfig.cpu(1), maxSteps, Clock.systemUTC());
    }

    private static TaskSnapshot snapshot(TaskTemplate template, Optional<AdapterCheckpoint> checkpoint,
                                         List<AdapterCheckpoint> pieces) {
        return new TaskSnapshot("yes", template, TRAIN, VALIDATION, false, Optional.empty(), checkpoint, 10, 1, pieces);
    }

    private static TaskCheckpoint finalState(RunOutcome outcome) {
        assertThat(outcome).as(outcome.run().getMessage()).isInstanceOf(RunOutcome.Published.class);
        return CheckpointCodec.decode(((RunOutcome.Published) outcome).exact().orElseThrow().state());
    }

    /** The records of a checkpoint as a consumer reads them back: Avro binary, head last, tombstones skipped. */
    private static List<AdapterCheckpoint> throughRecords(ExactCheckpoint checkpoint) {
        List<AdapterCheckpoint> read = new ArrayList<>();
        for (CheckpointChunks.Keyed record : CheckpointChunks.records(checkpoint, RECORD_BYTES)) {
            if (record.value() != null) {
                byte[] bytes = encode(record.value());
                assertThat(bytes.length).as(record.key()).isLessThan(RECORD_BYTES);
                read.add(decode(bytes));
            }
        }
        return read;
    }

    private static void assertSameState(TaskCheckpoint resumed, TaskCheckpoint unsplit) {
        assertThat(resumed.step()).isEqualTo(unsplit.step());
        assertThat(resumed.parameters()).containsExactly(unsplit.parameters());
        assertThat(resumed.bestParameters()).containsExactly(unsplit.bestParameters());
        assertThat(resumed.optimizer().firstMoment()).containsExactly(unsplit.optimizer().firstMoment());
        assertThat(resumed.optimizer().secondMoment()).containsExactly(unsplit.optimizer().secondMoment());
        assertThat(resumed.history()).isEqualTo(unsplit.history());
        assertThat(resumed.earlyStopping()).isEqualTo(unsplit.earlyStopping());
    }

    @Test
    void shouldEndAP_TuningRunInterruptedAfterItsFirstEpochWithTheParametersOfTheUnsplitRun() {
        // an LSTM encoder with dropout between its layers: the masks must repeat too
        TaskTemplate template = Fixtures.template("yes").setTuning(Fixtures.smallTuning()
                .setEncoderType(io.tunestream.schemas.PromptEncoderType.LSTM).setDropout(0.2f).build()).build();
        TaskCheckpoint unsplit;
        try (ModelTaskRunner whole = runner(100)) {
            unsplit = finalState(whole.run(snapshot(template, Optional.empty(), List.of()), "run-whole", r -> { }));
        }
        assertThat(unsplit.step()).isEqualTo(9);

        // the first part: the replica loses the task when the run writes its state at the end of epoch 0
        List<ExactCheckpoint> written = new ArrayList<>();
        RunOutcome abandoned;
        try (ModelTaskRunner first = runner(100)) {
            abandoned = first.run(snapshot(template, Optional.empty(), List.of()), "run-first",
                    TaskRunner.Progress.of(r -> { }, running -> {
                        written.add(running);
                        throw new IllegalStateException("moved to another replica");
                    }));
        }
        assertThat(abandoned.run().getStatus()).isEqualTo(RunStatus.FAILED);
        assertThat(written).hasSize(1);
        TaskCheckpoint atSplit = CheckpointCodec.decode(written.get(0).state());
        assertThat(atSplit.step()).isEqualTo(3);
        assertThat(atSplit.parameters()).isNotEqualTo(unsplit.parameters());
        List<AdapterCheckpoint> records = throughRecords(written.get(0));
        assertThat(records).hasSizeGreaterThan(2);
        AdapterCheckpoint head = records.get(records.size() - 1);
        assertThat(head.getResume().getInProgress()).isTrue();
        assertThat(head.getVersion()).isZero();

        // the second part, on a fresh runner (another replica): resumed from the records
        List<TrainingRun> progress = new ArrayList<>();
        RunOutcome rest;
        try (ModelTaskRunner second = runner(100)) {
            rest = second.run(snapshot(template, Optional.of(head), records.subList(0, records.size() - 1)),
                    "run-second", progress::add);
        }

        assertSameState(finalState(rest), unsplit);
        assertThat(rest.run().getWarmStartVersion()).as("no version was published before").isNull();
        // epochs 1 and 2 only: the first was done before the split
        assertThat(progress).extracting(TrainingRun::getEpoch).containsExactly(2, 3);
    }

    @Test
    void shouldEndADeepPromptRunStoppedMidEpochAtTheStepBoundWithTheParametersOfTheUnsplitRun() {
        TaskTemplate template = Fixtures.template("yes").setTuning(Fixtures.smallTuning()
                .setVirtualPromptStyle(VirtualPromptStyle.PREFIX_TUNING).build()).build();
        TaskCheckpoint unsplit;
        try (ModelTaskRunner whole = runner(100)) {
            unsplit = finalState(whole.run(snapshot(template, Optional.empty(), List.of()), "run-whole", r -> { }));
        }

        // the first part stops at the bound of 4 steps: epoch 1, one step into it; its checkpoint is published
        RunOutcome first;
        try (ModelTaskRunner bounded = runner(4)) {
            first = bounded.run(snapshot(template, Optional.empty(), List.of()), "run-first", r -> { });
        }
        TaskCheckpoint atSplit = finalState(first);
        assertThat(atSplit.step()).isEqualTo(4);
        assertThat(atSplit.stepInEpoch()).isEqualTo(1);
        List<AdapterCheckpoint> records = throughRecords(((RunOutcome.Published) first).exact().orElseThrow());
        assertThat(records).hasSizeGreaterThan(2);
        AdapterCheckpoint head = records.get(records.size() - 1);
        assertThat(head.getResume().getInProgress()).isFalse();

        List<TrainingRun> progress = new ArrayList<>();
        RunOutcome rest;
        try (ModelTaskRunner second = runner(100)) {
            rest = second.run(snapshot(template, Optional.of(head), records.subList(0, records.size() - 1)),
                    "run-second", progress::add);
        }

        assertSameState(finalState(rest), unsplit);
        assertThat(rest.run().getWarmStartVersion()).isEqualTo(1);
        // the rest of epoch 1, then epoch 2: no epoch done twice
        assertThat(progress).extracting(TrainingRun::getEpoch).containsExactly(2, 3);
    }

    @Test
    void shouldStartFromScratchWhenAPieceOfTheStateIsCorrupt() {
        TaskTemplate template = Fixtures.template("yes").build();
        List<ExactCheckpoint> written = new ArrayList<>();
        RunOutcome unsplit;
        try (ModelTaskRunner runner = runner(100)) {
            unsplit = runner.run(snapshot(template, Optional.empty(), List.of()), "run-whole",
                    TaskRunner.Progress.of(r -> { }, written::add));
            List<AdapterCheckpoint> records = throughRecords(written.get(0));
            AdapterCheckpoint piece = records.get(0);
            byte[] data = new byte[piece.getResume().getData().remaining()];
            piece.getResume().getData().duplicate().get(data);
            data[data.length / 2] ^= 0x10;
            piece.getResume().setData(java.nio.ByteBuffer.wrap(data));
            AdapterCheckpoint head = records.get(records.size() - 1);

            RunOutcome cold = runner.run(snapshot(template, Optional.of(head), records.subList(0, records.size() - 1)),
                    "run-after", r -> { });

            // from scratch, with the same seed: the unsplit run's result, and no warm start recorded
            assertThat(cold.run().getWarmStartVersion()).isNull();
            assertSameState(finalState(cold), finalState(unsplit));
        }
        assertThat(written.stream().map(ExactCheckpoint::checkpointId).filter(Objects::nonNull))
                .containsExactly("run-whole@3", "run-whole@6");
    }

    private static byte[] encode(AdapterCheckpoint record) {
        return Fixtures.avroBytes(record);
    }

    private static AdapterCheckpoint decode(byte[] bytes) {
        return Fixtures.avroRecord(bytes, AdapterCheckpoint.class);
    }
}

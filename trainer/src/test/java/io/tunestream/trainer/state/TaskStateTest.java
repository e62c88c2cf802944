package io.tunestream.trainer.state;

import static io.tunestream.trainer.testing.Fixtures.template;
import static io.tunestream.trainer.testing.Fixtures.yes;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.tunestream.schemas.AdapterVersion;
import io.tunestream.schemas.DType;
import io.tunestream.schemas.DatasetSplit;
import io.tunestream.schemas.LabelledExample;
import io.tunestream.schemas.Tensor;
import io.tunestream.trainer.testing.Fixtures;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.OptionalLong;
import org.junit.jupiter.api.Test;

class TaskStateTest {

    private final TaskStates states = new TaskStates(1000);
    private final TaskState state = states.task("t");

    private void add(LabelledExample example, long timestamp) {
        state.example(new TrackedExample(example, states.nextSequence(), timestamp));
    }

    private static AdapterVersion adapter(int version, long createdAt) {
        return AdapterVersion.newBuilder().setTask("t").setVersion(version).setModelFingerprint("f").setHiddenSize(1)
                .setTable(Tensor.newBuilder().setName("x").setDtype(DType.FLOAT32).setShape(List.of(1, 1))
                        .setData(ByteBuffer.allocate(4)).build())
                .setVirtualTokenSplits(List.of(1)).setCreatedAtMillis(createdAt).build();
    }

    @Test
    void shouldCountNoNewExampleWhenTheTaskHasNoTemplate() {
        add(yes("t", 1, DatasetSplit.TRAIN), 10);
        assertThat(state.newUsableExamples()).isEmpty();
        assertThat(RetrainingTrigger.due(state, 1_000_000_000)).isEmpty();
    }

    @Test
    void shouldNotCountExamplesTheTemplateCannotUse() {
        state.template(template("t").build());
        add(yes("t", 1, DatasetSplit.TRAIN), 10);
        add(Fixtures.example("t", "blank", "q?", " ", DatasetSplit.TRAIN), 11);
        add(LabelledExample.newBuilder(yes("t", 2, DatasetSplit.TRAIN)).setExampleId("no-answer")
                .setFields(java.util.Map.of("question", "q?")).build(), 12);
        assertThat(state.newUsableExamples()).extracting(TrackedExample::id).containsExactly("t-TRAIN-1");
        assertThat(ExampleUsability.problem(Fixtures.example("t", "b", "q?", " ", DatasetSplit.TRAIN),
                template("t").build())).contains("empty answer");
    }

    @Test
    void shouldReplaceAnExampleWithTheSameId() {
        state.template(template("t").build());
        add(Fixtures.example("t", "same", "q?", " a", DatasetSplit.TRAIN), 10);
        add(Fixtures.example("t", "same", "q?", " b", DatasetSplit.TRAIN), 11);
        assertThat(state.exampleCount()).isEqualTo(1);
        assertThat(state.newUsableExamples().get(0).example().getFields()).containsEntry("answer", " b");
    }

    @Test
    void shouldValidateOnValidationExamplesWhenThereAreAny() {
        state.template(template("t").build());
        for (int i = 0; i < 6; i++) {
            add(yes("t", i, DatasetSplit.TRAIN), i);
        }
        add(yes("t", 0, DatasetSplit.VALIDATION), 7);
        TaskSnapshot snapshot = state.startRun();
        assertThat(snapshot.train()).hasSize(6);
        assertThat(snapshot.validation()).extracting(LabelledExample::getExampleId).containsExactly("t-VALIDATION-0");
        assertThat(snapshot.heldOut()).isFalse();
        assertThat(snapshot.newExamples()).isEqualTo(7);
    }

    @Test
    void shouldHoldOutTrainExamplesWhenThereIsNoValidationExample() {
        state.template(template("t").build());
        for (int i = 0; i < 8; i++) {
            add(yes("t", i, DatasetSplit.TRAIN), i);
        }
        TaskSnapshot snapshot = state.startRun();
        assertThat(snapshot.heldOut()).isTrue();
        assertThat(snapshot.validation()).isNotEmpty();
        assertThat(snapshot.train().size() + snapshot.validation().size()).isEqualTo(8);
        assertThat(snapshot.train()).doesNotContainAnyElementsOf(snapshot.validation());
    }

    @Test
    void shouldCountOnlyExamplesAfterTheLastRunAsNew() {
        state.template(template("t").build());
        add(yes("t", 1, DatasetSplit.TRAIN), 10);
        add(yes("t", 2, DatasetSplit.TRAIN), 11);
        state.startRun();
        assertThat(state.newUsableExamples()).isEmpty();
        assertThat(state.firstUnusedAtMillis()).isEqualTo(OptionalLong.empty());
        add(yes("t", 3, DatasetSplit.TRAIN), 12);
        assertThat(state.newUsableExamples()).extracting(TrackedExample::id).containsExactly("t-TRAIN-3");
        assertThat(state.firstUnusedAtMillis()).isEqualTo(OptionalLong.of(12));
    }

    @Test
    void shouldCountExamplesNotNewerThanTheServingAdapterAsUsedAfterARestart() {
        state.template(template("t").build());
        add(yes("t", 1, DatasetSplit.TRAIN), 100);
        add(yes("t", 2, DatasetSplit.TRAIN), 200);
        add(yes("t", 3, DatasetSplit.TRAIN), 300);
        state.serving(adapter(1, 250));
        state.markUsedUpToServing();
        assertThat(state.newUsableExamples()).extracting(TrackedExample::id).containsExactly("t-TRAIN-3");
    }

    @Test
    void shouldKeepTheHigherAdapterVersion() {
        state.serving(adapter(2, 0));
        state.serving(adapter(1, 0));
        assertThat(state.serving()).map(AdapterVersion::getVersion).contains(2);
    }

    @Test
    void shouldKeepTheNewestExamplesOfEachSplitUpToTheBound() {
        TaskState bounded = new TaskStates(3).task("t");
        for (int i = 0; i < 5; i++) {
            bounded.example(new TrackedExample(yes("t", i, DatasetSplit.TRAIN), i, i));
        }
        bounded.example(new TrackedExample(yes("t", 0, DatasetSplit.VALIDATION), 5, 5));
        bounded.example(new TrackedExample(yes("t", 2, DatasetSplit.TRAIN), 6, 6)); // replaced: newest again

        assertThat(bounded.exampleIds()).containsExactly("t-TRAIN-3", "t-TRAIN-4", "t-TRAIN-2", "t-VALIDATION-0");
        assertThat(bounded.evictedCount()).isEqualTo(2);
    }

    @Test
    void shouldDeleteAnExampleById() {
        state.template(template("t").build());
        add(yes("t", 1, DatasetSplit.TRAIN), 10);
        add(yes("t", 2, DatasetSplit.VALIDATION), 11);

        assertThat(state.remove("t-TRAIN-1")).isTrue();
        assertThat(state.remove("t-VALIDATION-2")).isTrue();
        assertThat(state.remove("unknown")).isFalse();
        assertThat(state.exampleCount()).isZero();
    }

    @Test
    void shouldPublishAboveEveryVersionSeenEvenWhenItsRecordWasUnreadable() {
        assertThat(state.nextVersion()).isEqualTo(1);
        state.serving(adapter(2, 0));
        assertThat(state.nextVersion()).isEqualTo(3);
        state.versionSeen(5); // a poison adapter record whose version header says 5
        assertThat(state.nextVersion()).isEqualTo(6);
        state.serving(null); // an adapters tombstone does not bring old numbers back
        assertThat(state.nextVersion()).isEqualTo(6);
        state.template(template("t").build());
        add(yes("t", 1, DatasetSplit.TRAIN), 10);
        add(yes("t", 2, DatasetSplit.TRAIN), 11);
        assertThat(state.startRun().nextVersion()).isEqualTo(6);
    }

    @Test
    void shouldKeepAnExampleOnTheSameSideOfTheSplitAsTheTaskGrowsAndOldExamplesGo() {
        TaskState bounded = new TaskStates(40).task("t");
        bounded.template(template("t").build());
        for (int i = 0; i < 40; i++) {
            bounded.example(new TrackedExample(yes("t", i, DatasetSplit.TRAIN), i, i));
        }
        TaskSnapshot before = bounded.startRun();
        for (int i = 40; i < 60; i++) {
            bounded.example(new TrackedExample(yes("t", i, DatasetSplit.TRAIN), i, i));
        }
        TaskSnapshot after = bounded.startRun();

        assertThat(after.train().size() + after.validation().size()).isEqualTo(40);
        for (LabelledExample kept : after.validation()) {
            assertThat(ValidationHoldout.position(kept.getExampleId())).isLessThan(0.25);
        }
        List<String> stillHeld = after.validation().stream().map(LabelledExample::getExampleId).toList();
        assertThat(before.validation()).filteredOn(e -> Integer.parseInt(e.getExampleId().substring(8)) >= 20)
                .extracting(LabelledExample::getExampleId).allMatch(stillHeld::contains);
        assertThat(before.validation()).isNotEmpty();
    }

    @Test
    void shouldRefuseARunWithoutTemplate() {
        assertThatThrownBy(state::startRun).isInstanceOf(IllegalStateException.class)
                .hasMessage("task 't' has no template; a run cannot start");
    }

    private static io.tunestream.schemas.AdapterCheckpoint checkpointRecord(int version, String runId, String checkpointId,
                                                                           Integer piece) {
        var resume = checkpointId == null ? null : io.tunestream.schemas.ResumeState.newBuilder()
                .setCheckpointId(checkpointId).setFormat("f").setInputsFingerprint("i").setFinished(false)
                .setTotalBytes(2).setSha256("s").setChunkCount(2).setChunkIndex(piece)
                .setData(piece == null ? null : ByteBuffer.wrap(new byte[] {1})).build();
        return io.tunestream.schemas.AdapterCheckpoint.newBuilder().setTask("t").setVersion(version).setRunId(runId)
                .setModelFingerprint("f").setVirtualPromptStyle(io.tunestream.schemas.VirtualPromptStyle.P_TUNING)
                .setEncoderType(io.tunestream.schemas.PromptEncoderType.MLP).setParameters(List.of())
                .setOptimizerState(List.of()).setStep(1).setEpoch(1).setResume(resume).build();
    }

    @Test
    void shouldKeepACheckpointsPiecesBesideItsHeadAndHandThemToARun() {
        state.template(template("t").build());
        add(yes("t", 1, DatasetSplit.TRAIN), 1);
        add(yes("t", 1, DatasetSplit.VALIDATION), 2);
        state.checkpoint(checkpointRecord(2, "run-2", "run-2@5", 0));
        state.checkpoint(checkpointRecord(2, "run-2", "run-2@5", 1));
        state.checkpoint(checkpointRecord(2, "run-2", "run-2@5", null));

        TaskSnapshot snapshot = state.startRun();

        assertThat(snapshot.checkpoint()).map(c -> c.getResume().getCheckpointId()).hasValue("run-2@5");
        assertThat(snapshot.checkpointPieces()).extracting(c -> c.getResume().getChunkIndex()).containsExactly(0, 1);
        assertThat(snapshot.nextVersion()).isEqualTo(3);
    }

    @Test
    void shouldDropPiecesOfOlderCheckpointsWhenANewHeadArrives() {
        state.checkpoint(checkpointRecord(2, "run-2", "run-2@5", 0));
        state.checkpoint(checkpointRecord(2, "run-2", "run-2@5", 1));
        state.checkpoint(checkpointRecord(2, "run-2", "run-2@5", null));
        state.checkpoint(checkpointRecord(3, "run-3", "run-3@9", 0));
        state.checkpoint(checkpointRecord(3, "run-3", "run-3@9", null));

        assertThat(state.checkpointPieces()).extracting(c -> c.getResume().getCheckpointId()).containsExactly("run-3@9");
    }

    @Test
    void shouldKeepTheHeadReadFromTheTopicOverTheSameHeadHandedBackByTheRunWithoutItsState() {
        state.checkpoint(checkpointRecord(3, "run-3", "run-3@9", null));
        state.checkpoint(checkpointRecord(3, "run-3", null, null));

        assertThat(state.checkpoint()).map(c -> c.getResume().getCheckpointId()).hasValue("run-3@9");
    }
}

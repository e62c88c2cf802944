package io.tunestream.trainer.testing;

import io.tunestream.schemas.AdapterCheckpoint;
import io.tunestream.schemas.AdapterVersion;
import io.tunestream.schemas.DType;
import io.tunestream.schemas.PromptEncoderType;
import io.tunestream.schemas.RunStatus;
import io.tunestream.schemas.Tensor;
import io.tunestream.schemas.TrainingRun;
import io.tunestream.schemas.VirtualPromptStyle;
import io.tunestream.trainer.run.RunOutcome;
import io.tunestream.trainer.run.TaskRunner;
import io.tunestream.trainer.state.TaskSnapshot;
import io.tunestream.schemas.adapters.AdapterCheck;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Optional;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * A TaskRunner that trains nothing: it remembers every snapshot it is given and publishes a 1 x 1
 * table as the snapshot's next version at once, for tests of the loop where the model is not the point.
 */
public final class StandInRunner implements TaskRunner {

    /** The model fingerprint of the stand-in's adapters. */
    public static final String FINGERPRINT = "stand-in";

    private final List<TaskSnapshot> runs = new CopyOnWriteArrayList<>();
    private final CountDownLatch gate;

    /** A runner that finishes every run at once. */
    public StandInRunner() {
        this(new CountDownLatch(0));
    }

    /** A runner whose runs finish once {@code gate} is open (a test decides what happens meanwhile). */
    public StandInRunner(CountDownLatch gate) {
        this.gate = gate;
    }

    /** The snapshots of the runs so far, in order. */
    public List<TaskSnapshot> runs() {
        return List.copyOf(runs);
    }

    /** The stand-in "model": fingerprint {@link #FINGERPRINT}, hidden size 1. */
    @Override
    public Optional<AdapterCheck> adapterCheck() {
        return Optional.of(new AdapterCheck(FINGERPRINT, 1));
    }

    @Override
    public RunOutcome run(TaskSnapshot snapshot, String runId, Progress progress) {
        runs.add(snapshot);
        try {
            if (!gate.await(30, TimeUnit.SECONDS)) {
                throw new IllegalStateException("the test did not open the gate of run " + runId + " within 30 s");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("run " + runId + " interrupted", e);
        }
        int version = snapshot.nextVersion();
        // the template's rows, one column, every value the version: a rollback's republished table is told apart
        List<Integer> splits = snapshot.template().getVirtualTokenSplits();
        int rows = splits.stream().mapToInt(Integer::intValue).sum();
        ByteBuffer data = ByteBuffer.allocate(4 * rows).order(ByteOrder.LITTLE_ENDIAN);
        for (int r = 0; r < rows; r++) {
            data.putFloat(version);
        }
        data.flip();
        Tensor table = Tensor.newBuilder().setName("table").setDtype(DType.FLOAT32).setShape(List.of(rows, 1))
                .setData(data).build();
        AdapterVersion adapter = AdapterVersion.newBuilder().setTask(snapshot.task()).setVersion(version)
                .setModelFingerprint(FINGERPRINT).setHiddenSize(1).setTable(table).setVirtualTokenSplits(splits)
                .setTrainingExamples(snapshot.train().size()).setRunId(runId).setCreatedAtMillis(System.currentTimeMillis())
                .build();
        AdapterCheckpoint checkpoint = AdapterCheckpoint.newBuilder().setTask(snapshot.task()).setVersion(version)
                .setRunId(runId).setModelFingerprint(FINGERPRINT).setVirtualPromptStyle(VirtualPromptStyle.PROMPT_TUNING)
                .setEncoderType(PromptEncoderType.EMBEDDING).setParameters(List.of(table)).setOptimizerState(List.of())
                .setStep(1).setEpoch(1).build();
        TrainingRun run = TrainingRun.newBuilder().setRunId(runId).setTask(snapshot.task())
                .setStatus(RunStatus.PUBLISHED).setPublishedVersion(version)
                .setTrainingExamples(snapshot.train().size()).setValidationExamples(snapshot.validation().size())
                .setMessage("stand-in published v" + version).build();
        return new RunOutcome.Published(adapter, checkpoint, run);
    }
}

package io.tunestream.model.tune;

import io.tunestream.model.onnx.TrainingBatch;
import io.tunestream.model.onnx.TrainingRow;
import io.tunestream.model.onnx.TrainingSession;
import io.tunestream.model.prompt.Prompt;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * The frozen decoder as a {@link TableObjective}: training prompts are laid out as
 * {@link TrainingRow}s (virtual slots from the prompt, loss over the answer span with
 * {@code answer_only_loss}, over every non-virtual token but the first otherwise), right-padded into
 * one {@link TrainingBatch} per call and run by the model's {@link TrainingSession}, which returns
 * NeMo's masked mean loss and its gradient with respect to the virtual-token table.
 *
 * <p>Does not own the session.
 */
public final class DecoderTableObjective implements TableObjective<Prompt> {

    private final TrainingSession session;
    private final int virtualTokens;
    private final boolean answerOnlyLoss;

    /**
     * @param session        the model's training session
     * @param virtualTokens  rows of the task's table ({@code total_virtual_tokens})
     * @param answerOnlyLoss the template's {@code answer_only_loss}
     */
    public DecoderTableObjective(TrainingSession session, int virtualTokens, boolean answerOnlyLoss) {
        this.session = Objects.requireNonNull(session, "session");
        if (virtualTokens <= 0) {
            throw new IllegalArgumentException("total_virtual_tokens must be positive, got " + virtualTokens);
        }
        this.virtualTokens = virtualTokens;
        this.answerOnlyLoss = answerOnlyLoss;
    }

    @Override
    public Evaluation lossAndGradient(float[] table, List<Prompt> batch) {
        TrainingSession.Result r = session.lossAndGradient(table, virtualTokens, pack(batch));
        return new Evaluation(r.loss(), r.lossTokens(), r.tableGradient());
    }

    @Override
    public Evaluation loss(float[] table, List<Prompt> batch) {
        TrainingSession.Result r = session.loss(table, virtualTokens, pack(batch));
        return new Evaluation(r.loss(), r.lossTokens(), new float[0]);
    }

    private TrainingBatch pack(List<Prompt> prompts) {
        List<TrainingRow> rows = new ArrayList<>(prompts.size());
        for (Prompt p : prompts) {
            rows.add(row(p, answerOnlyLoss));
        }
        return TrainingBatch.pack(rows, TrainingBatch.Padding.RIGHT);
    }

    /** The training layout of one prompt built in training mode. */
    static TrainingRow row(Prompt prompt, boolean answerOnlyLoss) {
        int n = prompt.length();
        long[] ids = new long[n];
        boolean[] target = new boolean[n];
        for (int i = 0; i < n; i++) {
            boolean virtual = prompt.isVirtual(i);
            ids[i] = virtual ? 0 : prompt.tokenIds()[i];
            target[i] = i > 0 && !virtual && (!answerOnlyLoss || i >= prompt.answerStart());
        }
        return new TrainingRow(ids, prompt.virtualRows(), target);
    }
}

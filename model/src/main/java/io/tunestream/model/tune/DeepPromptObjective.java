package io.tunestream.model.tune;

import io.tunestream.model.onnx.DeepPromptTrainingSession;
import io.tunestream.model.onnx.TrainingBatch;
import io.tunestream.model.onnx.TrainingRow;
import io.tunestream.model.onnx.TrainingSession;
import io.tunestream.model.prompt.Prompt;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * The frozen decoder as a {@link TableObjective} over a deep prompt (prefix tuning): the "table" is the
 * prefix in PEFT's layout [virtualTokens, 2·layers·kvHeads·headDim]
 * ({@link io.tunestream.model.prompt.DeepPromptTable}), and d loss / d table is the gradient with respect
 * to the export's {@code past_key_values} inputs ({@link DeepPromptTrainingSession}).
 *
 * <p>Training prompts are built from the template without virtual-token slots (the prefix sits in the
 * KV cache, not among the tokens); the loss is NeMo's masked mean over the answer span with
 * {@code answer_only_loss}, over every token but the first otherwise. So {@link PromptTuner} tunes a deep
 * prompt as it tunes a soft prompt, with a {@link TaskTuning} whose {@code hidden} is the prefix's row
 * width: with {@link EncoderType#EMBEDDING} the prefix itself is learned; with {@link EncoderType#MLP}
 * (or TPMLP) an MLP reparameterises it during training, as prefix tuning's {@code prefix_projection} does,
 * and the tuner's result table is the plain prefix that serving takes (the MLP folded away).
 *
 * <p>Does not own the session.
 */
public final class DeepPromptObjective implements TableObjective<Prompt> {

    private final DeepPromptTrainingSession session;
    private final int virtualTokens;
    private final boolean answerOnlyLoss;

    /**
     * @param session        the model's deep-prompt training session
     * @param virtualTokens  prefix positions of the task
     * @param answerOnlyLoss the template's {@code answer_only_loss}
     */
    public DeepPromptObjective(DeepPromptTrainingSession session, int virtualTokens, boolean answerOnlyLoss) {
        this.session = Objects.requireNonNull(session, "session");
        if (virtualTokens <= 0) {
            throw new IllegalArgumentException("a deep prompt needs at least one virtual token, got " + virtualTokens);
        }
        this.virtualTokens = virtualTokens;
        this.answerOnlyLoss = answerOnlyLoss;
    }

    /** Floats of one virtual token of the prefix: the {@code hidden} of the task's {@link TaskTuning}. */
    public int rowWidth() {
        return session.rowWidth();
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
            for (int i = 0; i < p.length(); i++) {
                if (p.isVirtual(i)) {
                    throw new IllegalArgumentException("task '" + p.taskName() + "': a deep-prompt example has a virtual "
                            + "slot at position " + i + "; build it from the template without virtual tokens");
                }
            }
            rows.add(DecoderTableObjective.row(p, answerOnlyLoss));
        }
        return TrainingBatch.pack(rows, TrainingBatch.Padding.RIGHT);
    }
}

package io.tunestream.trainer.run;

import io.tunestream.model.tune.CheckpointCodec;
import io.tunestream.model.tune.EncoderType;
import io.tunestream.model.tune.ParameterLayout;
import io.tunestream.model.tune.PromptEncoderConfig;
import io.tunestream.model.tune.TaskCheckpoint;
import io.tunestream.model.tune.TuningConfig;
import io.tunestream.schemas.AdapterCheckpoint;
import io.tunestream.schemas.VirtualPromptStyle;
import java.util.Collection;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * Where a run starts: from the task's latest checkpoint when it was tuned for the same model
 * (fingerprint), with the same encoder type and the same parameter shapes; otherwise from scratch.
 *
 * <p>A checkpoint with an exact state ({@code resume}, reassembled from its pieces and checked against its
 * SHA-256) that had not finished and was written by a run on the same inputs ({@link RunInputs}) with the same
 * encoder and hyperparameters is <em>resumed</em>: parameters, AdamW moments, schedule step, position in the
 * epoch's shuffled order, early-stopping state and history continue, and since every random draw derives from the
 * seed and the step, the run ends exactly as one that was never interrupted. Otherwise a checkpoint's best
 * parameters start a new run (fresh optimizer and schedule: the examples or settings changed). An exact state
 * that cannot be read back (a piece missing, a hash mismatch, an undecodable state) refuses the warm start: the
 * run starts from scratch and says why, never from a state half read.
 *
 * @param parameters    the checkpoint's parameters, empty for a start from scratch
 * @param resume        the state to continue exactly, when the checkpoint's run is resumed
 * @param fromVersion   the adapter version of that checkpoint (none when resuming a task's first run)
 * @param reason        why, in words (for the run record and the log)
 */
public record WarmStart(Optional<double[]> parameters, Optional<TaskCheckpoint> resume, Optional<Integer> fromVersion,
                        String reason) {

    public WarmStart {
        Objects.requireNonNull(parameters, "parameters");
        Objects.requireNonNull(resume, "resume");
        Objects.requireNonNull(fromVersion, "fromVersion");
        Objects.requireNonNull(reason, "reason");
    }

    /** Words that start the reason of a warm start refused because the checkpoint's state cannot be read back. */
    static final String REFUSED = "warm start refused: ";

    public boolean warm() {
        return parameters.isPresent() || resume.isPresent();
    }

    /** Whether the checkpoint's exact state could not be read back (a piece missing or corrupt), so none was used. */
    public boolean refused() {
        return !warm() && reason.contains(REFUSED);
    }

    /**
     * What a run is about to tune, to decide whether a checkpoint's state continues in it exactly.
     *
     * @param encoder           the encoder configuration
     * @param hidden            width of the table rows
     * @param config            the run's hyperparameters
     * @param inputsFingerprint the run's inputs ({@link RunInputs})
     */
    public record Run(PromptEncoderConfig encoder, int hidden, TuningConfig config, String inputsFingerprint) {
        public Run {
            Objects.requireNonNull(encoder, "encoder");
            Objects.requireNonNull(config, "config");
            Objects.requireNonNull(inputsFingerprint, "inputsFingerprint");
        }
    }

    public static WarmStart select(Optional<AdapterCheckpoint> latest, String modelFingerprint, EncoderType encoder,
                                   ParameterLayout layout) {
        return select(latest, modelFingerprint, encoder, false, layout);
    }

    /**
     * As {@link #select(Optional, String, EncoderType, ParameterLayout)}, for a deep-prompt run when
     * {@code deepPrompt}: a deep prompt warm-starts only from a deep-prompt checkpoint and a table only from a
     * table's (both are embedding parameters, of different meaning).
     */
    public static WarmStart select(Optional<AdapterCheckpoint> latest, String modelFingerprint, EncoderType encoder,
                                   boolean deepPrompt, ParameterLayout layout) {
        return select(latest, List.of(), modelFingerprint, encoder, deepPrompt, layout, Optional.empty());
    }

    /**
     * As {@link #select(Optional, String, EncoderType, boolean, ParameterLayout)}, resuming the checkpoint's state
     * exactly when it fits {@code run}.
     *
     * @param pieces the task's checkpoint pieces ({@link CheckpointChunks}); those of other checkpoints are skipped
     * @param run    what this run tunes; empty: never resume exactly
     */
    public static WarmStart select(Optional<AdapterCheckpoint> latest, Collection<AdapterCheckpoint> pieces,
                                   String modelFingerprint, EncoderType encoder, boolean deepPrompt,
                                   ParameterLayout layout, Optional<Run> run) {
        if (latest.isEmpty()) {
            return scratch("no checkpoint yet");
        }
        AdapterCheckpoint checkpoint = latest.get();
        boolean deepCheckpoint = checkpoint.getVirtualPromptStyle() == VirtualPromptStyle.PREFIX_TUNING;
        if (deepCheckpoint != deepPrompt) {
            return scratch("checkpoint v" + checkpoint.getVersion() + (deepCheckpoint ? " is" : " is not")
                    + " a deep prompt (prefix-tuning), the template now asks for " + (deepPrompt ? "one" : "a table"));
        }
        if (!modelFingerprint.equals(checkpoint.getModelFingerprint())) {
            return scratch("checkpoint v" + checkpoint.getVersion() + " was tuned for model "
                    + checkpoint.getModelFingerprint() + ", this model is " + modelFingerprint);
        }
        if (!encoder.name().equals(checkpointEncoder(checkpoint).name())) {
            return scratch("checkpoint v" + checkpoint.getVersion() + " used encoder "
                    + checkpointEncoder(checkpoint).nemoName() + ", the template now asks for " + encoder.nemoName());
        }
        String from = checkpoint.getVersion() > 0
                ? "checkpoint v" + checkpoint.getVersion() + " (run " + checkpoint.getRunId() + ")"
                : "the checkpoint of run " + checkpoint.getRunId() + " (no version published yet)";
        if (checkpoint.getResume() != null) {
            CheckpointRecords.Result<byte[]> bytes = CheckpointChunks.reassemble(checkpoint, pieces);
            if (bytes.value().isEmpty()) {
                return scratch(REFUSED + bytes.problem());
            }
            TaskCheckpoint state;
            try {
                state = CheckpointCodec.decode(bytes.value().get());
            } catch (IllegalArgumentException e) {
                return scratch(REFUSED + "the state of " + from + " does not decode: " + e.getMessage());
            }
            if (run.isPresent() && state.encoder().equals(run.get().encoder()) && state.hidden() == run.get().hidden()) {
                Optional<String> different = continuation(checkpoint, state, run.get());
                if (different.isEmpty()) {
                    // version 0: the state of a task's first run, before any version was published
                    return new WarmStart(Optional.empty(), Optional.of(state),
                            Optional.of(checkpoint.getVersion()).filter(v -> v > 0),
                            "exact resume of " + from + " at step " + state.step() + " (epoch " + state.epoch()
                                    + ", step " + state.stepInEpoch() + " in it)");
                }
                if (checkpoint.getResume().getInProgress() && checkpoint.getParameters().isEmpty()) {
                    return scratch(from + " does not continue in this run (" + different.get()
                            + ") and no version was published before it");
                }
                // an in-progress state's best parameters were never published: the head's (the previous version's) are
                if (!checkpoint.getResume().getInProgress() && state.bestParameters().length == layout.size()) {
                    return new WarmStart(Optional.of(state.bestParameters()), Optional.empty(),
                            Optional.of(checkpoint.getVersion()), "warm start from " + from
                                    + "'s best parameters, new optimizer and schedule: " + different.get());
                }
            }
        }
        CheckpointRecords.Result<double[]> parameters = CheckpointRecords.parameters(checkpoint, layout);
        if (parameters.value().isEmpty()) {
            return scratch(parameters.problem());
        }
        return new WarmStart(parameters.value(), Optional.empty(), Optional.of(checkpoint.getVersion()),
                "warm start from " + from);
    }

    /** Why the checkpoint's state does not continue in {@code run}, or empty when it does, exactly. */
    private static Optional<String> continuation(AdapterCheckpoint checkpoint, TaskCheckpoint state, Run run) {
        if (checkpoint.getResume().getFinished() || state.finished()) {
            return Optional.of("its run had finished");
        }
        if (!checkpoint.getResume().getInputsFingerprint().equals(run.inputsFingerprint())) {
            return Optional.of("the examples or the template changed since");
        }
        if (!state.config().equals(run.config())) {
            return Optional.of("the tuning settings changed since");
        }
        return Optional.empty();
    }

    /**
     * The model module's encoder type of a checkpoint: prompt tuning is the embedding encoder; a deep prompt is
     * the MLP when it recorded one (trained through the prefix projection), else the embedding encoder (deep
     * prompts checkpointed before the projection recorded the template's default encoder type).
     */
    static EncoderType checkpointEncoder(AdapterCheckpoint checkpoint) {
        return switch (checkpoint.getVirtualPromptStyle()) {
            case PROMPT_TUNING -> EncoderType.EMBEDDING;
            case PREFIX_TUNING -> checkpoint.getEncoderType() == io.tunestream.schemas.PromptEncoderType.MLP
                    ? EncoderType.MLP : EncoderType.EMBEDDING;
            case P_TUNING -> EncoderType.valueOf(checkpoint.getEncoderType().name());
        };
    }

    private static WarmStart scratch(String reason) {
        return new WarmStart(Optional.empty(), Optional.empty(), Optional.empty(), "from scratch: " + reason);
    }
}

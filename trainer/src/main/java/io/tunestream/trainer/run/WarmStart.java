package io.tunestream.trainer.run;

import io.tunestream.model.tune.EncoderType;
import io.tunestream.model.tune.ParameterLayout;
import io.tunestream.schemas.AdapterCheckpoint;
import io.tunestream.schemas.VirtualPromptStyle;
import java.util.Optional;

/**
 * Where a run starts: from the task's latest checkpoint when it was tuned for the same model
 * (fingerprint), with the same encoder type and the same parameter shapes; otherwise from scratch.
 *
 * @param parameters    the checkpoint's parameters, empty for a start from scratch
 * @param fromVersion   the adapter version of that checkpoint
 * @param reason        why, in words (for the run record and the log)
 */
public record WarmStart(Optional<double[]> parameters, Optional<Integer> fromVersion, String reason) {

    public boolean warm() {
        return parameters.isPresent();
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
        CheckpointRecords.Result<double[]> parameters = CheckpointRecords.parameters(checkpoint, layout);
        if (parameters.value().isEmpty()) {
            return scratch(parameters.problem());
        }
        return new WarmStart(parameters.value(), Optional.of(checkpoint.getVersion()),
                "warm start from checkpoint v" + checkpoint.getVersion() + " (run " + checkpoint.getRunId() + ")");
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
        return new WarmStart(Optional.empty(), Optional.empty(), "from scratch: " + reason);
    }
}

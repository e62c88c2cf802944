package io.tunestream.trainer.run;

import io.tunestream.model.tune.EncoderType;
import io.tunestream.model.tune.ParameterLayout;
import io.tunestream.schemas.AdapterCheckpoint;
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
        if (latest.isEmpty()) {
            return scratch("no checkpoint yet");
        }
        AdapterCheckpoint checkpoint = latest.get();
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

    /** The model module's encoder type of a checkpoint: prompt tuning is the embedding encoder. */
    static EncoderType checkpointEncoder(AdapterCheckpoint checkpoint) {
        return switch (checkpoint.getVirtualPromptStyle()) {
            case PROMPT_TUNING -> EncoderType.EMBEDDING;
            case P_TUNING -> EncoderType.valueOf(checkpoint.getEncoderType().name());
        };
    }

    private static WarmStart scratch(String reason) {
        return new WarmStart(Optional.empty(), Optional.empty(), "from scratch: " + reason);
    }
}

package io.tunestream.trainer.run;

import io.tunestream.schemas.AdapterCheckpoint;
import java.util.Objects;

/**
 * A checkpoint as a run leaves it, before it is split into records ({@link CheckpointChunks#records}): the head
 * record (parameters of the published table, for warm starts and readers of the previous schema) and the exact
 * tuning state.
 *
 * @param head              the head record, without {@code resume}
 * @param state             the run's whole state ({@code CheckpointCodec}), bit-exact
 * @param checkpointId      unique id (run id and step)
 * @param inputsFingerprint what the run trained on ({@link RunInputs})
 * @param finished          whether the run had nothing left to do
 * @param previousPieces    pieces of the task's previous checkpoint: those above this one's are tombstoned
 * @param inProgress        written during a run: the head is the previous checkpoint's (version, parameters), the
 *                          state this run's
 */
public record ExactCheckpoint(AdapterCheckpoint head, byte[] state, String checkpointId, String inputsFingerprint,
                              boolean finished, int previousPieces, boolean inProgress) {

    public ExactCheckpoint {
        Objects.requireNonNull(head, "head");
        Objects.requireNonNull(state, "state");
        Objects.requireNonNull(checkpointId, "checkpointId");
        Objects.requireNonNull(inputsFingerprint, "inputsFingerprint");
        if (previousPieces < 0) {
            throw new IllegalArgumentException("previous pieces must be non-negative, got " + previousPieces);
        }
    }
}

package io.tunestream.trainer.run;

import io.tunestream.schemas.AdapterCheckpoint;
import io.tunestream.schemas.AdapterVersion;
import io.tunestream.schemas.TrainingRun;
import java.util.Objects;

/** How a run ended: what it publishes, in one transaction. */
public sealed interface RunOutcome {

    /** The final {@code training-runs} record. */
    TrainingRun run();

    /** A better table: the adapter, its checkpoint and the PUBLISHED run record. */
    record Published(AdapterVersion adapter, AdapterCheckpoint checkpoint, TrainingRun run) implements RunOutcome {
        public Published {
            Objects.requireNonNull(adapter, "adapter");
            Objects.requireNonNull(checkpoint, "checkpoint");
            Objects.requireNonNull(run, "run");
        }
    }

    /**
     * Tables published as a new version without a run (a rollback to an earlier version, an imported adapter):
     * the adapter and the ROLLBACK or IMPORTED run record; the task's checkpoint stays as it is.
     */
    record Republished(AdapterVersion adapter, TrainingRun run) implements RunOutcome {
        public Republished {
            Objects.requireNonNull(adapter, "adapter");
            Objects.requireNonNull(run, "run");
        }
    }

    /** Finished without beating the serving table: the NOT_PUBLISHED run record with both losses. */
    record NotPublished(TrainingRun run) implements RunOutcome {
    }

    /** The run could not complete: the FAILED run record with the message. */
    record Failed(TrainingRun run) implements RunOutcome {
    }
}

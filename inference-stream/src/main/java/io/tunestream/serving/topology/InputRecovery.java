package io.tunestream.serving.topology;

import io.tunestream.serving.ops.DecodeWaits;
import java.util.Objects;

/**
 * What the topology's readers need to get past bad input and registry outages, owned by the app.
 *
 * @param globalDeadLetters where the global store updaters write records that can never be read
 * @param waits             the inputs waiting for the registry now (readiness)
 * @param stop              ends the global updaters' waits when the app closes
 */
public record InputRecovery(GlobalDeadLetters globalDeadLetters, DecodeWaits waits, StopSignal stop) {

    public InputRecovery {
        Objects.requireNonNull(globalDeadLetters, "globalDeadLetters");
        Objects.requireNonNull(waits, "waits");
        Objects.requireNonNull(stop, "stop");
    }
}

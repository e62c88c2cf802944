package io.tunestream.serving.batch;

import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.BooleanSupplier;

/**
 * Whether the model still returns from the calls the topology cancels. A cancelled batch's native call
 * should return within {@code grace} (ONNX Runtime checks the terminate flag between operators); one that
 * has not is stuck in native code, which no Java code can interrupt, so the app is not live and the
 * orchestrator replaces the pod. Read by {@code /health/live} and the metrics; shared by every stream thread.
 */
public final class ModelLiveness implements BooleanSupplier {

    private final Clock clock;
    private final Duration grace;
    private final Map<Object, Long> cancelledAtMillis = new ConcurrentHashMap<>();

    public ModelLiveness(Clock clock, Duration grace) {
        this.clock = Objects.requireNonNull(clock, "clock");
        this.grace = Objects.requireNonNull(grace, "grace");
    }

    /** A batch running as {@code call} was cancelled now; it is forgotten when the call returns. */
    public void cancelled(CompletableFuture<?> call) {
        Object token = new Object();
        cancelledAtMillis.put(token, clock.millis());
        call.whenComplete((result, error) -> cancelledAtMillis.remove(token));
    }

    /** Cancelled calls that have not returned within the grace period. */
    public int stuckCalls() {
        long now = clock.millis();
        return (int) cancelledAtMillis.values().stream().filter(at -> now - at >= grace.toMillis()).count();
    }

    /** Live unless a cancelled call is stuck. */
    @Override
    public boolean getAsBoolean() {
        return stuckCalls() == 0;
    }
}

package io.tunestream.trainer.service;

import io.tunestream.trainer.loop.TrainerLoop;
import jakarta.enterprise.context.ApplicationScoped;
import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.Liveness;
import org.eclipse.microprofile.health.Readiness;

/**
 * Health of the trainer: liveness is the loop thread, readiness is model loaded and partitions
 * assigned. A transient failure (registry unreachable) keeps both UP, since waiting is the cure and a
 * restart would not help; readiness then says {@code "inputs": "degraded: registry unreachable (…)"}.
 */
@ApplicationScoped
public class TrainerHealth {

    private final TrainerService service;

    public TrainerHealth(TrainerService service) {
        this.service = service;
    }

    @Liveness
    HealthCheck loopAlive() {
        return () -> {
            TrainerLoop loop = service.loop();
            boolean alive = loop != null && loop.isAlive();
            var response = HealthCheckResponse.named("trainer-loop").status(alive);
            if (loop != null) {
                loop.failure().ifPresent(f -> response.withData("failure", String.valueOf(f.getMessage())));
            }
            return response.build();
        };
    }

    @Readiness
    HealthCheck ready() {
        return () -> {
            TrainerLoop loop = service.loop();
            boolean model = loop != null && loop.isModelLoaded();
            boolean assigned = loop != null && loop.isAssigned();
            return HealthCheckResponse.named("trainer")
                    .status(loop != null && loop.isReady())
                    .withData("modelLoaded", model)
                    .withData("consumerAssigned", assigned)
                    .withData("caughtUp", loop != null && loop.isCaughtUp())
                    .withData("runningTask", loop == null ? "" : loop.runningTask().orElse(""))
                    .withData("runningTasks", loop == null ? "" : String.join(",", new java.util.TreeSet<>(loop.runningTasks())))
                    .withData("ownedExamplesPartitions", loop == null ? "" : new java.util.TreeSet<>(loop.ownedPartitions())
                            .toString())
                    .withData("inputs", loop == null ? "" : loop.degraded().orElse("ok"))
                    .build();
        };
    }
}

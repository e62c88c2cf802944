package io.tunestream.trainer.it;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.tunestream.model.onnx.RuntimeConfig;
import io.tunestream.schemas.kafka.KafkaClientConfig;
import io.tunestream.schemas.registry.RegistryConfig;
import io.tunestream.trainer.loop.LoopSettings;
import io.tunestream.trainer.loop.RunPhase;
import io.tunestream.trainer.loop.TrainerLoop;
import io.tunestream.trainer.loop.TrainerMetrics;
import io.tunestream.trainer.loop.TrainerTopics;
import io.tunestream.trainer.run.ModelTaskRunner;
import io.tunestream.trainer.testing.StandInRunner;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;

/**
 * A trainer in its own JVM that dies at a run phase: {@code Runtime.halt} when the phase is reached,
 * so nothing is closed, flushed or aborted, as in a crash. Exits with {@link #HALTED} there.
 *
 * <p>Arguments: bootstrap servers, registry URL, topic prefix, group id, the {@link RunPhase} to die at (or
 * {@link #NEVER}: the parent kills it); optionally the replica id, the session timeout and the transaction
 * timeout in ms (one replica of several), and a model directory to train on with {@link ModelTaskRunner}
 * (one ONNX Runtime thread) instead of the {@link StandInRunner}; without them, replica
 * {@link LoopSettings#DEFAULT_REPLICA_ID} with the default timings and the stand-in.
 */
public final class TrainerChild {

    static final int HALTED = 77;
    /** The phase argument of a child that dies only when the parent kills it. */
    static final String NEVER = "never";

    private TrainerChild() {
    }

    public static void main(String[] args) throws InterruptedException {
        long started = System.nanoTime();
        KafkaClientConfig kafka = new KafkaClientConfig(args[0], RegistryConfig.forRegistry(args[1]));
        RunPhase dieAt = args[4].equals(NEVER) ? null : RunPhase.valueOf(args[4]);
        RunPhase.Listener halt = (phase, task, version) -> {
            if (phase == dieAt) {
                System.err.println("halting at " + phase + " of task " + task + " v" + version + ", "
                        + (System.nanoTime() - started) / 1_000_000 + " ms after start");
                System.err.flush();
                Runtime.getRuntime().halt(HALTED);
            }
        };
        LoopSettings settings = new LoopSettings(args[3], Duration.ofMillis(100), 100, Duration.ofMillis(100),
                Duration.ofMillis(500));
        if (args.length > 5) {
            settings = settings.asReplica(args[5], Duration.ofMillis(Long.parseLong(args[6])),
                    Duration.ofMillis(Long.parseLong(args[7])));
        }
        TrainerLoop.RunnerLoader runner = args.length > 8
                ? () -> ModelTaskRunner.load(Path.of(args[8]), RuntimeConfig.cpu(1), 1_000, Clock.systemUTC())
                : StandInRunner::new;
        TrainerLoop loop = new TrainerLoop(kafka, settings, new TrainerTopics(args[2]), runner,
                new TrainerMetrics(new SimpleMeterRegistry()), Clock.systemUTC(), halt).start();
        // the parent kills this JVM if the phase is never reached; a failed loop ends it at once
        while (loop.isAlive()) {
            Thread.sleep(100);
        }
        System.err.println("trainer loop failed: " + loop.failure().map(Throwable::toString).orElse("?"));
        System.exit(1);
    }
}

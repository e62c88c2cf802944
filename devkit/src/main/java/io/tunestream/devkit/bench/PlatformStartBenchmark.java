package io.tunestream.devkit.bench;

import io.tunestream.devkit.EmbeddedKafka;
import io.tunestream.devkit.EmbeddedRegistry;
import io.tunestream.devkit.LocalPlatform;

import java.util.function.Supplier;

/**
 * Prints how long the local platform takes to start and stop: the broker's first start in a
 * JVM (class loading included) and later ones, the registry child JVM, and
 * {@link LocalPlatform#start()} (both side by side) against the broker and registry started
 * one after the other, measured in the same run so the ratio holds on a busy machine.
 *
 * <p>Usage: {@code PlatformStartBenchmark [rounds=3]}; each figure is the best of {@code rounds}.
 */
public final class PlatformStartBenchmark {

    private PlatformStartBenchmark() {
    }

    public static void main(String[] args) {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 3;

        Timed<EmbeddedKafka> coldKafka = Timed.start(EmbeddedKafka::start);
        long coldKafkaStop = coldKafka.closeMillis();
        long kafkaStart = Long.MAX_VALUE;
        long kafkaStop = Long.MAX_VALUE;
        long registryStart = Long.MAX_VALUE;
        long registryStop = Long.MAX_VALUE;
        long platformStart = Long.MAX_VALUE;
        for (int round = 0; round < rounds; round++) {
            Timed<EmbeddedKafka> kafka = Timed.start(EmbeddedKafka::start);
            kafkaStart = Math.min(kafkaStart, kafka.startMillis());
            kafkaStop = Math.min(kafkaStop, kafka.closeMillis());
            Timed<EmbeddedRegistry> registry = Timed.start(EmbeddedRegistry::start);
            registryStart = Math.min(registryStart, registry.startMillis());
            registryStop = Math.min(registryStop, registry.closeMillis());
            Timed<LocalPlatform> platform = Timed.start(LocalPlatform::start);
            platformStart = Math.min(platformStart, platform.startMillis());
            platform.closeMillis();
        }
        long sequential = kafkaStart + registryStart;
        System.out.printf("broker first start in this JVM: %6d ms (stop %d ms)%n", coldKafka.startMillis(), coldKafkaStop);
        System.out.printf("broker start:                   %6d ms (stop %d ms)%n", kafkaStart, kafkaStop);
        System.out.printf("registry start:                 %6d ms (stop %d ms)%n", registryStart, registryStop);
        System.out.printf("platform start (side by side):  %6d ms = %.2f x broker + registry one after the other (%d ms)%n",
                platformStart, (double) platformStart / sequential, sequential);
    }

    private record Timed<T extends AutoCloseable>(T value, long startMillis) {
        static <T extends AutoCloseable> Timed<T> start(Supplier<T> starter) {
            long begin = System.nanoTime();
            T value = starter.get();
            return new Timed<>(value, (System.nanoTime() - begin) / 1_000_000);
        }

        long closeMillis() {
            long begin = System.nanoTime();
            try {
                value.close();
            } catch (Exception e) {
                throw new IllegalStateException("Closing " + value + " failed", e);
            }
            return (System.nanoTime() - begin) / 1_000_000;
        }
    }
}

package io.tunestream.devkit;

import java.util.Objects;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The platform Tunestream runs on, started locally: an {@link EmbeddedKafka} broker and an
 * {@link EmbeddedRegistry}. Closing it stops both (the registry first, then the broker).
 */
public final class LocalPlatform implements AutoCloseable {
    private final EmbeddedKafka kafka;
    private final EmbeddedRegistry registry;
    private final PlatformEndpoints endpoints;

    private LocalPlatform(EmbeddedKafka kafka, EmbeddedRegistry registry) {
        this.kafka = kafka;
        this.registry = registry;
        this.endpoints = new PlatformEndpoints(kafka.bootstrapServers(), registry.url());
    }

    /** Starts both with free ports and temporary directories. */
    public static LocalPlatform start() {
        return start(EmbeddedKafkaConfig.defaults(), EmbeddedRegistryConfig.defaults());
    }

    /**
     * Starts the broker and the registry side by side (the registry is a child JVM, so its
     * start overlaps the broker's) and returns when both are ready. If either fails, the
     * other is stopped again (a registry still starting is interrupted, not waited for).
     *
     * @throws PlatformStartException from the component that failed
     */
    public static LocalPlatform start(EmbeddedKafkaConfig kafkaConfig, EmbeddedRegistryConfig registryConfig) {
        Objects.requireNonNull(kafkaConfig, "kafkaConfig");
        Objects.requireNonNull(registryConfig, "registryConfig");
        // Also holds the registry when its start finishes just as it is cancelled, so it is closed, not lost.
        AtomicReference<EmbeddedRegistry> startedRegistry = new AtomicReference<>();
        FutureTask<EmbeddedRegistry> registryStart = new FutureTask<>(() -> {
            EmbeddedRegistry registry = EmbeddedRegistry.start(registryConfig);
            startedRegistry.set(registry);
            return registry;
        });
        Thread registryStarter = new Thread(registryStart, "tunestream-registry-start");
        registryStarter.setDaemon(true);
        registryStarter.start();

        EmbeddedKafka kafka;
        try {
            kafka = EmbeddedKafka.start(kafkaConfig);
        } catch (RuntimeException e) {
            abandonRegistry(registryStart, registryStarter, startedRegistry, e);
            throw e;
        }
        try {
            return new LocalPlatform(kafka, awaitRegistry(registryStart));
        } catch (RuntimeException e) {
            closeQuietly(kafka, e);
            throw e;
        }
    }

    /**
     * The broker failed: interrupt the registry's start instead of waiting for it (an
     * interrupted start destroys its child itself), and close a registry that made it.
     */
    private static void abandonRegistry(FutureTask<EmbeddedRegistry> registryStart, Thread registryStarter,
                                        AtomicReference<EmbeddedRegistry> startedRegistry, RuntimeException failure) {
        registryStart.cancel(true);
        try {
            registryStarter.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        closeQuietly(startedRegistry.get(), failure);
    }

    private static EmbeddedRegistry awaitRegistry(FutureTask<EmbeddedRegistry> registryStart) {
        try {
            return registryStart.get();
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException runtime) {
                throw runtime;
            }
            throw new PlatformStartException("Apicurio Registry failed to start: " + e.getCause(), e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            // The starter thread destroys the child itself if it fails; cancel interrupts its readiness wait.
            registryStart.cancel(true);
            throw new PlatformStartException("Interrupted while waiting for Apicurio Registry to start", e);
        }
    }

    private static void closeQuietly(AutoCloseable component, RuntimeException failure) {
        if (component == null) {
            return;
        }
        try {
            component.close();
        } catch (Exception e) {
            failure.addSuppressed(e);
        }
    }

    public PlatformEndpoints endpoints() {
        return endpoints;
    }

    public EmbeddedKafka kafka() {
        return kafka;
    }

    public EmbeddedRegistry registry() {
        return registry;
    }

    /** Stops the registry, then the broker; a failure of the first does not keep the second running. */
    @Override
    public void close() {
        RuntimeException failure = null;
        try {
            registry.close();
        } catch (RuntimeException e) {
            failure = e;
        }
        try {
            kafka.close();
        } catch (RuntimeException e) {
            if (failure == null) {
                failure = e;
            } else {
                failure.addSuppressed(e);
            }
        }
        if (failure != null) {
            throw failure;
        }
    }
}

package io.tunestream.devkit;

import java.util.Objects;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;

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
     * other is stopped again.
     *
     * @throws PlatformStartException from the component that failed (the other's failure, if
     *                                any, is suppressed in it)
     */
    public static LocalPlatform start(EmbeddedKafkaConfig kafkaConfig, EmbeddedRegistryConfig registryConfig) {
        Objects.requireNonNull(kafkaConfig, "kafkaConfig");
        Objects.requireNonNull(registryConfig, "registryConfig");
        FutureTask<EmbeddedRegistry> registryStart = new FutureTask<>(() -> EmbeddedRegistry.start(registryConfig));
        Thread registryStarter = new Thread(registryStart, "tunestream-registry-start");
        registryStarter.setDaemon(true);
        registryStarter.start();

        EmbeddedKafka kafka = null;
        RuntimeException failure = null;
        try {
            kafka = EmbeddedKafka.start(kafkaConfig);
        } catch (RuntimeException e) {
            failure = e;
        }
        EmbeddedRegistry registry = null;
        try {
            registry = awaitRegistry(registryStart);
        } catch (RuntimeException e) {
            if (failure == null) {
                failure = e;
            } else {
                failure.addSuppressed(e);
            }
        }
        if (failure == null) {
            return new LocalPlatform(kafka, registry);
        }
        closeQuietly(registry, failure);
        closeQuietly(kafka, failure);
        throw failure;
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

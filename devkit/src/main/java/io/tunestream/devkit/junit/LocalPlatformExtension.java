package io.tunestream.devkit.junit;

import io.tunestream.devkit.LocalPlatform;
import io.tunestream.devkit.PlatformEndpoints;

import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolutionException;
import org.junit.jupiter.api.extension.ParameterResolver;

/**
 * Gives tests a running {@link LocalPlatform}: one Kafka broker and one Apicurio Registry per
 * test JVM, started on first use and stopped when the JUnit run ends (they live in the root
 * context's store). Injects {@link PlatformEndpoints} into test methods, constructors and
 * lifecycle methods:
 * <pre>
 * {@literal @}ExtendWith(LocalPlatformExtension.class)
 * class FooIT {
 *     {@literal @}Test
 *     void x(PlatformEndpoints platform) { ... platform.bootstrapServers() ... platform.registryApiUrl() ... }
 * }
 * </pre>
 * Tests share the platform, so they should use their own topic names, group ids and
 * registry groups. When the platform cannot start, every test that asks for it fails with
 * the same cause, without a new attempt.
 */
public final class LocalPlatformExtension implements ParameterResolver {
    private static final ExtensionContext.Namespace NAMESPACE = ExtensionContext.Namespace.create(LocalPlatformExtension.class);

    @Override
    public boolean supportsParameter(ParameterContext parameterContext, ExtensionContext extensionContext) {
        return parameterContext.getParameter().getType() == PlatformEndpoints.class;
    }

    @Override
    public Object resolveParameter(ParameterContext parameterContext, ExtensionContext extensionContext) {
        SharedPlatform shared = extensionContext.getRoot()
                .getStore(NAMESPACE)
                .getOrComputeIfAbsent(SharedPlatform.class, key -> SharedPlatform.start(), SharedPlatform.class);
        return shared.endpoints();
    }

    /** The started platform, or why it could not start (remembered so that it is tried once). */
    private record SharedPlatform(LocalPlatform platform, RuntimeException failure) implements AutoCloseable {
        static SharedPlatform start() {
            try {
                return new SharedPlatform(LocalPlatform.start(), null);
            } catch (RuntimeException e) {
                return new SharedPlatform(null, e);
            }
        }

        PlatformEndpoints endpoints() {
            if (failure != null) {
                throw new ParameterResolutionException("The local platform (Kafka + Apicurio Registry) did not start: "
                        + failure.getMessage(), failure);
            }
            return platform.endpoints();
        }

        @Override
        public void close() {
            if (platform != null) {
                platform.close();
            }
        }
    }
}

package io.tunestream.serving;

import java.util.Set;

/**
 * The environment variables {@link ServingConfig} reads, for the manifest checks of the deploy module: its
 * list is package-private, and this test class sits in the same package to reach it without widening the
 * serving app's API.
 */
public final class ServingVariables {

    private ServingVariables() {
    }

    /** {@code TUNESTREAM_} + each key of ServingConfig ({@code kafka.*} excluded). */
    public static Set<String> names() {
        return ServingConfig.environmentVariables();
    }
}

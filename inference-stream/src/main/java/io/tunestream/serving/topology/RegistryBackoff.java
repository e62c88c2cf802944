package io.tunestream.serving.topology;

import org.apache.kafka.common.utils.internals.ExponentialBackoff;

/**
 * How long a decode that met an unreachable registry waits before the next try: 100 ms doubling up
 * to 5 s, with 20 % jitter so that the tasks of many instances do not probe the registry in step.
 */
final class RegistryBackoff {

    static final long INITIAL_MS = 100;
    static final long MAX_MS = 5_000;

    private RegistryBackoff() {
    }

    static ExponentialBackoff create() {
        return new ExponentialBackoff(INITIAL_MS, 2, MAX_MS, 0.2);
    }
}

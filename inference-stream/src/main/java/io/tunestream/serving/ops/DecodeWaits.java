package io.tunestream.serving.ops;

import java.time.Clock;
import java.time.Instant;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Which inputs are waiting for the schema registry right now, and since when: the "degraded" part of
 * readiness. A stream task or global store updater that cannot decode a record because the registry
 * is unreachable calls {@link #waiting}; once it decodes again, {@link #resumed}. Thread-safe: stream
 * threads, the global thread and the HTTP server share one instance.
 */
public final class DecodeWaits {

    private record Wait(Instant since, String topic) {
    }

    private final Clock clock;
    private final Map<String, Wait> waits = new ConcurrentHashMap<>();

    public DecodeWaits(Clock clock) {
        this.clock = Objects.requireNonNull(clock, "clock");
    }

    /**
     * {@code waiter} (a stream task, a global store) cannot decode a record of {@code topic} because the
     * registry is unreachable; the first call of a wait sets its start.
     */
    public void waiting(String waiter, String topic) {
        waits.putIfAbsent(waiter, new Wait(clock.instant(), topic));
    }

    /** {@code waiter} decodes again (or was closed). */
    public void resumed(String waiter) {
        waits.remove(waiter);
    }

    /**
     * Empty while nothing waits; otherwise what readiness reports, e.g.
     * {@code registry unreachable since 2026-01-01T00:00:00Z (waiting: global adapters, task 0_1 of requests)}.
     */
    public Optional<String> degraded() {
        var now = new TreeMap<>(waits);
        if (now.isEmpty()) {
            return Optional.empty();
        }
        Instant since = now.values().stream().map(Wait::since).min(Instant::compareTo).orElseThrow();
        var who = new StringBuilder();
        now.forEach((waiter, wait) -> who.append(who.isEmpty() ? "" : ", ").append(waiter).append(" of ")
                .append(wait.topic()));
        return Optional.of("registry unreachable since " + since + " (waiting: " + who + ")");
    }
}

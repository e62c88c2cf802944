package io.tunestream.serving.serde;

import io.tunestream.schemas.registry.Decoded;
import io.tunestream.schemas.registry.RegistryUnavailableException;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.kafka.common.header.Headers;

/**
 * Bounds how long one decode may take: a registry that accepts connections but does not answer (hung,
 * overloaded) would otherwise hold the caller for as long as the registry client waits, which has no
 * limit, and a stream thread held that long loses its exactly-once transaction (10 s by default). Each
 * decode runs on a small pool and the caller waits at most {@code limit}; past it, or when
 * {@code maxHangingCalls} calls still hang, the decode counts as "registry unreachable" (the caller
 * retries later; a late answer is dropped, though it still fills the schema cache).
 *
 * @param <T> the record type
 */
public final class TimeLimitedDecoder<T> implements ValueDecoder<T> {

    private static final AtomicInteger THREADS = new AtomicInteger();

    private final ValueDecoder<T> delegate;
    private final Duration limit;
    private final int maxHangingCalls;
    private final ThreadPoolExecutor calls;

    public TimeLimitedDecoder(ValueDecoder<T> delegate, Duration limit, int maxHangingCalls) {
        this.delegate = Objects.requireNonNull(delegate, "delegate");
        this.limit = Objects.requireNonNull(limit, "limit");
        this.maxHangingCalls = maxHangingCalls;
        if (limit.isNegative() || limit.isZero() || maxHangingCalls < 1) {
            throw new IllegalArgumentException("limit must be positive and maxHangingCalls >= 1, were " + limit
                    + " and " + maxHangingCalls);
        }
        this.calls = new ThreadPoolExecutor(0, maxHangingCalls, 30, TimeUnit.SECONDS, new SynchronousQueue<>(), r -> {
            var thread = new Thread(r, "tunestream-decode-" + THREADS.incrementAndGet());
            thread.setDaemon(true);
            return thread;
        });
    }

    @Override
    public Decoded<T> decode(String topic, Headers headers, byte[] value) {
        Future<Decoded<T>> call;
        try {
            call = calls.submit(() -> delegate.decode(topic, headers, value));
        } catch (RejectedExecutionException e) {
            throw new RegistryUnavailableException(maxHangingCalls + " registry calls for " + topic
                    + " still wait for an answer", e);
        }
        try {
            return call.get(limit.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            call.cancel(true);
            throw new RegistryUnavailableException("no answer from the registry within " + limit.toMillis()
                    + " ms while reading a record of " + topic, e);
        } catch (InterruptedException e) {
            call.cancel(true);
            Thread.currentThread().interrupt();
            throw new RegistryUnavailableException("interrupted while reading a record of " + topic, e);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException runtime) {
                throw runtime;
            }
            throw new IllegalStateException("decoding a record of " + topic + " failed: " + e.getCause(),
                    e.getCause());
        }
    }

    @Override
    public void close() {
        calls.shutdownNow();
        delegate.close();
    }
}

package io.tunestream.serving.topology;

import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Tells the global store updaters, which may be waiting for the registry on the global thread, that
 * the app is closing: Kafka Streams does not interrupt that thread, so a wait must end on this signal
 * or {@code KafkaStreams.close} would wait for the registry. The app stops it before closing streams.
 */
public final class StopSignal {

    private final CountDownLatch stopped = new CountDownLatch(1);

    public void stop() {
        stopped.countDown();
    }

    public boolean isStopped() {
        return stopped.getCount() == 0;
    }

    /**
     * Waits {@code duration} or until stopped or interrupted.
     *
     * @return true when the wait ended because the app is closing (or the thread was interrupted; its
     *         flag is set again)
     */
    public boolean sleep(Duration duration) {
        try {
            return stopped.await(duration.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return true;
        }
    }
}

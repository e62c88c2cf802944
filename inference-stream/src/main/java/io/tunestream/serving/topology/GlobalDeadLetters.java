package io.tunestream.serving.topology;

import java.time.Duration;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;

/**
 * Where the global store updaters send records that can never be read. Global processors cannot
 * forward (they have no sink and no transaction), so the app owns a small idempotent producer for
 * them. {@link #send} returns once the dead letter is written: only then may the global thread move
 * past the record, or a crash would lose it.
 */
@FunctionalInterface
public interface GlobalDeadLetters {

    /**
     * Writes {@code deadLetter} and waits for the broker's acknowledgement.
     *
     * @throws KafkaException when it could not be written (transient: the caller retries)
     */
    void send(ProducerRecord<byte[], byte[]> deadLetter);

    /** Through {@code producer} (idempotent; the caller owns and closes it), waiting at most {@code timeout}. */
    static GlobalDeadLetters producer(Producer<byte[], byte[]> producer, Duration timeout) {
        return deadLetter -> {
            try {
                producer.send(deadLetter).get(timeout.toMillis(), TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new KafkaException("interrupted while writing a dead letter to " + deadLetter.topic(), e);
            } catch (ExecutionException e) {
                throw new KafkaException("cannot write a dead letter to " + deadLetter.topic() + ": "
                        + e.getCause().getMessage(), e.getCause());
            } catch (TimeoutException e) {
                throw new KafkaException("no acknowledgement of a dead letter to " + deadLetter.topic() + " within "
                        + timeout, e);
            }
        };
    }
}

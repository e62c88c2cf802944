package io.tunestream.serving.topology;

import io.tunestream.schemas.DeadLetters;
import io.tunestream.schemas.registry.Decoded;
import io.tunestream.schemas.registry.RegistryUnavailableException;
import io.tunestream.serving.ops.DecodeWaits;
import io.tunestream.serving.ops.ServingMetrics;
import io.tunestream.serving.serde.ValueDecoder;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.utils.internals.ExponentialBackoff;
import org.apache.kafka.streams.errors.StreamsException;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.processor.api.RecordMetadata;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Decodes the records of a global store's topic on the global thread, where waiting is allowed (no
 * transaction, no group membership): while the registry is unreachable it waits with exponential
 * backoff and tries again, for as long as it takes, so no update is ever skipped because of an outage
 * (also while the store is restored at start, which runs the same updater). A record that can never
 * be read goes to the dead-letter topic with its source topic, partition and offset in headers, and
 * the store is left as it was.
 *
 * @param <T> the record type
 */
public final class GlobalRecordReader<T> {

    private static final Logger LOG = LoggerFactory.getLogger(GlobalRecordReader.class);

    private final String storeName;
    private final ValueDecoder<T> decoder;
    private final String deadLetterTopic;
    private final GlobalDeadLetters deadLetters;
    private final DecodeWaits waits;
    private final ServingMetrics metrics;
    private final StopSignal stop;
    private final ExponentialBackoff backoff = RegistryBackoff.create();

    public GlobalRecordReader(String storeName, ValueDecoder<T> decoder, String deadLetterTopic,
                              GlobalDeadLetters deadLetters, DecodeWaits waits, ServingMetrics metrics,
                              StopSignal stop) {
        this.storeName = Objects.requireNonNull(storeName, "storeName");
        this.decoder = Objects.requireNonNull(decoder, "decoder");
        this.deadLetterTopic = Objects.requireNonNull(deadLetterTopic, "deadLetterTopic");
        this.deadLetters = Objects.requireNonNull(deadLetters, "deadLetters");
        this.waits = Objects.requireNonNull(waits, "waits");
        this.metrics = Objects.requireNonNull(metrics, "metrics");
        this.stop = Objects.requireNonNull(stop, "stop");
    }

    /**
     * The value of {@code record} (null for a tombstone), or empty when it can never be read (then it
     * has been dead-lettered). Blocks while the registry or the broker cannot be reached.
     *
     * @throws StreamsException when the app closes while the record waits (it is read again at the next
     *                          start: the global offset does not move past it)
     */
    public Optional<Decoded.Value<T>> read(Record<byte[], byte[]> record, RecordMetadata where) {
        String waiter = "global store " + storeName;
        long attempts = 0;
        try {
            while (true) {
                Decoded<T> decoded;
                try {
                    decoded = decoder.decode(where.topic(), record.headers(), record.value());
                } catch (RegistryUnavailableException e) {
                    waits.waiting(waiter, where.topic());
                    metrics.registryWait(where.topic());
                    pause(where, attempts++, "the registry is unreachable: " + e.getMessage());
                    continue;
                }
                waits.resumed(waiter);
                if (decoded instanceof Decoded.Value<T> value) {
                    return Optional.of(value);
                }
                deadLetter(record, where, (Decoded.Poison<T>) decoded);
                return Optional.empty();
            }
        } finally {
            waits.resumed(waiter);
        }
    }

    private void deadLetter(Record<byte[], byte[]> record, RecordMetadata where, Decoded.Poison<T> poison) {
        var headers = DeadLetters.headers(record.headers(), poison.reason(), poison.cause(), where.topic(),
                where.partition(), where.offset());
        var letter = new ProducerRecord<>(deadLetterTopic, null, record.key(), record.value(), headers);
        long attempts = 0;
        while (true) {
            try {
                deadLetters.send(letter);
                break;
            } catch (KafkaException e) {
                pause(where, attempts++, "its dead letter cannot be written to " + deadLetterTopic + ": "
                        + e.getMessage());
            }
        }
        metrics.deadLettered(where.topic(), poison.cause().getClass().getSimpleName());
        LOG.error("global store {}: record {}-{}@{} can never be read, sent to {} and not applied: {}", storeName,
                where.topic(), where.partition(), where.offset(), deadLetterTopic, poison.reason());
    }

    private void pause(RecordMetadata where, long attempt, String why) {
        long millis = backoff.backoff(attempt);
        if (attempt == 0 || millis >= RegistryBackoff.MAX_MS) {
            LOG.warn("global store {}: record {}-{}@{} waits, {}; next try in {} ms (attempt {})", storeName,
                    where.topic(), where.partition(), where.offset(), why, millis, attempt + 1);
        }
        if (stop.sleep(Duration.ofMillis(millis))) {
            throw new StreamsException("global store " + storeName + ": closing while record " + where.topic() + "-"
                    + where.partition() + "@" + where.offset() + " waits (" + why
                    + "); it is read again at the next start");
        }
    }
}

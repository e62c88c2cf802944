package io.tunestream.ingest.jsonl;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.KafkaException;

/**
 * Sends records in transactions of at most {@code batchSize}: a batch is visible to
 * read_committed consumers all or not at all, so after a failure exactly the records of the
 * committed batches went out, and the report says which lines did not.
 *
 * @param <V> record value type
 */
public final class TransactionalSender<V> {

    /**
     * A record to send, with the line it came from.
     *
     * @param line  1-based line number in the input
     * @param key   record key
     * @param value record value
     */
    public record Outgoing<V>(long line, String key, V value) {
    }

    /**
     * What happened.
     *
     * @param sent        records in committed transactions
     * @param notSentFrom first line not sent after a failure (0 when everything was sent)
     * @param notSent     records not sent after a failure
     * @param failure     why sending stopped, or null
     */
    public record Report(long sent, long notSentFrom, long notSent, Exception failure) {
        public boolean complete() {
            return failure == null;
        }
    }

    private final Producer<String, V> producer;
    private final String topic;
    private final int batchSize;
    private final RateLimiter rateLimiter;
    private final boolean initialise;

    /**
     * @param producer    a transactional producer, not yet initialised; this sender initialises it
     *                    (the caller still closes it)
     * @param rateLimiter records per second, or null for no limit
     */
    public TransactionalSender(Producer<String, V> producer, String topic, int batchSize, RateLimiter rateLimiter) {
        this(producer, topic, batchSize, rateLimiter, true);
    }

    private TransactionalSender(Producer<String, V> producer, String topic, int batchSize, RateLimiter rateLimiter,
                                boolean initialise) {
        this.initialise = initialise;
        this.producer = Objects.requireNonNull(producer, "producer");
        this.topic = Objects.requireNonNull(topic, "topic");
        if (batchSize < 1) {
            throw new IllegalArgumentException("batch size must be >= 1, was " + batchSize);
        }
        this.batchSize = batchSize;
        this.rateLimiter = rateLimiter;
    }

    /**
     * A sender on a producer whose transactions are initialised already (one kept across sends, e.g. by a
     * server); after a failed send the caller should close that producer, which may be fenced or failed.
     */
    public static <V> TransactionalSender<V> onInitialised(Producer<String, V> producer, String topic, int batchSize,
                                                           RateLimiter rateLimiter) {
        return new TransactionalSender<>(producer, topic, batchSize, rateLimiter, false);
    }

    /** Sends {@code records} in order; {@code progress} (may be null) advances as batches commit. */
    public Report send(List<Outgoing<V>> records, ProgressBar progress) {
        long sent = 0;
        if (initialise) {
            producer.initTransactions();
        }
        for (int from = 0; from < records.size(); from += batchSize) {
            List<Outgoing<V>> batch = records.subList(from, Math.min(records.size(), from + batchSize));
            try {
                sendBatch(batch);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return failed(records, from, sent, e);
            } catch (KafkaException | ExecutionException e) {
                return failed(records, from, sent, e);
            }
            sent += batch.size();
            if (progress != null) {
                progress.advance(batch.size());
            }
        }
        return new Report(sent, 0, 0, null);
    }

    private void sendBatch(List<Outgoing<V>> batch) throws InterruptedException, ExecutionException {
        producer.beginTransaction();
        try {
            List<Future<RecordMetadata>> acks = new ArrayList<>(batch.size());
            for (Outgoing<V> record : batch) {
                if (rateLimiter != null) {
                    rateLimiter.acquire();
                }
                acks.add(producer.send(new ProducerRecord<>(topic, record.key(), record.value())));
            }
            for (Future<RecordMetadata> ack : acks) {
                ack.get();
            }
            producer.commitTransaction();
        } catch (InterruptedException | ExecutionException | KafkaException e) {
            try {
                producer.abortTransaction();
            } catch (KafkaException abortFailure) {
                e.addSuppressed(abortFailure);
            }
            throw e;
        }
    }

    private Report failed(List<Outgoing<V>> records, int from, long sent, Exception e) {
        return new Report(sent, records.get(from).line(), records.size() - from, e);
    }
}

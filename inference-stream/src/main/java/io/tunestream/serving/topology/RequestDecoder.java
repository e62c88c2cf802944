package io.tunestream.serving.topology;

import io.tunestream.schemas.DeadLetters;
import io.tunestream.schemas.InferenceRequest;
import io.tunestream.schemas.registry.Decoded;
import io.tunestream.schemas.registry.RegistryUnavailableException;
import io.tunestream.serving.ops.DecodeWaits;
import io.tunestream.serving.ops.ServingMetrics;
import io.tunestream.serving.serde.ValueDecoder;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Optional;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.utils.internals.ExponentialBackoff;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.processor.PunctuationType;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.processor.api.RecordMetadata;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Decodes the raw request records (the source reads bytes) and tells the three outcomes apart:
 * <ul>
 *   <li>a request: forwarded to the batcher, with its input offset in the {@link #INPUT_OFFSET_HEADER}
 *       header (the batcher keys its buffer by it, also for records forwarded from a punctuation, which
 *       has no record metadata);</li>
 *   <li>bytes that can never be read: forwarded to the dead-letter sink as they arrived, with the
 *       reason and the source topic, partition and offset in headers ({@link DeadLetters}), inside the
 *       task's exactly-once transaction;</li>
 *   <li>the registry cannot be reached: the raw record is parked in the changelogged pending store
 *       (keyed by input offset) and every later record of the partition queues behind it, so the order
 *       is kept. A wall-clock punctuator retries the oldest with exponential backoff and releases the
 *       queue in order once it decodes.</li>
 * </ul>
 * The stream thread never blocks on the registry for more than one decode attempt per backoff step, so
 * it keeps polling and committing (the transaction timeout is never at risk) and nothing is
 * dead-lettered because of an outage. While records wait, {@link DecodeWaits} reports the task and
 * readiness says "degraded".
 */
final class RequestDecoder implements Processor<byte[], byte[], Object, Object> {

    /** The input offset of a request forwarded to the batcher (decimal text). */
    static final String INPUT_OFFSET_HEADER = "tunestream.input.offset";
    /** How often the punctuator checks whether a retry is due. */
    static final Duration RETRY_CHECK_INTERVAL = Duration.ofMillis(100);
    /** Most parked records released by one punctuation, so one punctuation stays short. */
    static final int MAX_RELEASED_PER_PUNCTUATION = 1_000;

    private static final Logger LOG = LoggerFactory.getLogger(RequestDecoder.class);

    private final String pendingStoreName;
    private final ValueDecoder<InferenceRequest> decoder;
    private final String batcherName;
    private final String deadLetterSinkName;
    private final String deadLetterTopic;
    private final DecodeWaits waits;
    private final ServingMetrics metrics;
    private final Clock clock;
    private final ExponentialBackoff backoff = RegistryBackoff.create();

    private ProcessorContext<Object, Object> context;
    private KeyValueStore<String, PendingRequest> pending;
    private String waiter;
    private long pendingCount;
    private long failedAttempts;
    private long nextAttemptMillis;

    RequestDecoder(String pendingStoreName, ValueDecoder<InferenceRequest> decoder, String batcherName,
                   String deadLetterSinkName, String deadLetterTopic, DecodeWaits waits, ServingMetrics metrics,
                   Clock clock) {
        this.pendingStoreName = pendingStoreName;
        this.decoder = decoder;
        this.batcherName = batcherName;
        this.deadLetterSinkName = deadLetterSinkName;
        this.deadLetterTopic = deadLetterTopic;
        this.waits = waits;
        this.metrics = metrics;
        this.clock = clock;
    }

    /** The input offset a request was read at, set by the decoder; empty for records that did not pass it. */
    static Optional<Long> inputOffset(Headers headers) {
        Header header = headers.lastHeader(INPUT_OFFSET_HEADER);
        return header == null ? Optional.empty()
                : Optional.of(Long.parseLong(new String(header.value(), StandardCharsets.UTF_8)));
    }

    @Override
    public void init(ProcessorContext<Object, Object> context) {
        this.context = context;
        this.pending = context.getStateStore(pendingStoreName);
        this.waiter = "task " + context.taskId();
        // init runs after the store is restored: records parked before a crash or a rebalance wait on
        pendingCount = 0;
        try (KeyValueIterator<String, PendingRequest> it = pending.all()) {
            while (it.hasNext()) {
                it.next();
                pendingCount++;
            }
        }
        if (pendingCount > 0) {
            LOG.info("task {}: {} requests restored that wait for the registry; retrying now", context.taskId(),
                    pendingCount);
        }
        failedAttempts = 0;
        nextAttemptMillis = clock.millis();
        context.schedule(RETRY_CHECK_INTERVAL, PunctuationType.WALL_CLOCK_TIME, now -> retry());
    }

    @Override
    public void process(Record<byte[], byte[]> record) {
        RecordMetadata where = context.recordMetadata().orElseThrow(() -> new IllegalStateException(
                "a request record without metadata: the decoder keys its queue by input offset"));
        var raw = new PendingRequest(where.topic(), where.partition(), where.offset(), record.timestamp(),
                record.key(), record.value(), new RecordHeaders(record.headers().toArray()));
        if (pendingCount > 0) {
            park(raw);
            return;
        }
        if (!tryDecode(raw)) {
            park(raw);
            scheduleRetry();
        }
    }

    /** Releases the parked records in order while they decode; stops at the first that still cannot. */
    private void retry() {
        if (pendingCount == 0 || clock.millis() < nextAttemptMillis) {
            return;
        }
        var batch = new ArrayList<KeyValue<String, PendingRequest>>();
        try (KeyValueIterator<String, PendingRequest> it = pending.all()) {
            while (it.hasNext() && batch.size() < MAX_RELEASED_PER_PUNCTUATION) {
                batch.add(it.next());
            }
        }
        for (KeyValue<String, PendingRequest> entry : batch) {
            if (!tryDecode(entry.value)) {
                scheduleRetry();
                return;
            }
            pending.delete(entry.key);
            pendingCount--;
        }
        if (batch.isEmpty()) {
            pendingCount = 0;
        }
        if (pendingCount == 0) {
            LOG.info("task {}: the registry answers again after {} failed attempts; the waiting requests went on",
                    context.taskId(), failedAttempts);
            failedAttempts = 0;
            waits.resumed(waiter);
        }
    }

    private void park(PendingRequest raw) {
        pending.put(PendingRequest.storeKey(raw.offset()), raw);
        pendingCount++;
    }

    private void scheduleRetry() {
        long delay = backoff.backoff(failedAttempts++);
        nextAttemptMillis = clock.millis() + delay;
    }

    /**
     * Decodes {@code raw} and forwards it to the batcher or the dead-letter sink.
     *
     * @return false when the registry cannot be reached (nothing forwarded: try again later)
     */
    private boolean tryDecode(PendingRequest raw) {
        Decoded<InferenceRequest> decoded;
        try {
            decoded = decoder.decode(raw.topic(), raw.headers(), raw.value());
        } catch (RegistryUnavailableException e) {
            metrics.registryWait(raw.topic());
            waits.waiting(waiter, raw.topic());
            if (failedAttempts == 0 || backoff.backoff(failedAttempts) >= RegistryBackoff.MAX_MS) {
                LOG.warn("task {}: request {} waits ({} behind it): {}", context.taskId(), raw.where(),
                        Math.max(0, pendingCount - 1), e.getMessage());
            }
            return false;
        }
        if (decoded instanceof Decoded.Value<InferenceRequest> value) {
            var headers = new RecordHeaders(raw.headers().toArray());
            headers.add(INPUT_OFFSET_HEADER, Long.toString(raw.offset()).getBytes(StandardCharsets.UTF_8));
            String key = raw.key() == null ? null : new String(raw.key(), StandardCharsets.UTF_8);
            context.forward(new Record<Object, Object>(key, value.value(), raw.timestamp(), headers), batcherName);
        } else if (decoded instanceof Decoded.Poison<InferenceRequest> poison) {
            var headers = DeadLetters.headers(raw.headers(), poison.reason(), poison.cause(), raw.topic(),
                    raw.partition(), raw.offset());
            context.forward(new Record<Object, Object>(raw.key(), raw.value(), raw.timestamp(), headers),
                    deadLetterSinkName);
            metrics.deadLettered(raw.topic(), poison.cause().getClass().getSimpleName());
            LOG.warn("request {} can never be read, sent to {}: {}", raw.where(), deadLetterTopic, poison.reason());
        }
        return true;
    }

    @Override
    public void close() {
        // the task's next owner reports its own wait
        if (waiter != null) {
            waits.resumed(waiter);
        }
    }
}

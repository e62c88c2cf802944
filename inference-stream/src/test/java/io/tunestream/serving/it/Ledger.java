package io.tunestream.serving.it;

import io.tunestream.schemas.Answer;
import io.tunestream.schemas.DeadLetters;
import io.tunestream.schemas.InferenceRequest;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.IntPredicate;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * The Kafka side of a fault scenario's books: sends requests with known ids (and what each should get),
 * reads every committed answer (read_committed, from the start of {@code answers}) and every dead letter,
 * and keeps the accounts in {@link RequestBooks}, which computes the figures of the fault table.
 *
 * <p>A daemon thread polls answers and dead letters from construction to {@link #close}, so the
 * receipt times hold while the scenario blocks on a kill, a stop or a restart. Sending is
 * thread-safe (a load thread and the test thread may send at once).
 */
final class Ledger implements AutoCloseable {

    static final RequestBooks.Expected ANSWERED = RequestBooks.ANSWERED;
    static final RequestBooks.Expected ANY_ERROR = RequestBooks.ANY_ERROR;
    static final RequestBooks.Expected DEAD_LETTERED = RequestBooks.DEAD_LETTERED;

    static RequestBooks.Expected errorOf(String kind) {
        return RequestBooks.errorOf(kind);
    }

    /**
     * Serving keys the dead letter of a request it cannot answer (its id too long to key an answer) by the
     * request key cut to this many characters, and gives it no value.
     */
    static final int DEAD_LETTER_KEY_CHARS = 64;

    private final ServingFixture fixture;
    private final KafkaProducer<String, Object> producer;
    private final KafkaProducer<byte[], byte[]> raw;
    private final KafkaConsumer<String, Answer> answers;
    private final KafkaConsumer<byte[], byte[]> deadLetters;
    private final RequestBooks books = new RequestBooks();
    /** Full request ids of the requests sent by {@link #sendUnanswerable}, by the key of their dead letter. */
    private final Map<String, String> idsByDeadLetterKey = new ConcurrentHashMap<>();
    private final AtomicBoolean closing = new AtomicBoolean();
    private final Thread poller;

    Ledger(ServingFixture fixture) {
        this.fixture = fixture;
        var producerProps = fixture.clients.producerProperties(fixture.prefix + "ledger");
        // a send waits out a broker outage instead of failing: it may block (stale metadata) or wait in the batch
        producerProps.put("max.block.ms", "180000");
        producerProps.put("delivery.timeout.ms", "180000");
        this.producer = new KafkaProducer<>(producerProps);
        this.raw = new KafkaProducer<>(Map.of("bootstrap.servers", fixture.platform.bootstrapServers(),
                "enable.idempotence", "true", "max.block.ms", "180000", "delivery.timeout.ms", "180000", "max.request.size",
                Integer.toString(io.tunestream.schemas.Topics.LARGE_MESSAGE_BYTES)),
                new ByteArraySerializer(), new ByteArraySerializer());
        this.answers = new KafkaConsumer<>(fixture.clients.consumerProperties(fixture.prefix + "ledger-answers", null));
        assignFromStart(answers, fixture.topics.answers());
        this.deadLetters = new KafkaConsumer<>(Map.<String, Object>of("bootstrap.servers", fixture.platform.bootstrapServers(),
                "isolation.level", "read_committed"), new ByteArrayDeserializer(), new ByteArrayDeserializer());
        assignFromStart(deadLetters, fixture.topics.deadLetter());
        this.poller = new Thread(this::pollUntilClosed, fixture.prefix + "ledger-poller");
        poller.setDaemon(true);
        poller.start();
    }

    private static void assignFromStart(KafkaConsumer<?, ?> consumer, String topic) {
        List<TopicPartition> partitions = consumer.partitionsFor(topic, Duration.ofSeconds(30)).stream()
                .map(p -> new TopicPartition(p.topic(), p.partition())).toList();
        consumer.assign(partitions);
        consumer.seekToBeginning(partitions);
    }

    private void pollUntilClosed() {
        while (!closing.get()) {
            try {
                for (ConsumerRecord<String, Answer> record : answers.poll(Duration.ofMillis(20))) {
                    books.answered(record.key(), record.value(), System.nanoTime());
                }
                for (ConsumerRecord<byte[], byte[]> record : deadLetters.poll(Duration.ofMillis(20))) {
                    String key = record.key() == null ? "(null key)" : new String(record.key(), StandardCharsets.UTF_8);
                    Header reason = record.headers().lastHeader(DeadLetters.REASON_HEADER);
                    books.deadLettered(idsByDeadLetterKey.getOrDefault(key, key),
                            reason == null ? "" : new String(reason.value(), StandardCharsets.UTF_8));
                }
            } catch (WakeupException e) {
                return;
            } catch (RuntimeException e) {
                // an unreadable answer is a finding of the scenario, not a reason to stop counting
                books.pollFailed(e.toString());
            }
        }
    }

    /** Sends {@code request} without waiting; it should get {@code expected}. */
    void send(InferenceRequest request, RequestBooks.Expected expected) {
        send(request, expected, System.nanoTime());
    }

    /**
     * Sends {@code request} without waiting; its latency counts from {@code sentNanos}, the time a load meant
     * to send it, so that a send blocked by an outage does not hide the outage from the latency.
     */
    void send(InferenceRequest request, RequestBooks.Expected expected, long sentNanos) {
        String id = request.getRequestId();
        books.sent(id, sentNanos, expected);
        try {
            producer.send(new ProducerRecord<>(fixture.topics.requests(), id, request), (metadata, error) -> {
                if (error != null) {
                    books.sendFailed(id, error.toString());
                } else {
                    books.acknowledged(id, metadata.partition());
                }
            });
        } catch (RuntimeException e) {
            // e.g. the serializer could not reach the registry: never sent, so neither lost nor answered
            books.sendFailed(id, e.toString());
        }
    }

    /**
     * Sends {@code request}, whose id is too long to key an answer (unique in its first
     * {@value #DEAD_LETTER_KEY_CHARS} characters); expects a dead letter whose reason contains {@code reasonPart}.
     */
    void sendUnanswerable(InferenceRequest request, String reasonPart) {
        String id = request.getRequestId();
        String deadLetterKey = id.substring(0, Math.min(id.length(), DEAD_LETTER_KEY_CHARS));
        if (idsByDeadLetterKey.putIfAbsent(deadLetterKey, id) != null) {
            throw new IllegalArgumentException("request id " + deadLetterKey + "... is not unique in its first "
                    + DEAD_LETTER_KEY_CHARS + " characters");
        }
        send(request, RequestBooks.deadLetteredBecause(reasonPart));
    }

    /** Sends bytes that are no Avro record of ours to {@code requests} under {@code id}; expects a dead letter. */
    void sendPoisonRequest(String id, byte[] value) {
        books.sent(id, System.nanoTime(), DEAD_LETTERED);
        raw.send(new ProducerRecord<>(fixture.topics.requests(), id.getBytes(StandardCharsets.UTF_8), value),
                (metadata, error) -> {
                    if (error != null) {
                        books.sendFailed(id, error.toString());
                    } else {
                        books.acknowledged(id, metadata.partition());
                    }
                });
    }

    /** Writes raw bytes to any topic (poison in the global stores); waits for the acknowledgement. */
    void sendRaw(String topic, String key, byte[] value) throws Exception {
        raw.send(new ProducerRecord<>(topic, key.getBytes(StandardCharsets.UTF_8), value)).get(60, TimeUnit.SECONDS);
    }

    /** Changes what {@code id} should get, once the scenario knows (e.g. which rows shared a hung batch). */
    void expect(String id, RequestBooks.Expected expected) {
        books.expect(id, expected);
    }

    /** The partition of {@code requests} that {@code id} went to, once acknowledged. */
    Optional<Integer> partitionOf(String id) {
        return books.partitionOf(id);
    }

    /** Whether a request sent at or after {@code markNanos} to a partition {@code partitions} accepts has an answer. */
    boolean answeredSince(long markNanos, IntPredicate partitions) {
        return books.answeredSince(markNanos, partitions);
    }

    void flush() {
        producer.flush();
        raw.flush();
    }

    /** Whether every request sent so far has an answer or a dead letter. */
    boolean settled() {
        return books.settled();
    }

    /**
     * Waits up to {@code timeout} until every request sent has an answer or a dead letter, then keeps
     * reading for {@code quiet} so that a late duplicate is counted too.
     */
    void awaitSettled(Duration timeout, Duration quiet) throws InterruptedException {
        flush();
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!settled() && System.nanoTime() < deadline) {
            Thread.sleep(50); // the poller thread does the reading; this only waits for it
        }
        Thread.sleep(quiet.toMillis());
    }

    /** The figures of the table; see {@link RequestBooks#report}. */
    FaultReport report(String scenario, Optional<Long> faultEndNanos, IntPredicate partitionFilter) {
        return books.report(scenario, faultEndNanos, partitionFilter);
    }

    @Override
    public void close() throws InterruptedException {
        closing.set(true);
        answers.wakeup();
        deadLetters.wakeup();
        poller.join(10_000);
        answers.close();
        deadLetters.close();
        producer.close();
        raw.close();
    }
}

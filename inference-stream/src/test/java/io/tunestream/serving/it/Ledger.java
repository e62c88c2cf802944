package io.tunestream.serving.it;

import io.tunestream.schemas.Answer;
import io.tunestream.schemas.InferenceRequest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.IntPredicate;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * The books of a fault scenario: every request id sent (with what it should get), every committed
 * answer (read_committed, from the start of {@code answers}) and every dead letter, each with the
 * {@link System#nanoTime} it was seen; and the figures of the fault table computed from them.
 *
 * <p>A daemon thread polls answers and dead letters from construction to {@link #close}, so the
 * receipt times hold while the scenario blocks on a kill, a stop or a restart. Sending is
 * thread-safe (a load thread and the test thread may send at once).
 */
final class Ledger implements AutoCloseable {

    /** What a request should get. */
    sealed interface Expected {
        /** A generated answer without an error. */
        record Answered() implements Expected {
            @Override
            public String toString() {
                return "an answer";
            }
        }

        /** An error answer of this kind ({@code ErrorKind} name, so kinds added on other branches can be named). */
        record ErrorOf(String kind) implements Expected {
            @Override
            public String toString() {
                return "an error answer " + kind;
            }
        }

        /** An error answer of any kind. */
        record AnyError() implements Expected {
            @Override
            public String toString() {
                return "an error answer";
            }
        }

        /** A record on the dead-letter topic and no answer. */
        record DeadLettered() implements Expected {
            @Override
            public String toString() {
                return "a dead letter";
            }
        }
    }

    static final Expected ANSWERED = new Expected.Answered();
    static final Expected ANY_ERROR = new Expected.AnyError();
    static final Expected DEAD_LETTERED = new Expected.DeadLettered();

    static Expected errorOf(String kind) {
        return new Expected.ErrorOf(kind);
    }

    private record SentRequest(long sentNanos, Expected expected) {
    }

    private final ServingFixture fixture;
    private final KafkaProducer<String, Object> producer;
    private final KafkaProducer<byte[], byte[]> raw;
    private final KafkaConsumer<String, Answer> answers;
    private final KafkaConsumer<byte[], byte[]> deadLetters;
    private final Map<String, SentRequest> sent = new ConcurrentHashMap<>();
    private final Map<String, Integer> partitionOf = new ConcurrentHashMap<>();
    private final Map<String, String> sendFailures = new ConcurrentHashMap<>();
    private final Map<String, List<Answer>> answersById = new ConcurrentHashMap<>();
    private final Map<String, Long> firstAnswerNanos = new ConcurrentHashMap<>();
    private final Map<String, Integer> deadLettersById = new ConcurrentHashMap<>();
    private final List<String> pollFailures = new CopyOnWriteArrayList<>();
    private final AtomicBoolean closing = new AtomicBoolean();
    private final Thread poller;

    Ledger(ServingFixture fixture) {
        this.fixture = fixture;
        var producerProps = fixture.clients.producerProperties(fixture.prefix + "ledger");
        // a send waits out a broker outage instead of failing (the default 120 s is the same, stated here)
        producerProps.put("delivery.timeout.ms", "180000");
        this.producer = new KafkaProducer<>(producerProps);
        this.raw = new KafkaProducer<>(Map.of("bootstrap.servers", fixture.platform.bootstrapServers(),
                "enable.idempotence", "true", "delivery.timeout.ms", "180000", "max.request.size",
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
                long now = System.nanoTime();
                for (ConsumerRecord<String, Answer> record : answers.poll(Duration.ofMillis(20))) {
                    answersById.computeIfAbsent(record.key(), k -> new CopyOnWriteArrayList<>()).add(record.value());
                    firstAnswerNanos.putIfAbsent(record.key(), now);
                }
                for (ConsumerRecord<byte[], byte[]> record : deadLetters.poll(Duration.ofMillis(20))) {
                    String key = record.key() == null ? "(null key)" : new String(record.key(), java.nio.charset.StandardCharsets.UTF_8);
                    deadLettersById.merge(key, 1, Integer::sum);
                }
            } catch (WakeupException e) {
                return;
            } catch (RuntimeException e) {
                // an unreadable answer is a finding of the scenario, not a reason to stop counting
                pollFailures.add(e.toString());
            }
        }
    }

    /** Sends {@code request} without waiting; it should get {@code expected}. */
    void send(InferenceRequest request, Expected expected) {
        String id = request.getRequestId();
        sent.put(id, new SentRequest(System.nanoTime(), expected));
        try {
            producer.send(new ProducerRecord<>(fixture.topics.requests(), id, request), (metadata, error) -> {
                if (error != null) {
                    sendFailures.put(id, error.toString());
                } else {
                    partitionOf.put(id, metadata.partition());
                }
            });
        } catch (RuntimeException e) {
            // e.g. the serializer could not reach the registry: never sent, so neither lost nor answered
            sendFailures.put(id, e.toString());
        }
    }

    /** Sends bytes that are no Avro record of ours to {@code requests} under {@code id}; expects a dead letter. */
    void sendPoisonRequest(String id, byte[] value) {
        sent.put(id, new SentRequest(System.nanoTime(), DEAD_LETTERED));
        raw.send(new ProducerRecord<>(fixture.topics.requests(), id.getBytes(java.nio.charset.StandardCharsets.UTF_8), value),
                (metadata, error) -> {
                    if (error != null) {
                        sendFailures.put(id, error.toString());
                    } else {
                        partitionOf.put(id, metadata.partition());
                    }
                });
    }

    /** Writes raw bytes to any topic (poison in the global stores); waits for the acknowledgement. */
    void sendRaw(String topic, String key, byte[] value) throws Exception {
        raw.send(new ProducerRecord<>(topic, key.getBytes(java.nio.charset.StandardCharsets.UTF_8), value))
                .get(60, TimeUnit.SECONDS);
    }

    /** Changes what {@code id} should get, once the scenario knows (e.g. which rows shared a hung batch). */
    void expect(String id, Expected expected) {
        sent.computeIfPresent(id, (k, request) -> new SentRequest(request.sentNanos(), expected));
    }

    /** The partition of {@code requests} that {@code id} went to, once acknowledged. */
    Optional<Integer> partitionOf(String id) {
        return Optional.ofNullable(partitionOf.get(id));
    }

    /** Whether a request sent at or after {@code markNanos} to a partition {@code partitions} accepts has an answer. */
    boolean answeredSince(long markNanos, IntPredicate partitions) {
        return sent.entrySet().stream()
                .filter(e -> e.getValue().sentNanos() >= markNanos)
                .filter(e -> partitionOf.containsKey(e.getKey()) && partitions.test(partitionOf.get(e.getKey())))
                .anyMatch(e -> firstAnswerNanos.containsKey(e.getKey()));
    }

    void flush() {
        producer.flush();
        raw.flush();
    }

    /** Whether every request sent so far has an answer or a dead letter. */
    boolean settled() {
        return sent.keySet().stream().filter(id -> !sendFailures.containsKey(id))
                .allMatch(id -> answersById.containsKey(id) || deadLettersById.containsKey(id));
    }

    /** Number of requests sent (and acknowledged or in flight) that have an answer or a dead letter. */
    long accountedFor() {
        return sent.keySet().stream().filter(id -> answersById.containsKey(id) || deadLettersById.containsKey(id)).count();
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

    /**
     * The figures of the table.
     *
     * @param faultEndNanos   when the fault ended (or the kill happened); empty: no recovery column
     * @param partitionFilter the request partitions the fault hit (recovery is measured on those)
     */
    FaultReport report(String scenario, Optional<Long> faultEndNanos, IntPredicate partitionFilter) {
        int answered = 0;
        int deadLettered = 0;
        int lost = 0;
        int duplicated = 0;
        var errors = new TreeMap<String, Integer>();
        var unexpected = new ArrayList<String>();
        var latencies = new ArrayList<Double>();
        var lostIds = new ArrayList<String>();
        var duplicatedIds = new ArrayList<String>();
        for (var entry : new TreeMap<>(sent).entrySet()) {
            String id = entry.getKey();
            if (sendFailures.containsKey(id)) {
                continue;
            }
            List<Answer> got = answersById.getOrDefault(id, List.of());
            int letters = deadLettersById.getOrDefault(id, 0);
            if (got.size() > 1 || letters > 1 || (!got.isEmpty() && letters > 0)) {
                duplicated++;
                duplicatedIds.add(id + " (" + got.size() + " answers, " + letters + " dead letters)");
            }
            String outcome;
            if (!got.isEmpty()) {
                Answer first = got.get(0);
                latencies.add((firstAnswerNanos.get(id) - entry.getValue().sentNanos()) / 1e6);
                if (first.getError() == null) {
                    answered++;
                    outcome = "an answer";
                } else {
                    String kind = first.getError().getKind().name();
                    errors.merge(kind, 1, Integer::sum);
                    outcome = "an error answer " + kind + " (" + first.getError().getMessage() + ")";
                }
            } else if (letters > 0) {
                deadLettered++;
                outcome = "a dead letter";
            } else {
                lost++;
                lostIds.add(id);
                outcome = "nothing";
            }
            if (!matches(entry.getValue().expected(), got, letters)) {
                unexpected.add(id + ": expected " + entry.getValue().expected() + ", got " + outcome);
            }
        }
        Optional<Duration> recovery = faultEndNanos.flatMap(end -> sent.entrySet().stream()
                .filter(e -> e.getValue().sentNanos() >= end)
                .filter(e -> partitionOf.containsKey(e.getKey()) && partitionFilter.test(partitionOf.get(e.getKey())))
                .map(e -> firstAnswerNanos.get(e.getKey()))
                .filter(java.util.Objects::nonNull)
                .min(Long::compare)
                .map(first -> Duration.ofNanos(first - end)));
        int sentCount = (int) sent.keySet().stream().filter(id -> !sendFailures.containsKey(id)).count();
        return new FaultReport(scenario, sentCount, answered, errors, deadLettered, lost, duplicated, recovery,
                percentile(latencies, 0.99), List.copyOf(unexpected), head(lostIds), head(duplicatedIds),
                Map.copyOf(new HashMap<>(sendFailures)), List.copyOf(pollFailures));
    }

    private static boolean matches(Expected expected, List<Answer> got, int letters) {
        if (got.size() + letters != 1) {
            return false;
        }
        if (expected instanceof Expected.DeadLettered) {
            return letters == 1;
        }
        if (got.size() != 1) {
            return false;
        }
        var error = got.get(0).getError();
        if (expected instanceof Expected.ErrorOf of) {
            return error != null && error.getKind().name().equals(of.kind());
        }
        return expected instanceof Expected.AnyError ? error != null : error == null;
    }

    private static List<String> head(List<String> ids) {
        return List.copyOf(ids.subList(0, Math.min(20, ids.size())));
    }

    static double percentile(List<Double> values, double p) {
        if (values.isEmpty()) {
            return Double.NaN;
        }
        var sorted = values.stream().sorted().toList();
        return sorted.get(Math.max(0, (int) Math.ceil(p * sorted.size()) - 1));
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

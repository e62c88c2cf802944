package io.tunestream.ingest.requests;

import io.tunestream.schemas.Answer;
import io.tunestream.schemas.Topics;
import io.tunestream.schemas.kafka.KafkaClientConfig;
import io.tunestream.schemas.registry.AvroSerdes;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.StringDeserializer;

/**
 * One consumer of {@code answers} (committed records only) on its own thread, completing the
 * answers that callers {@link #expect}: many waits share it instead of a consumer each. Positioned
 * at the end of the topic when created, before any request of its callers is sent. A failure of
 * the consumer completes every wait exceptionally. The owner closes it.
 */
public final class AnswerFollower implements AnswerWaits, AutoCloseable {

    private final KafkaConsumer<String, Answer> consumer;
    private final Map<String, CompletableFuture<Answer>> waiting = new ConcurrentHashMap<>();
    private final Thread thread;
    private volatile RuntimeException failure;

    /** A follower at the current end of every partition of {@code answers}, already polling. */
    public AnswerFollower(KafkaClientConfig kafka, Duration timeout) {
        consumer = new KafkaConsumer<>(kafka.consumerProperties("tunestream-ingest-answers", null),
                new StringDeserializer(), AvroSerdes.deserializer(Answer.class, kafka.registry()));
        try {
            String topic = Topics.ANSWERS.name();
            List<TopicPartition> partitions = consumer.partitionsFor(topic, timeout).stream()
                    .map(p -> new TopicPartition(topic, p.partition())).toList();
            if (partitions.isEmpty()) {
                throw new IllegalStateException("topic " + topic + " does not exist");
            }
            consumer.assign(partitions);
            consumer.seekToEnd(partitions);
            // seekToEnd is lazy: resolve the positions now, before any request is sent
            partitions.forEach(p -> consumer.position(p, timeout));
        } catch (RuntimeException e) {
            consumer.close();
            throw e;
        }
        thread = new Thread(this::follow, "tunestream-ingest-answers");
        thread.setDaemon(true);
        thread.start();
    }

    private void follow() {
        try {
            while (true) {
                for (ConsumerRecord<String, Answer> record : consumer.poll(Duration.ofMillis(500))) {
                    Answer answer = record.value();
                    CompletableFuture<Answer> wait = answer == null ? null : waiting.remove(answer.getRequestId());
                    if (wait != null) {
                        wait.complete(answer);
                    }
                }
            }
        } catch (WakeupException e) {
            failure = new IllegalStateException("the answers consumer is closed");
        } catch (RuntimeException e) {
            failure = new IllegalStateException("reading " + Topics.ANSWERS.name() + " failed: " + e, e);
        }
        waiting.values().forEach(w -> w.completeExceptionally(failure));
        waiting.clear();
    }

    @Override
    public CompletableFuture<Answer> expect(String requestId) {
        CompletableFuture<Answer> wait = waiting.computeIfAbsent(requestId, id -> new CompletableFuture<>());
        if (failure != null) {
            waiting.remove(requestId);
            wait.completeExceptionally(failure);
        }
        return wait;
    }

    @Override
    public void forget(String requestId) {
        waiting.remove(requestId);
    }

    @Override
    public void close() {
        consumer.wakeup();
        try {
            thread.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        consumer.close();
    }
}

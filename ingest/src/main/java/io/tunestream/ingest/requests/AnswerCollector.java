package io.tunestream.ingest.requests;

import io.tunestream.schemas.Answer;
import io.tunestream.schemas.Topics;
import io.tunestream.schemas.kafka.KafkaClientConfig;
import io.tunestream.schemas.registry.AvroSerdes;
import java.time.Clock;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;

/**
 * Collects the answers to requests by request id from {@code answers}, reading committed
 * records only. Positioned at the end of the topic when created, so it must be created before
 * the requests are sent; then no answer can be missed.
 */
public final class AnswerCollector implements AutoCloseable {

    private final KafkaConsumer<String, Answer> consumer;
    private final Clock clock;

    /** A collector at the current end of every partition of {@code answers}. */
    public AnswerCollector(KafkaClientConfig kafka, Clock clock, Duration timeout) {
        this.clock = clock;
        this.consumer = new KafkaConsumer<>(kafka.consumerProperties("tunestream-ingest-answers", null),
                new StringDeserializer(), AvroSerdes.deserializer(Answer.class, kafka.registry()));
        String topic = Topics.ANSWERS.name();
        List<TopicPartition> partitions = consumer.partitionsFor(topic, timeout).stream()
                .map(p -> new TopicPartition(topic, p.partition())).toList();
        if (partitions.isEmpty()) {
            consumer.close();
            throw new IllegalStateException("topic " + topic + " does not exist");
        }
        consumer.assign(partitions);
        consumer.seekToEnd(partitions);
        // seekToEnd is lazy: resolve the positions now, before any request is sent
        partitions.forEach(p -> consumer.position(p, timeout));
    }

    /**
     * Waits for the answers to {@code requestIds} until all arrived or {@code timeout} passed;
     * {@code onAnswer} sees each one as it arrives. Answers to other requests are ignored; of
     * several answers to one request the first counts.
     *
     * @return the answers that arrived, by request id
     */
    public Map<String, Answer> await(Set<String> requestIds, Duration timeout, Consumer<Answer> onAnswer) {
        Map<String, Answer> answers = new HashMap<>();
        long deadline = clock.millis() + timeout.toMillis();
        while (answers.size() < requestIds.size()) {
            long left = deadline - clock.millis();
            if (left <= 0) {
                break;
            }
            for (ConsumerRecord<String, Answer> record : consumer.poll(Duration.ofMillis(Math.min(left, 200)))) {
                Answer answer = record.value();
                if (answer != null && requestIds.contains(answer.getRequestId())
                        && answers.putIfAbsent(answer.getRequestId(), answer) == null) {
                    onAnswer.accept(answer);
                }
            }
        }
        return answers;
    }

    @Override
    public void close() {
        consumer.close();
    }
}

package io.tunestream.ingest.requests;

import io.tunestream.devkit.PlatformEndpoints;
import io.tunestream.ingest.TopicReader;
import io.tunestream.schemas.Answer;
import io.tunestream.schemas.InferenceRequest;
import io.tunestream.schemas.Topics;
import io.tunestream.schemas.kafka.KafkaClientConfig;
import io.tunestream.schemas.registry.AvroSerdes;
import java.time.Duration;
import java.util.List;
import java.util.function.Function;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * Stands in for the serving app in CLI tests: answers every request that arrives on {@code
 * requests} after it started, with the answer a function gives.
 */
public final class FakeAnswerer implements AutoCloseable {

    private final KafkaConsumer<String, InferenceRequest> consumer;
    private final KafkaProducer<String, Answer> producer;
    private final Thread thread;

    public FakeAnswerer(PlatformEndpoints platform, Function<InferenceRequest, Answer> answer) {
        KafkaClientConfig kafka = TopicReader.kafka(platform);
        io.tunestream.ingest.CliRun.setUp(platform);
        io.tunestream.ingest.ConnectionOptions.prepare(kafka, List.of(Topics.REQUESTS, Topics.ANSWERS),
                Duration.ofSeconds(30));
        consumer = new KafkaConsumer<>(kafka.consumerProperties("fake-answerer", null), new StringDeserializer(),
                AvroSerdes.deserializer(InferenceRequest.class, kafka.registry()));
        producer = new KafkaProducer<>(kafka.producerProperties("fake-answerer"), new StringSerializer(),
                AvroSerdes.serializer(kafka.registry()));
        List<TopicPartition> partitions = consumer.partitionsFor(Topics.REQUESTS.name()).stream()
                .map(p -> new TopicPartition(p.topic(), p.partition())).toList();
        consumer.assign(partitions);
        consumer.seekToEnd(partitions);
        partitions.forEach(consumer::position);
        thread = new Thread(() -> {
            try {
                while (!Thread.currentThread().isInterrupted()) {
                    for (ConsumerRecord<String, InferenceRequest> record : consumer.poll(Duration.ofMillis(100))) {
                        Answer reply = answer.apply(record.value());
                        producer.send(new ProducerRecord<>(Topics.ANSWERS.name(), reply.getRequestId(), reply));
                    }
                    producer.flush();
                }
            } catch (WakeupException e) {
                // closing
            }
        }, "fake-answerer");
        thread.start();
    }

    public static Answer.Builder answerTo(InferenceRequest request) {
        return Answer.newBuilder().setRequestId(request.getRequestId()).setTask(request.getTask());
    }

    @Override
    public void close() throws InterruptedException {
        consumer.wakeup();
        thread.join(10_000);
        consumer.close();
        producer.close();
    }
}

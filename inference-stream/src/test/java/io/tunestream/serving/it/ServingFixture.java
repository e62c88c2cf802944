package io.tunestream.serving.it;

import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.tunestream.devkit.PlatformEndpoints;
import io.tunestream.schemas.AdapterVersion;
import io.tunestream.schemas.Answer;
import io.tunestream.schemas.InferenceRequest;
import io.tunestream.schemas.TaskTemplate;
import io.tunestream.schemas.TopicSpec;
import io.tunestream.schemas.Topics;
import io.tunestream.schemas.kafka.KafkaClientConfig;
import io.tunestream.schemas.adapters.AdapterKeys;
import io.tunestream.schemas.adapters.AdapterSigner;
import io.tunestream.schemas.registry.RegistryConfig;
import io.tunestream.serving.ServingApp;
import io.tunestream.serving.ServingConfig;
import io.tunestream.serving.batch.BatchAnswerer;
import io.tunestream.serving.topology.ServingTopics;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * One serving deployment on the shared test platform: its own topics (a unique prefix), producers
 * for templates, adapters and requests, a read_committed consumer of answers, and the app.
 */
final class ServingFixture implements AutoCloseable {

    final PlatformEndpoints platform;
    final String prefix;
    final ServingTopics topics;
    final KafkaClientConfig clients;
    final Path stateDir;
    static final String SIGNING_KEY_ID = "it-trainer";
    private final AdapterSigner signer;
    private final Path trustedKeyFile;
    private final KafkaProducer<String, Object> producer;
    private final KafkaConsumer<String, Answer> answers;
    private final List<AutoCloseable> closeables = new ArrayList<>();

    ServingFixture(PlatformEndpoints platform, int requestPartitions) throws Exception {
        this(platform, requestPartitions, Map.of());
    }

    /** @param answersTopicConfigs topic configs of the answers topic on top of the catalogue's */
    ServingFixture(PlatformEndpoints platform, int requestPartitions, Map<String, String> answersTopicConfigs)
            throws Exception {
        this.platform = platform;
        this.prefix = "it-" + UUID.randomUUID().toString().substring(0, 8) + "-";
        this.topics = ServingTopics.prefixed(prefix);
        this.clients = new KafkaClientConfig(platform.bootstrapServers(),
                RegistryConfig.forRegistry(platform.registryUrl()));
        this.stateDir = Files.createTempDirectory("serving-it-");
        var keys = AdapterKeys.generate();
        this.signer = new AdapterSigner(SIGNING_KEY_ID, keys.getPrivate());
        this.trustedKeyFile = stateDir.resolveSibling(prefix + "trainer.pub.pem");
        AdapterKeys.writePem(keys.getPublic(), trustedKeyFile);
        createTopics(requestPartitions, answersTopicConfigs);
        this.producer = new KafkaProducer<>(clients.producerProperties(prefix + "producer"));
        this.answers = new KafkaConsumer<>(clients.consumerProperties(prefix + "answers", null));
        List<TopicPartition> partitions = answers.partitionsFor(topics.answers()).stream()
                .map(p -> new TopicPartition(p.topic(), p.partition())).toList();
        answers.assign(partitions);
        answers.seekToBeginning(partitions);
    }

    private void createTopics(int requestPartitions, Map<String, String> answersTopicConfigs) throws Exception {
        try (Admin admin = Admin.create(clients.adminProperties())) {
            var topicList = List.of(
                    topic(Topics.REQUESTS, topics.requests(), requestPartitions),
                    topic(Topics.ANSWERS, topics.answers(), requestPartitions).configs(withAll(
                            Topics.ANSWERS.configs(), answersTopicConfigs)),
                    topic(Topics.TASK_TEMPLATES, topics.templates(), 1),
                    topic(Topics.ADAPTERS, topics.adapters(), 1),
                    topic(Topics.REQUESTS_DEAD_LETTER, topics.deadLetter(), 1));
            admin.createTopics(topicList).all().get(30, TimeUnit.SECONDS);
        }
        // the app checks its schemas at start, as it checks its topics: setup registers them
        new io.tunestream.schemas.registry.SchemaRegistration(clients.registry()).registerAll(List.of(
                Topics.REQUESTS.withName(topics.requests()), Topics.ANSWERS.withName(topics.answers()),
                Topics.TASK_TEMPLATES.withName(topics.templates()), Topics.ADAPTERS.withName(topics.adapters())));
    }

    private static Map<String, String> withAll(Map<String, String> base, Map<String, String> more) {
        var all = new HashMap<>(base);
        all.putAll(more);
        return all;
    }

    private static NewTopic topic(TopicSpec spec, String name, int partitions) {
        return new NewTopic(name, partitions, (short) 1).configs(spec.configs());
    }

    /** Config of a serving app on these topics. */
    Map<String, String> config(int maxBatchSize, int maxWaitMs) {
        var config = new HashMap<String, String>();
        config.put("bootstrap.servers", platform.bootstrapServers());
        config.put("registry.url", platform.registryUrl());
        config.put("model.dir", tinyGpt2().toString());
        config.put("application.id", prefix + "serving");
        config.put("state.dir", stateDir.toString());
        config.put("http.port", "0");
        config.put("topics.prefix", prefix);
        config.put("batch.max.size", Integer.toString(maxBatchSize));
        config.put("batch.max.wait.ms", Integer.toString(maxWaitMs));
        config.put("kafka.consumer.session.timeout.ms", "10000");
        config.put("adapters.trusted.keys", SIGNING_KEY_ID + "=" + trustedKeyFile);
        return config;
    }

    static Path tinyGpt2() {
        return Path.of(System.getProperty("tunestream.home", "..")).resolve("models/tiny-gpt2").toAbsolutePath();
    }

    ServingApp startApp(int maxBatchSize, int maxWaitMs, BatchAnswerer answerer) {
        return startApp(config(maxBatchSize, maxWaitMs), answerer);
    }

    ServingApp startApp(Map<String, String> config, BatchAnswerer answerer) {
        var app = new ServingApp(ServingConfig.fromMap(config), answerer,
                new PrometheusMeterRegistry(PrometheusConfig.DEFAULT));
        closeables.add(app);
        return app;
    }

    void publish(TaskTemplate template) throws Exception {
        send(topics.templates(), template.getTask(), template);
    }

    /** Publishes {@code adapter} signed with the key the fixture's serving config trusts, as the trainer would. */
    void publish(AdapterVersion adapter) throws Exception {
        send(topics.adapters(), adapter.getTask(), signer.sign(adapter));
    }

    /** Publishes {@code adapter} signed as {@link #publish(AdapterVersion)} does, without waiting for it (then {@link #flush}). */
    java.util.concurrent.Future<org.apache.kafka.clients.producer.RecordMetadata> publishAsync(AdapterVersion adapter) {
        return producer.send(new ProducerRecord<>(topics.adapters(), adapter.getTask(), signer.sign(adapter)));
    }

    void flush() {
        producer.flush();
    }

    void send(InferenceRequest request) throws Exception {
        send(topics.requests(), request.getRequestId(), request);
    }

    private void send(String topic, String key, Object value) throws Exception {
        producer.send(new ProducerRecord<>(topic, key, value)).get(30, TimeUnit.SECONDS);
    }

    void sendRaw(String key, byte[] value) throws Exception {
        try (var raw = new KafkaProducer<byte[], byte[]>(Map.of("bootstrap.servers", platform.bootstrapServers()),
                new ByteArraySerializer(), new ByteArraySerializer())) {
            raw.send(new ProducerRecord<>(topics.requests(), key.getBytes(), value)).get(30, TimeUnit.SECONDS);
        }
    }

    /** An answer and when this consumer received it ({@link System#nanoTime()}). */
    record Received(Answer answer, long receivedNanos) {
    }

    /** Committed answers received in one poll of up to {@code timeout}. */
    List<Received> poll(Duration timeout) {
        var received = new ArrayList<Received>();
        for (ConsumerRecord<String, Answer> record : answers.poll(timeout)) {
            received.add(new Received(record.value(), System.nanoTime()));
        }
        return received;
    }

    /** Sends every request without waiting for each acknowledgement, then flushes. */
    void sendAll(List<InferenceRequest> requests) {
        for (InferenceRequest request : requests) {
            producer.send(new ProducerRecord<>(topics.requests(), request.getRequestId(), request));
        }
        producer.flush();
    }

    /** Committed answers that arrived since the last call, waiting up to {@code timeout} for {@code count}. */
    List<Answer> awaitAnswers(int count, Duration timeout) {
        var received = new ArrayList<Answer>();
        long deadline = System.nanoTime() + timeout.toNanos();
        while (received.size() < count && System.nanoTime() < deadline) {
            for (ConsumerRecord<String, Answer> record : answers.poll(Duration.ofMillis(100))) {
                received.add(record.value());
            }
        }
        return received;
    }

    /** Every committed answer up to now (polls until {@code quiet} passes without a new one). */
    List<Answer> drainAnswers(Duration quiet) {
        var received = new ArrayList<Answer>();
        long lastSeen = System.nanoTime();
        while (System.nanoTime() - lastSeen < quiet.toNanos()) {
            var batch = answers.poll(Duration.ofMillis(100));
            for (ConsumerRecord<String, Answer> record : batch) {
                received.add(record.value());
                lastSeen = System.nanoTime();
            }
        }
        return received;
    }

    /** Request ids of every answer in the log, committed or not (read_uncommitted), read from the start. */
    List<String> answerIdsReadUncommitted(Duration quiet) {
        var props = new HashMap<String, Object>(Map.of("bootstrap.servers", platform.bootstrapServers(),
                "isolation.level", "read_uncommitted"));
        try (var consumer = new KafkaConsumer<>(props, new org.apache.kafka.common.serialization.StringDeserializer(),
                new ByteArrayDeserializer())) {
            List<TopicPartition> partitions = consumer.partitionsFor(topics.answers()).stream()
                    .map(p -> new TopicPartition(p.topic(), p.partition())).toList();
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            var ids = new ArrayList<String>();
            long lastSeen = System.nanoTime();
            while (System.nanoTime() - lastSeen < quiet.toNanos()) {
                for (var record : consumer.poll(Duration.ofMillis(100))) {
                    ids.add(record.key());
                    lastSeen = System.nanoTime();
                }
            }
            return ids;
        }
    }

    /** Raw records of the dead-letter topic, waiting up to {@code timeout} for {@code count}. */
    List<ConsumerRecord<byte[], byte[]>> awaitDeadLetters(int count, Duration timeout) {
        var props = new HashMap<String, Object>(Map.of("bootstrap.servers", platform.bootstrapServers(),
                "isolation.level", "read_committed"));
        try (var consumer = new KafkaConsumer<>(props, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            var partition = new TopicPartition(topics.deadLetter(), 0);
            consumer.assign(List.of(partition));
            consumer.seekToBeginning(List.of(partition));
            var received = new ArrayList<ConsumerRecord<byte[], byte[]>>();
            long deadline = System.nanoTime() + timeout.toNanos();
            while (received.size() < count && System.nanoTime() < deadline) {
                consumer.poll(Duration.ofMillis(100)).forEach(received::add);
            }
            return received;
        }
    }

    @Override
    public void close() throws Exception {
        for (int i = closeables.size() - 1; i >= 0; i--) {
            closeables.get(i).close();
        }
        producer.close();
        answers.close();
        try (var paths = Files.walk(stateDir)) {
            paths.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
        Files.deleteIfExists(stateDir.resolveSibling(prefix + "normal.properties"));
        Files.deleteIfExists(trustedKeyFile);
        Files.deleteIfExists(stateDir.resolveSibling(prefix + "lazy-commit.properties"));
    }
}

package io.tunestream.devkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Starting, restarting and failing to start an embedded broker. */
class EmbeddedKafkaIT {

    @Test
    @Timeout(10)
    void shouldNameThePortWhenTheBrokerPortIsTaken() throws IOException {
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
            int port = taken.getLocalPort();

            assertThatThrownBy(() -> EmbeddedKafka.start(EmbeddedKafkaConfig.defaults().withPort(port)))
                    .isInstanceOf(PlatformStartException.class)
                    .hasMessage("Kafka broker cannot listen on 127.0.0.1:" + port
                            + ": the port is already in use (choose another port, or 0 for a free one)");
        }
    }

    @Test
    @Timeout(30)
    void shouldNameTheSettingAndKeepNoDataWhenABrokerPropertyIsInvalid() {
        EmbeddedKafkaConfig config = EmbeddedKafkaConfig.defaults().withPort(0).withBrokerProperty("num.io.threads", "0");

        PlatformStartException failure = catchThrowableOfType(PlatformStartException.class, () -> EmbeddedKafka.start(config));

        assertThat(failure).hasMessageMatching("Kafka broker failed to start on 127\\.0\\.0\\.1:\\d+ \\(controller port \\d+,"
                + " data directory (.+)\\): Invalid value 0 for configuration num\\.io\\.threads: Value must be at least 1");
        Matcher dataDirectory = Pattern.compile("data directory (.+)\\)").matcher(failure.getMessage());
        assertThat(dataDirectory.find()).isTrue();
        assertThat(Path.of(dataDirectory.group(1))).doesNotExist();
    }

    @Test
    @Timeout(10)
    void shouldNameTheDirectoryWhenTheDataDirectoryIsAFile(@TempDir Path temp) throws IOException {
        Path file = Files.writeString(temp.resolve("not-a-directory"), "x");

        assertThatThrownBy(() -> EmbeddedKafka.start(EmbeddedKafkaConfig.defaults().withDataDirectory(file)))
                .isInstanceOf(PlatformStartException.class)
                .hasMessage("Kafka broker data directory " + file + " is a file, not a directory");
    }

    @Test
    @Timeout(60)
    void shouldKeepTopicsWhenRestartedOnTheSameDataDirectory(@TempDir Path temp) throws Exception {
        Path dataDirectory = temp.resolve("kafka");
        EmbeddedKafkaConfig config = EmbeddedKafkaConfig.defaults().withDataDirectory(dataDirectory);
        try (EmbeddedKafka kafka = EmbeddedKafka.start(config)) {
            createTopic(kafka, "kept-topic");
        }
        assertThat(dataDirectory.resolve("meta.properties")).exists();

        try (EmbeddedKafka restarted = EmbeddedKafka.start(config)) {
            assertThat(topicNames(restarted)).contains("kept-topic");
        }
    }

    /**
     * A producer keeps sending while the broker is stopped and restarted: every record it sent, before,
     * during and after the outage, is read back once, on the same address. (A send during the outage may
     * block in the producer until the broker is back, so it is made from another thread.)
     */
    @Test
    @Timeout(180)
    void shouldKeepRecordsAndTakeNewOnesOnTheSameAddressWhenStoppedAndRestarted() throws Exception {
        try (EmbeddedKafka kafka = EmbeddedKafka.start()) {
            createTopic(kafka, "restarted-topic");
            try (var producer = new KafkaProducer<String, String>(Map.of(
                    "bootstrap.servers", kafka.bootstrapServers(), "enable.idempotence", "true",
                    "max.block.ms", "120000", "delivery.timeout.ms", "120000", "reconnect.backoff.max.ms", "200"),
                    new StringSerializer(), new StringSerializer())) {
                producer.send(new ProducerRecord<>("restarted-topic", "before")).get();

                kafka.stop();
                assertThat(kafka.isRunning()).isFalse();
                CompletableFuture<Future<RecordMetadata>> duringOutage = CompletableFuture.supplyAsync(
                        () -> producer.send(new ProducerRecord<>("restarted-topic", "during")));
                kafka.restart();

                assertThat(kafka.isRunning()).isTrue();
                duringOutage.get(120, TimeUnit.SECONDS).get(120, TimeUnit.SECONDS);
                producer.send(new ProducerRecord<>("restarted-topic", "after")).get();
            }
            assertThat(readAll(kafka, "restarted-topic", 3)).containsExactly("before", "during", "after");
        }
    }

    @Test
    @Timeout(60)
    void shouldRefuseARestartOnceClosed() {
        EmbeddedKafka kafka = EmbeddedKafka.start();
        kafka.close();

        assertThatThrownBy(kafka::restart)
                .isInstanceOf(IllegalStateException.class)
                .hasMessage("Kafka broker on " + kafka.bootstrapServers() + " is closed");
    }

    private static List<String> readAll(EmbeddedKafka kafka, String topic, int expected) {
        try (var consumer = new KafkaConsumer<String, String>(Map.of("bootstrap.servers", kafka.bootstrapServers()),
                new StringDeserializer(), new StringDeserializer())) {
            var partition = new TopicPartition(topic, 0);
            consumer.assign(List.of(partition));
            consumer.seekToBeginning(List.of(partition));
            var values = new ArrayList<String>();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (values.size() < expected && System.nanoTime() < deadline) {
                consumer.poll(Duration.ofMillis(200)).forEach(record -> values.add(record.value()));
            }
            return values;
        }
    }

    @Test
    @Timeout(60)
    void shouldDeleteTheTemporaryDataDirectoryWhenClosed() {
        Path dataDirectory;
        try (EmbeddedKafka kafka = EmbeddedKafka.start()) {
            dataDirectory = kafka.dataDirectory();
            assertThat(dataDirectory.resolve("meta.properties")).exists();
        }

        assertThat(dataDirectory).doesNotExist();
    }

    private static void createTopic(EmbeddedKafka kafka, String topic) throws ExecutionException, InterruptedException {
        try (Admin admin = Admin.create(Map.of("bootstrap.servers", kafka.bootstrapServers()))) {
            admin.createTopics(List.of(new NewTopic(topic, 1, (short) 1))).all().get();
        }
    }

    private static Set<String> topicNames(EmbeddedKafka kafka) throws ExecutionException, InterruptedException {
        try (Admin admin = Admin.create(Map.of("bootstrap.servers", kafka.bootstrapServers()))) {
            return admin.listTopics().names().get();
        }
    }
}

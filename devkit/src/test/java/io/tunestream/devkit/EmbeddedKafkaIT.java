package io.tunestream.devkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
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

package io.tunestream.devkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

import org.junit.jupiter.api.Test;

class EmbeddedKafkaConfigTest {

    @Test
    void shouldDefaultToFreePortsTemporaryDataAnd16MegabyteMessages() {
        EmbeddedKafkaConfig defaults = EmbeddedKafkaConfig.defaults();

        assertThat(defaults.port()).isZero();
        assertThat(defaults.controllerPort()).isZero();
        assertThat(defaults.dataDirectory()).isEmpty();
        assertThat(defaults.messageMaxBytes()).isEqualTo(16 * 1024 * 1024);
        assertThat(defaults.brokerProperties()).isEmpty();
    }

    @Test
    void shouldRejectAPortOutsideTheTcpRange() {
        assertThatThrownBy(() -> EmbeddedKafkaConfig.defaults().withPort(70_000))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("port must be 0 (any free port) or 1..65535, was 70000");
    }

    @Test
    void shouldRejectTheSamePortForClientsAndController() {
        assertThatThrownBy(() -> EmbeddedKafkaConfig.defaults().withPort(9092).withControllerPort(9092))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("port and controllerPort must differ, both were 9092");
    }

    @Test
    void shouldRejectATinyMessageMaxBytes() {
        assertThatThrownBy(() -> EmbeddedKafkaConfig.defaults().withMessageMaxBytes(10))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("messageMaxBytes must be at least 1024, was 10");
    }

    @Test
    void shouldRejectANonPositiveStartTimeout() {
        assertThatThrownBy(() -> EmbeddedKafkaConfig.defaults().withStartTimeout(Duration.ZERO))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("startTimeout must be positive, was PT0S");
    }

    @Test
    void shouldConfigureASingleNodeKraftBrokerWithSingleReplicaInternalTopics() {
        EmbeddedKafkaConfig config = EmbeddedKafkaConfig.defaults().withMessageMaxBytes(4096);

        Map<String, String> properties = EmbeddedKafka.brokerProperties(config, 19092, 19093, Path.of("/data/kafka"));

        assertThat(properties).containsEntry("process.roles", "broker,controller")
                .containsEntry("controller.quorum.voters", "1@127.0.0.1:19093")
                .containsEntry("listeners", "PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093")
                .containsEntry("advertised.listeners", "PLAINTEXT://127.0.0.1:19092")
                .containsEntry("log.dirs", "/data/kafka")
                .containsEntry("offsets.topic.replication.factor", "1")
                .containsEntry("transaction.state.log.replication.factor", "1")
                .containsEntry("transaction.state.log.min.isr", "1")
                .containsEntry("share.coordinator.state.topic.replication.factor", "1")
                .containsEntry("share.coordinator.state.topic.min.isr", "1")
                .containsEntry("group.initial.rebalance.delay.ms", "0")
                .containsEntry("message.max.bytes", "4096");
    }

    @Test
    void shouldLetBrokerPropertiesOverrideTheDefaults() {
        EmbeddedKafkaConfig config = EmbeddedKafkaConfig.defaults()
                .withBrokerProperty("auto.create.topics.enable", "false")
                .withBrokerProperty("offsets.topic.num.partitions", "1");

        Map<String, String> properties = EmbeddedKafka.brokerProperties(config, 19092, 19093, Path.of("/data/kafka"));

        assertThat(properties).containsEntry("auto.create.topics.enable", "false")
                .containsEntry("offsets.topic.num.partitions", "1");
    }
}

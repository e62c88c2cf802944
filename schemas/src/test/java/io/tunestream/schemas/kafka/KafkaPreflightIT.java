package io.tunestream.schemas.kafka;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.tunestream.devkit.PlatformEndpoints;
import io.tunestream.devkit.junit.LocalPlatformExtension;
import io.tunestream.schemas.Topics;
import io.tunestream.schemas.TopicsAdmin;
import io.tunestream.schemas.kafka.KafkaPreflight.KafkaPreflightException;
import io.tunestream.schemas.registry.RegistryConfig;
import io.tunestream.schemas.registry.SchemaRegistration;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.common.acl.AclOperation;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The start-up check of services and commands on a PLAINTEXT broker: what is missing is named. */
@ExtendWith(LocalPlatformExtension.class)
class KafkaPreflightIT {

    private static KafkaClientConfig kafka(PlatformEndpoints platform) {
        return new KafkaClientConfig(platform.bootstrapServers(), RegistryConfig.forRegistry(platform.registryUrl()));
    }

    @Test
    void shouldNameEveryMissingTopicAndTheSetupStep(PlatformEndpoints platform) {
        KafkaClientConfig kafka = kafka(platform);
        try (Admin admin = Admin.create(kafka.adminProperties())) {
            assertThatThrownBy(() -> KafkaPreflight.check(admin, kafka, Map.of(
                    "preflight-missing-b", Set.of(AclOperation.READ), "preflight-missing-a", Set.of(AclOperation.WRITE)),
                    Duration.ofSeconds(20)))
                    .isInstanceOf(KafkaPreflightException.class)
                    .hasMessage("Kafka preflight failed for User:ANONYMOUS at " + platform.bootstrapServers()
                            + " over PLAINTEXT as User:ANONYMOUS: missing topics [preflight-missing-a, preflight-missing-b] "
                            + "(create them and their schemas with `ingest setup` as the admin principal)");
        }
    }

    @Test
    void shouldPassWhenTheTopicsExistAndNameMissingSchemasOtherwise(PlatformEndpoints platform) {
        KafkaClientConfig kafka = kafka(platform);
        var topic = Topics.ANSWERS.withName("preflight-answers");
        try (Admin admin = Admin.create(kafka.adminProperties())) {
            new TopicsAdmin(admin, TopicsAdmin.Layout.catalogue(), Duration.ofSeconds(20)).ensure(List.of(topic));
            assertThatCode(() -> KafkaPreflight.check(admin, kafka, Map.of(topic.name(), Set.of(AclOperation.READ,
                    AclOperation.WRITE)), Duration.ofSeconds(20))).doesNotThrowAnyException();
        }
        assertThatThrownBy(() -> KafkaPreflight.checkSchemas(kafka.registry(), List.of(topic)))
                .hasMessage("schemas [preflight-answers-value] are not registered at " + kafka.registry().apiUrl()
                        + " (register them with `ingest setup` as the admin principal)");
        new SchemaRegistration(kafka.registry()).registerAll(List.of(topic));
        assertThatCode(() -> KafkaPreflight.checkSchemas(kafka.registry(), List.of(topic))).doesNotThrowAnyException();
    }

    @Test
    void shouldSayWhenTheBrokerCannotBeReachedInTime(PlatformEndpoints platform) {
        KafkaClientConfig kafka = new KafkaClientConfig("127.0.0.1:1", RegistryConfig.forRegistry(platform.registryUrl()));
        var properties = new java.util.HashMap<>(kafka.adminProperties());
        properties.put("default.api.timeout.ms", 2000);
        properties.put("request.timeout.ms", 1000);
        try (Admin admin = Admin.create(properties)) {
            assertThatThrownBy(() -> KafkaPreflight.check(admin, kafka, Map.of("requests", Set.of(AclOperation.READ)),
                    Duration.ofSeconds(2)))
                    .isInstanceOf(KafkaPreflightException.class)
                    .hasMessageContaining("127.0.0.1:1 over PLAINTEXT as User:ANONYMOUS")
                    .hasMessageContaining("topic requests");
        }
        assertThat(kafka.describe()).isEqualTo("127.0.0.1:1 over PLAINTEXT as User:ANONYMOUS");
    }
}

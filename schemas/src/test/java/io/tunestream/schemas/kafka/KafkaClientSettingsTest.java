package io.tunestream.schemas.kafka;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.tunestream.schemas.registry.RegistryConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class KafkaClientSettingsTest {

    @TempDir
    Path dir;

    @Test
    void shouldBuildScramJaasConfigFromUsernameAndPasswordFileAndNameThePrincipal() throws IOException {
        Path secret = Files.writeString(dir.resolve("password"), "s3cr\"et\n");
        KafkaClientSettings settings = KafkaClientSettings.of(Map.of("security.protocol", "sasl_ssl",
                "sasl.mechanism", "SCRAM-SHA-512", "sasl.username", "serving", "sasl.password.file", secret.toString()));

        assertThat(settings.properties()).containsEntry("security.protocol", "SASL_SSL")
                .containsEntry("sasl.jaas.config", "org.apache.kafka.common.security.scram.ScramLoginModule required "
                        + "username=\"serving\" password=\"s3cr\\\"et\";")
                .doesNotContainKeys("sasl.username", "sasl.password", "sasl.password.file");
        assertThat(settings.describe()).isEqualTo("SASL_SSL as User:serving (SCRAM-SHA-512)");
        assertThat(settings.toString()).doesNotContain("s3cr");
    }

    @Test
    void shouldPassEveryClientSettingToAdminProducerConsumerAndStreams() {
        KafkaClientConfig kafka = new KafkaClientConfig("127.0.0.1:9093", RegistryConfig.forRegistry("http://localhost:8080"),
                KafkaClientSettings.of(Map.of("security.protocol", "SASL_PLAINTEXT", "sasl.mechanism", "PLAIN",
                        "sasl.username", "u", "sasl.password", "p", "client.dns.lookup", "use_all_dns_ips")));

        for (Map<String, Object> properties : java.util.List.of(kafka.adminProperties(), kafka.producerProperties("c"),
                kafka.consumerProperties("c", "g"), kafka.streamsProperties("app"))) {
            assertThat(properties).containsEntry("security.protocol", "SASL_PLAINTEXT")
                    .containsEntry("sasl.mechanism", "PLAIN")
                    .containsEntry("client.dns.lookup", "use_all_dns_ips")
                    .containsKey("sasl.jaas.config");
        }
        assertThat(kafka.describe()).isEqualTo("127.0.0.1:9093 over SASL_PLAINTEXT as User:u (PLAIN)");
    }

    @Test
    void shouldRefuseAnUnknownProtocolNamingTheKey() {
        assertThatThrownBy(() -> KafkaClientSettings.of(Map.of("security.protocol", "TLS")))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("kafka setting 'security.protocol' (env TUNESTREAM_KAFKA_SECURITY_PROTOCOL): "
                        + "unknown protocol 'TLS'");
    }

    @Test
    void shouldRefuseAMissingKeystoreNamingTheKey() {
        Path missing = dir.resolve("nope.p12");
        assertThatThrownBy(() -> KafkaClientSettings.of(Map.of("security.protocol", "SSL",
                "ssl.keystore.location", missing.toString())))
                .hasMessage("kafka setting 'ssl.keystore.location' (env TUNESTREAM_KAFKA_SSL_KEYSTORE_LOCATION): file "
                        + missing.toAbsolutePath() + " does not exist or cannot be read");
    }

    @Test
    void shouldRefuseAnUnreadableSecretNamingTheKeyWithoutItsContent() {
        Path missing = dir.resolve("truststore-password");
        assertThatThrownBy(() -> KafkaClientSettings.of(Map.of("ssl.truststore.password.file", missing.toString())))
                .hasMessage("kafka setting 'ssl.truststore.password.file' (env TUNESTREAM_KAFKA_SSL_TRUSTSTORE_PASSWORD_FILE): "
                        + "secret file " + missing.toAbsolutePath() + " cannot be read (NoSuchFileException)");
    }

    @Test
    void shouldLetTheEnvironmentOverrideTheFileAndTheServiceSettings() throws IOException {
        Path file = Files.writeString(dir.resolve("client.properties"),
                "security.protocol=SSL\nssl.endpoint.identification.algorithm=https\n");
        KafkaClientSettings settings = KafkaClientSettings.load(Map.of("ssl.endpoint.identification.algorithm", ""),
                Map.of("TUNESTREAM_KAFKA_CONFIG", file.toString(), "TUNESTREAM_KAFKA_SECURITY_PROTOCOL", "SASL_SSL",
                        "TUNESTREAM_KAFKA_SASL_MECHANISM", "SCRAM-SHA-256", "TUNESTREAM_KAFKA_SASL_USERNAME", "trainer",
                        "TUNESTREAM_KAFKA_SASL_PASSWORD", "pw", "OTHER_PROGRAM", "x"));

        assertThat(settings.properties()).containsEntry("security.protocol", "SASL_SSL")
                .containsEntry("ssl.endpoint.identification.algorithm", "")
                .containsEntry("sasl.mechanism", "SCRAM-SHA-256");
        assertThat(settings.principal()).isEqualTo("User:trainer");
    }

    @Test
    void shouldRefuseAUsernameWithoutPassword() {
        assertThatThrownBy(() -> KafkaClientSettings.of(Map.of("sasl.mechanism", "SCRAM-SHA-512", "sasl.username", "x")))
                .hasMessage("kafka setting 'sasl.username' is set but neither 'sasl.password' nor 'sasl.password.file' is");
    }

    @Test
    void shouldDefaultToPlaintextAsAnonymous() {
        assertThat(KafkaClientSettings.none().describe()).isEqualTo("PLAINTEXT as User:ANONYMOUS");
        assertThat(new KafkaClientConfig("h:1", RegistryConfig.forRegistry("http://r")).adminProperties())
                .isEqualTo(Map.of("bootstrap.servers", "h:1"));
    }

    @Test
    void shouldRefuseScramWithoutCredentialsNamingTheKeysToSet() {
        assertThatThrownBy(() -> KafkaClientSettings.of(Map.of("security.protocol", "SASL_SSL",
                "sasl.mechanism", "SCRAM-SHA-512")))
                .hasMessage("kafka settings: security.protocol=SASL_SSL with sasl.mechanism=SCRAM-SHA-512 needs "
                        + "'sasl.username' and 'sasl.password.file' (env TUNESTREAM_KAFKA_SASL_USERNAME, "
                        + "TUNESTREAM_KAFKA_SASL_PASSWORD_FILE) or 'sasl.jaas.config'");
    }

    @Test
    void shouldRefuseASecretGivenTwice() throws IOException {
        Path secret = Files.writeString(dir.resolve("pw"), "x");
        assertThatThrownBy(() -> KafkaClientSettings.of(Map.of("ssl.key.password", "y",
                "ssl.key.password.file", secret.toString())))
                .hasMessage("kafka setting 'ssl.key.password' is given twice: directly and in 'ssl.key.password.file'; keep one");
    }
}

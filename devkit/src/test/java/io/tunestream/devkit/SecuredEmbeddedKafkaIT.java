package io.tunestream.devkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.errors.SaslAuthenticationException;
import org.apache.kafka.common.errors.SslAuthenticationException;
import org.apache.kafka.common.errors.TopicAuthorizationException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The secured broker: SASL_SSL with SCRAM, TLS, StandardAuthorizer, a super user bootstrapped at format time. */
class SecuredEmbeddedKafkaIT {

    @TempDir
    static Path directory;
    static EmbeddedKafka kafka;

    @BeforeAll
    static void start() {
        kafka = EmbeddedKafka.start(EmbeddedKafkaConfig.defaults()
                .withSecurity(BrokerSecurity.in(directory.resolve("certificates"))));
    }

    @AfterAll
    static void stop() {
        kafka.close();
    }

    /** Plain Kafka client properties from Tunestream client settings (the password read from its file). */
    private static Map<String, Object> clientProperties(Map<String, String> settings, String password) {
        Map<String, Object> properties = new LinkedHashMap<>();
        properties.put("bootstrap.servers", kafka.bootstrapServers());
        properties.put("security.protocol", settings.get("security.protocol"));
        properties.put("sasl.mechanism", settings.get("sasl.mechanism"));
        properties.put("sasl.jaas.config", BrokerSecurity.jaas(settings.get("sasl.username"), password));
        properties.put("ssl.truststore.type", "PKCS12");
        properties.put("ssl.truststore.location", settings.get("ssl.truststore.location"));
        properties.put("ssl.truststore.password", BrokerSecurity.readSecret(Path.of(settings.get("ssl.truststore.password.file"))));
        properties.put("default.api.timeout.ms", 10_000);
        properties.put("request.timeout.ms", 5_000);
        return properties;
    }

    private static Throwable describeClusterFailure(Map<String, Object> properties) {
        try (Admin admin = Admin.create(properties)) {
            return catchThrowable(() -> admin.describeCluster().nodes().get(15, TimeUnit.SECONDS));
        }
    }

    @Test
    void superUserShouldCreateTopicsOnTheSecuredListener() throws Exception {
        try (Admin admin = Admin.create(kafka.adminClientProperties())) {
            admin.createTopics(List.of(new NewTopic("secured-admin-topic", 1, (short) 1))).all().get(15, TimeUnit.SECONDS);
            // a created topic reaches the broker's metadata cache a moment after createTopics returns
            org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(15)).untilAsserted(() ->
                    assertThat(admin.listTopics().names().get(15, TimeUnit.SECONDS)).contains("secured-admin-topic"));
        }
        assertThat(kafka.adminClientProperties()).containsEntry("security.protocol", "SASL_SSL");
    }

    @Test
    void aNewUserShouldAuthenticateButBeDeniedWithoutAcls() {
        Map<String, String> settings = kafka.createScramUser("nobody", Duration.ofSeconds(15));
        String password = BrokerSecurity.readSecret(Path.of(settings.get("sasl.password.file")));
        try (Admin admin = Admin.create(clientProperties(settings, password))) {
            Throwable denied = catchThrowable(() -> admin.createTopics(List.of(new NewTopic("secured-nobody", 1, (short) 1)))
                    .all().get(15, TimeUnit.SECONDS));
            assertThat(denied).isInstanceOf(ExecutionException.class)
                    .cause().isInstanceOf(TopicAuthorizationException.class);
        }
        assertThat(settings).doesNotContainKey("sasl.password").containsEntry("sasl.username", "nobody");
    }

    @Test
    void aWrongPasswordShouldFailAuthentication() {
        Map<String, String> settings = kafka.createScramUser("wrong-password", Duration.ofSeconds(15));
        assertThat(describeClusterFailure(clientProperties(settings, "not-the-password")))
                .cause().isInstanceOf(SaslAuthenticationException.class);
    }

    @Test
    void anUntrustedCertificateShouldFailTheHandshake() throws Exception {
        BrokerSecurity other = BrokerSecurity.in(directory.resolve("other-certificates")).ensureMaterial();
        Map<String, String> settings = new LinkedHashMap<>(kafka.createScramUser("untrusting", Duration.ofSeconds(15)));
        String password = BrokerSecurity.readSecret(Path.of(settings.get("sasl.password.file")));
        settings.put("ssl.truststore.location", other.truststore().toString());
        settings.put("ssl.truststore.password.file", other.truststorePasswordFile().toString());
        assertThat(describeClusterFailure(clientProperties(settings, password)))
                .cause().isInstanceOf(SslAuthenticationException.class);
    }

    @Test
    void aUserCreatedAgainShouldKeepItsPasswordAndLogIn() {
        Map<String, String> first = kafka.createScramUser("renewed", Duration.ofSeconds(15));
        String password = BrokerSecurity.readSecret(Path.of(first.get("sasl.password.file")));
        Map<String, String> again = kafka.createScramUser("renewed", Duration.ofSeconds(15));

        assertThat(BrokerSecurity.readSecret(Path.of(again.get("sasl.password.file")))).isEqualTo(password);
        try (Admin admin = Admin.create(clientProperties(again, password))) {
            // authenticated: the cluster is described (no ACL is needed for that)
            assertThat(catchThrowable(() -> admin.describeCluster().clusterId().get(15, TimeUnit.SECONDS))).isNull();
        }
    }

    @Test
    void certificatesAndPasswordsShouldBeKeptForTheNextStart() throws Exception {
        BrokerSecurity security = kafka.security().orElseThrow();
        assertThat(security.keystore()).exists();
        assertThat(Files.getPosixFilePermissions(security.passwordFile("admin")))
                .isEqualTo(Set.of(java.nio.file.attribute.PosixFilePermission.OWNER_READ,
                        java.nio.file.attribute.PosixFilePermission.OWNER_WRITE));
        long modified = Files.getLastModifiedTime(security.keystore()).toMillis();
        security.ensureMaterial();
        assertThat(Files.getLastModifiedTime(security.keystore()).toMillis()).isEqualTo(modified);
    }
}

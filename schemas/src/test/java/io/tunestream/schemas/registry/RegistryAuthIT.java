package io.tunestream.schemas.registry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.tunestream.devkit.PlatformEndpoints;
import io.tunestream.devkit.RegistryAuthStub;
import io.tunestream.devkit.junit.LocalPlatformExtension;
import io.tunestream.schemas.Answer;
import io.tunestream.schemas.FinishReason;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.UUID;
import org.apache.kafka.common.serialization.Serde;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * The serdes and schema registration authenticate with Apicurio's client settings (client
 * credentials at a token endpoint) against the devkit's token-endpoint stub, which lets a request
 * reach the registry only with a bearer token it issued.
 */
@ExtendWith(LocalPlatformExtension.class)
class RegistryAuthIT {

    private static final String ADMIN = "tunestream-admin";
    private static final String SERVING = "tunestream-serving";

    @Test
    void shouldRegisterAndRoundTripWithATokenFromTheTokenEndpoint(PlatformEndpoints platform, @TempDir Path dir)
            throws Exception {
        try (RegistryAuthStub stub = RegistryAuthStub.start(platform.registryUrl(),
                Map.of(ADMIN, "admin-secret", SERVING, "serving-secret"))) {
            Path secretFile = Files.writeString(dir.resolve("registry-secret"), "admin-secret\n");
            RegistryConfig admin = RegistryConfig.fromSettings(stub.registryUrl(), Map.of(
                    RegistryConfig.TOKEN_ENDPOINT, stub.tokenEndpoint(), RegistryConfig.CLIENT_ID, ADMIN,
                    RegistryConfig.CLIENT_SECRET_FILE, secretFile.toString()));
            RegistryConfig serving = RegistryConfig.fromSettings(stub.registryUrl(), Map.of(
                    RegistryConfig.TOKEN_ENDPOINT, stub.tokenEndpoint(), RegistryConfig.CLIENT_ID, SERVING,
                    RegistryConfig.CLIENT_SECRET, "serving-secret"));
            String topic = "auth-" + UUID.randomUUID();
            Answer answer = Answer.newBuilder().setRequestId("r1").setTask("squad").setText(" Rome")
                    .setFinishReason(FinishReason.EOS).build();

            // setup registers as the admin identity; the service's serializer does not auto-register
            new SchemaRegistration(admin).register(topic + "-value", Answer.getClassSchema());
            try (Serde<Answer> serde = AvroSerdes.specific(Answer.class, serving)) {
                byte[] bytes = serde.serializer().serialize(topic, answer);

                assertThat(serde.deserializer().deserialize(topic, bytes)).isEqualTo(answer);
            }

            assertThat(stub.forwardedFor(ADMIN)).as("registration went through the stub as admin").isPositive();
            assertThat(stub.forwardedFor(SERVING)).as("the serdes sent the serving client's token").isPositive();
            assertThat(stub.refused()).isZero();
            assertThat(serving.autoRegister()).isFalse();
        }
    }

    @Test
    void shouldBeRefusedWithoutATokenOrWithAWrongSecretNamingTheClientButNotTheSecret(PlatformEndpoints platform) {
        try (RegistryAuthStub stub = RegistryAuthStub.start(platform.registryUrl(), Map.of(ADMIN, "admin-secret"))) {
            String artifact = "auth-" + UUID.randomUUID() + "-value";
            RegistryConfig anonymous = RegistryConfig.forRegistry(stub.registryUrl());
            RegistryConfig wrongSecret = anonymous.withAuth(new RegistryAuth(URI.create(stub.tokenEndpoint()), ADMIN,
                    "not-the-secret"));

            assertThatThrownBy(() -> new SchemaRegistration(anonymous).register(artifact, Answer.getClassSchema()))
                    .isInstanceOf(SchemaRegistrationException.class).hasMessageContaining("HTTP 401");
            assertThatThrownBy(() -> new SchemaRegistration(wrongSecret).register(artifact, Answer.getClassSchema()))
                    .isInstanceOf(SchemaRegistrationException.class)
                    .hasMessageContaining("refused client '" + ADMIN + "' (HTTP 401)")
                    .hasMessageNotContaining("not-the-secret");
            assertThat(stub.refused()).isEqualTo(1);
            assertThat(stub.forwardedFor(ADMIN)).isZero();
        }
    }
}

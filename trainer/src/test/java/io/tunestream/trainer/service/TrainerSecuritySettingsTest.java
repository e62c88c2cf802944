package io.tunestream.trainer.service;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.tunestream.schemas.adapters.AdapterKeys;
import java.lang.reflect.Proxy;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The trainer's signing key and registry client from its configuration, checked at start. */
class TrainerSecuritySettingsTest {

    /** A config answering {@code values} (method name to value), empty for other optional settings. */
    private static TrainerConfig config(Map<String, Object> values) {
        return (TrainerConfig) Proxy.newProxyInstance(TrainerConfig.class.getClassLoader(),
                new Class<?>[] {TrainerConfig.class}, (proxy, method, args) -> {
                    Object value = values.get(method.getName());
                    if (method.getReturnType() == Optional.class) {
                        return Optional.ofNullable(value);
                    }
                    if (value == null) {
                        throw new IllegalStateException("the test gave no " + method.getName());
                    }
                    return value;
                });
    }

    @Test
    void shouldSignWithTheConfiguredKeyOrNotAtAllWhenNeitherIsSet(@TempDir Path dir) {
        Path key = dir.resolve("trainer.pem");
        AdapterKeys.writePem(AdapterKeys.generate().getPrivate(), key);

        assertThat(TrainerService.signer(config(Map.of("adaptersSigningKey", key.toString(),
                "adaptersSigningKeyId", "trainer-7")))).get().extracting(s -> s.keyId()).isEqualTo("trainer-7");
        assertThat(TrainerService.signer(config(Map.of()))).isEmpty();
    }

    @Test
    void shouldRefuseAKeyWithoutItsIdOrAnUnreadableKeyFile(@TempDir Path dir) {
        assertThatThrownBy(() -> TrainerService.signer(config(Map.of("adaptersSigningKey", "/k.pem"))))
                .hasMessageContaining("only the key is set");
        assertThatThrownBy(() -> TrainerService.signer(config(Map.of("adaptersSigningKey",
                dir.resolve("missing.pem").toString(), "adaptersSigningKeyId", "k"))))
                .hasMessageContaining("missing.pem");
    }

    @Test
    void shouldReadRegistryCredentialsAndKeepAutoRegistrationOffByDefault(@TempDir Path dir) throws Exception {
        Path secret = Files.writeString(dir.resolve("secret"), "s3cret");

        var registry = TrainerService.registry(config(Map.of("registryUrl", "http://registry:8080",
                "registryAuthTokenEndpoint", "http://idp/token", "registryAuthClientId", "trainer",
                "registryAuthClientSecretFile", secret.toString())));

        assertThat(registry.autoRegister()).isFalse();
        assertThat(registry.auth()).get().satisfies(a -> assertThat(a.clientSecret()).isEqualTo("s3cret"));
        assertThat(registry.describe()).contains("client 'trainer'").doesNotContain("s3cret");
    }

    @Test
    void shouldTakeTheApiTokenFromTheSettingOrItsFileOrLeaveTheApiOpen(@TempDir Path dir) throws Exception {
        Path file = Files.writeString(dir.resolve("token"), "from-file\n");

        assertThat(TrainerService.apiToken(config(Map.of("apiToken", "t0k3n")))).get()
                .satisfies(t -> assertThat(t.admits("Bearer t0k3n")).isTrue());
        assertThat(TrainerService.apiToken(config(Map.of("apiTokenFile", file.toString())))).get()
                .satisfies(t -> assertThat(t.admits("Bearer from-file")).isTrue())
                .hasToString("BearerToken[hidden]");
        assertThat(TrainerService.apiToken(config(Map.of()))).isEmpty();
    }

    @Test
    void shouldRefuseBothApiTokenSettingsOrAnUnreadableTokenFile(@TempDir Path dir) {
        assertThatThrownBy(() -> TrainerService.apiToken(config(Map.of("apiToken", "a", "apiTokenFile", "/t"))))
                .hasMessageContaining("not both");
        assertThatThrownBy(() -> TrainerService.apiToken(config(Map.of("apiTokenFile",
                dir.resolve("missing").toString())))).hasMessageContaining("missing");
    }
}

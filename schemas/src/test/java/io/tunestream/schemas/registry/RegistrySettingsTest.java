package io.tunestream.schemas.registry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** RegistryConfig.fromSettings: auth and auto-registration from configuration. */
class RegistrySettingsTest {

    private static final String URL = "http://registry:8080";

    @Test
    void shouldNeitherAuthenticateNorAutoRegisterByDefault() {
        RegistryConfig config = RegistryConfig.fromSettings(URL, Map.of());

        assertThat(config.autoRegister()).isFalse();
        assertThat(config.auth()).isEmpty();
        assertThat(config.serdeProperties()).containsEntry("apicurio.registry.auto-register", false)
                .doesNotContainKey("apicurio.registry.auth.service.token.endpoint");
    }

    @Test
    void shouldPassClientCredentialsToTheSerdesWithTheSecretFromAFile(@TempDir Path dir) throws Exception {
        Path secret = Files.writeString(dir.resolve("secret"), "s3cret\n");

        RegistryConfig config = RegistryConfig.fromSettings(URL, Map.of(
                RegistryConfig.AUTO_REGISTER, "true",
                RegistryConfig.TOKEN_ENDPOINT, "https://idp/realms/t/protocol/openid-connect/token",
                RegistryConfig.CLIENT_ID, "serving", RegistryConfig.CLIENT_SECRET_FILE, secret.toString()));

        assertThat(config.autoRegister()).isTrue();
        assertThat(config.serdeProperties())
                .containsEntry("apicurio.registry.auth.service.token.endpoint",
                        "https://idp/realms/t/protocol/openid-connect/token")
                .containsEntry("apicurio.registry.auth.client.id", "serving")
                .containsEntry("apicurio.registry.auth.client.secret", "s3cret");
        assertThat(config.toString()).doesNotContain("s3cret").contains("clientSecret=***");
        assertThat(config.describe()).doesNotContain("s3cret").contains("client 'serving'");
    }

    @Test
    void shouldRefuseIncompleteOrAmbiguousCredentialsNamingTheSetting() {
        assertThatThrownBy(() -> RegistryConfig.fromSettings(URL, Map.of(RegistryConfig.CLIENT_ID, "serving")))
                .hasMessageContaining("'registry.auth.token.endpoint' is not");
        assertThatThrownBy(() -> RegistryConfig.fromSettings(URL, Map.of(RegistryConfig.TOKEN_ENDPOINT, "http://idp/t",
                RegistryConfig.CLIENT_ID, "serving", RegistryConfig.CLIENT_SECRET, "a",
                RegistryConfig.CLIENT_SECRET_FILE, "/f")))
                .hasMessage("registry client 'serving' needs exactly one of 'registry.auth.client.secret' and "
                        + "'registry.auth.client.secret.file', both are set");
        assertThatThrownBy(() -> RegistryConfig.fromSettings(URL, Map.of(RegistryConfig.TOKEN_ENDPOINT, "http://idp/t",
                RegistryConfig.CLIENT_ID, "serving", RegistryConfig.CLIENT_SECRET_FILE, "/no/such/file")))
                .hasMessageContaining("'registry.auth.client.secret.file': /no/such/file cannot be read");
        assertThatThrownBy(() -> RegistryConfig.fromSettings(URL, Map.of(RegistryConfig.AUTO_REGISTER, "yes")))
                .hasMessageContaining("'registry.auto.register' must be true or false, was 'yes'");
    }

    @Test
    void shouldKeepTheSecretOutOfTheAuthsText() {
        var auth = new RegistryAuth(URI.create("http://idp/token"), "c", "hidden", Optional.of("registry"));

        assertThat(auth.toString()).doesNotContain("hidden").contains("scope=registry");
    }
}

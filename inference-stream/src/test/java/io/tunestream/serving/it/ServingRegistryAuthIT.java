package io.tunestream.serving.it;

import static io.tunestream.serving.testing.Fixtures.adapter;
import static io.tunestream.serving.testing.Fixtures.assistant;
import static io.tunestream.serving.testing.Fixtures.assistantRequest;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.tunestream.devkit.PlatformEndpoints;
import io.tunestream.devkit.RegistryAuthStub;
import io.tunestream.devkit.junit.LocalPlatformExtension;
import io.tunestream.schemas.Answer;
import io.tunestream.serving.testing.EchoAnswerer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** Serving reaches a registry that requires a token with its client credentials (devkit token-endpoint stub). */
@ExtendWith(LocalPlatformExtension.class)
class ServingRegistryAuthIT {

    private static final Duration TIMEOUT = Duration.ofSeconds(60);
    private ServingFixture fixture;
    private RegistryAuthStub stub;

    @AfterEach
    void close() throws Exception {
        if (fixture != null) {
            fixture.close();
        }
        if (stub != null) {
            stub.close();
        }
    }

    private Map<String, String> configThroughStub(String secret, Path dir) throws Exception {
        Path secretFile = Files.writeString(dir.resolve("registry-secret"), secret);
        var config = fixture.config(1, 10);
        config.put("registry.url", stub.registryUrl());
        config.put("registry.auth.token.endpoint", stub.tokenEndpoint());
        config.put("registry.auth.client.id", "serving");
        config.put("registry.auth.client.secret.file", secretFile.toString());
        return config;
    }

    @Test
    void shouldCheckItsSchemasAndDecodeWithATokenOfItsClient(PlatformEndpoints platform, @TempDir Path dir)
            throws Exception {
        fixture = new ServingFixture(platform, 1);
        stub = RegistryAuthStub.start(platform.registryUrl(), Map.of("serving", "serving-secret"));
        fixture.publish(assistant("assistant", 4));
        fixture.publish(adapter("assistant", 1, EchoAnswerer.MODEL.fingerprint(), EchoAnswerer.MODEL.hiddenSize(), 4));
        fixture.send(assistantRequest("r1", "assistant"));

        fixture.startApp(configThroughStub("serving-secret", dir), new EchoAnswerer());

        List<Answer> answers = fixture.awaitAnswers(1, TIMEOUT);
        assertThat(answers).singleElement().satisfies(a -> {
            assertThat(a.getError()).isNull();
            assertThat(a.getAdapterVersion()).isEqualTo(1);
        });
        assertThat(stub.forwardedFor("serving")).as("schema check and decoding went through with its token")
                .isPositive();
        assertThat(stub.refused()).isZero();
    }

    @Test
    void shouldStopAtStartNamingTheClientWhenTheTokenEndpointRefusesIt(PlatformEndpoints platform, @TempDir Path dir)
            throws Exception {
        fixture = new ServingFixture(platform, 1);
        stub = RegistryAuthStub.start(platform.registryUrl(), Map.of("serving", "serving-secret"));
        Map<String, String> config = configThroughStub("stale-secret", dir);

        assertThatThrownBy(() -> fixture.startApp(config, new EchoAnswerer()))
                .hasMessageContaining("refused client 'serving' (HTTP 401)")
                .hasMessageNotContaining("stale-secret");
        assertThat(stub.forwardedFor("serving")).isZero();
    }
}

package io.tunestream.schemas.registry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.tunestream.devkit.RegistryAuthStub;
import java.net.URI;
import java.net.http.HttpClient;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Tokens of the client-credentials grant, from the devkit's token-endpoint stub (no registry behind it). */
class RegistryTokensTest {

    /** A clock the test moves. */
    private static final class MovableClock extends Clock {
        private Instant now = Instant.parse("2026-01-01T00:00:00Z");

        @Override
        public ZoneId getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(ZoneId zone) {
            return this;
        }

        @Override
        public Instant instant() {
            return now;
        }
    }

    @Test
    void shouldKeepATokenUntilShortlyBeforeItExpiresAndFetchAgainWhenInvalidated() {
        var clock = new MovableClock();
        try (var stub = RegistryAuthStub.start("http://127.0.0.1:1", Map.of("serving", "secret"), 120)) {
            var tokens = new RegistryTokens(new RegistryAuth(URI.create(stub.tokenEndpoint()), "serving", "secret"),
                    HttpClient.newHttpClient(), Duration.ofSeconds(5), clock);

            String first = tokens.token();
            clock.now = clock.now.plusSeconds(89);
            assertThat(tokens.token()).isEqualTo(first);
            assertThat(stub.tokensIssued()).isEqualTo(1);

            clock.now = clock.now.plusSeconds(1); // 120 s lifetime, renewed 30 s before
            String second = tokens.token();
            assertThat(second).isNotEqualTo(first);
            tokens.invalidate();
            assertThat(tokens.token()).isNotEqualTo(second);
            assertThat(stub.tokensIssued()).isEqualTo(3);
        }
    }

    @Test
    void shouldNameTheClientAndEndpointButNeverTheSecretWhenRefused() {
        try (var stub = RegistryAuthStub.start("http://127.0.0.1:1", Map.of("serving", "secret"))) {
            var tokens = new RegistryTokens(new RegistryAuth(URI.create(stub.tokenEndpoint()), "serving", "wrong-one"),
                    HttpClient.newHttpClient(), Duration.ofSeconds(5), Clock.systemUTC());

            assertThatThrownBy(tokens::token).isInstanceOf(RegistryTokens.RegistryAuthException.class)
                    .hasMessage("token endpoint " + stub.tokenEndpoint() + " refused client 'serving' (HTTP 401)");
        }
    }
}

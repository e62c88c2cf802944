package io.tunestream.serving.serde;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.tunestream.schemas.registry.Decoded;
import io.tunestream.schemas.registry.RegistryUnavailableException;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.junit.jupiter.api.Test;

class TimeLimitedDecoderTest {

    private final CountDownLatch registryAnswers = new CountDownLatch(1);

    /** Hangs like a registry that accepts the connection and never answers, until released. */
    private final ValueDecoder<String> hung = (topic, headers, value) -> {
        try {
            registryAnswers.await(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            // the registry client does not always react to interrupts: keep hanging like it
            Thread.currentThread().interrupt();
        }
        return new Decoded.Value<>(new String(value));
    };

    @Test
    void shouldCallAHungRegistryUnreachableAfterTheLimitAndAnswerOnceItAnswers() {
        try (var decoder = new TimeLimitedDecoder<>(hung, Duration.ofMillis(100), 2)) {
            long start = System.nanoTime();
            assertThatThrownBy(() -> decoder.decode("requests", new RecordHeaders(), "a".getBytes()))
                    .isInstanceOf(RegistryUnavailableException.class)
                    .hasMessage("no answer from the registry within 100 ms while reading a record of requests");
            assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(2));

            registryAnswers.countDown();
            assertThat(decoder.decode("requests", new RecordHeaders(), "b".getBytes()))
                    .isEqualTo(new Decoded.Value<>("b"));
        }
    }

    @Test
    void shouldNotStartMoreCallsThanAllowedWhileOthersHang() {
        ValueDecoder<String> neverInterrupted = (topic, headers, value) -> {
            while (registryAnswers.getCount() > 0) {
                try {
                    registryAnswers.await();
                } catch (InterruptedException e) {
                    // ignores cancellation, as a hung HTTP client may
                }
            }
            return new Decoded.Value<>("late");
        };
        try (var decoder = new TimeLimitedDecoder<>(neverInterrupted, Duration.ofMillis(50), 1)) {
            assertThatThrownBy(() -> decoder.decode("adapters", new RecordHeaders(), new byte[1]))
                    .hasMessageStartingWith("no answer from the registry within 50 ms");

            assertThatThrownBy(() -> decoder.decode("adapters", new RecordHeaders(), new byte[1]))
                    .isInstanceOf(RegistryUnavailableException.class)
                    .hasMessage("1 registry calls for adapters still wait for an answer");
            registryAnswers.countDown();
        }
    }

    @Test
    void shouldPassTheDecodersOwnOutcomesThrough() {
        ValueDecoder<String> down = (topic, headers, value) -> {
            throw new RegistryUnavailableException("connection refused", new java.net.ConnectException());
        };
        try (var decoder = new TimeLimitedDecoder<>(down, Duration.ofSeconds(1), 1)) {
            assertThatThrownBy(() -> decoder.decode("t", new RecordHeaders(), new byte[1]))
                    .isInstanceOf(RegistryUnavailableException.class).hasMessage("connection refused");
        }
    }
}

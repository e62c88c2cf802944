package io.tunestream.trainer.loop;

import static org.assertj.core.api.Assertions.assertThat;

import io.tunestream.schemas.registry.RegistryUnavailableException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import org.junit.jupiter.api.Test;

class InputRetryTest {

    /** A clock the test moves. */
    private static final class TestClock extends Clock {
        private Instant now = Instant.EPOCH;

        @Override
        public ZoneOffset getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(java.time.ZoneId zone) {
            return this;
        }

        @Override
        public Instant instant() {
            return now;
        }

        void advance(Duration by) {
            now = now.plus(by);
        }
    }

    private final TestClock clock = new TestClock();
    private final InputRetry retry = new InputRetry(Duration.ofMillis(100), Duration.ofSeconds(1), clock);
    private final RegistryUnavailableException down = new RegistryUnavailableException("connection refused", null);

    @Test
    void shouldWaitLongerAfterEachFailureUpToTheMaximum() {
        long first = retry.failed("registry unreachable", down).toMillis();
        long second = retry.failed("registry unreachable", down).toMillis();
        long third = retry.failed("registry unreachable", down).toMillis();
        for (int i = 0; i < 10; i++) {
            retry.failed("registry unreachable", down);
        }
        long capped = retry.failed("registry unreachable", down).toMillis();

        // 100, 200, 400 ms with ±20 % jitter, then at most the 1 s cap (+20 %)
        assertThat(first).isBetween(80L, 120L);
        assertThat(second).isBetween(160L, 240L);
        assertThat(third).isBetween(320L, 480L);
        assertThat(capped).isBetween(800L, 1200L);
    }

    @Test
    void shouldSayDegradedWhileWaitingAndForgetItAfterASuccess() {
        assertThat(retry.degraded()).isEmpty();
        assertThat(retry.waiting()).isFalse();

        Duration wait = retry.failed("registry unreachable", down);

        assertThat(retry.waiting()).isTrue();
        assertThat(retry.degraded()).get(org.assertj.core.api.InstanceOfAssertFactories.STRING)
                .startsWith("degraded: registry unreachable (attempt 1, next in ").endsWith("): connection refused");
        clock.advance(wait);
        assertThat(retry.waiting()).as("the wait is over, still degraded until a read works").isFalse();
        assertThat(retry.degraded()).isPresent();

        retry.succeeded();

        assertThat(retry.degraded()).isEmpty();
        assertThat(retry.failed("registry unreachable", down).toMillis()).as("backoff starts over").isBetween(80L, 120L);
    }
}

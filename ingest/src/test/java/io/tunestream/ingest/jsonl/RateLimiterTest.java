package io.tunestream.ingest.jsonl;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class RateLimiterTest {

    private long now;
    private final List<Long> sleeps = new ArrayList<>();

    private RateLimiter limiter(double rate) {
        return new RateLimiter(rate, () -> now, nanos -> {
            sleeps.add(nanos);
            now += nanos;
        });
    }

    @Test
    void shouldSpaceRecordsToTheRate() throws InterruptedException {
        RateLimiter limiter = limiter(4);

        for (int i = 0; i < 5; i++) {
            limiter.acquire();
        }

        assertThat(sleeps).containsExactly(250_000_000L, 250_000_000L, 250_000_000L, 250_000_000L);
        assertThat(now).isEqualTo(1_000_000_000L);
    }

    @Test
    void shouldNotSleepWhenTheSenderIsSlowerThanTheRate() throws InterruptedException {
        RateLimiter limiter = limiter(10);

        limiter.acquire();
        now += 500_000_000L;
        limiter.acquire();
        limiter.acquire();

        assertThat(sleeps).isEmpty();
    }

    @Test
    void shouldRefuseANonPositiveRate() {
        assertThatThrownBy(() -> limiter(0)).hasMessage("rate must be a positive number of records per second, was 0.0");
    }
}

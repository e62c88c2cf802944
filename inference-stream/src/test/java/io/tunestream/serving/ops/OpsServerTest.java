package io.tunestream.serving.ops;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.tunestream.schemas.ErrorKind;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.streams.KafkaStreams;
import org.junit.jupiter.api.Test;

class OpsServerTest {

    private final HttpClient http = HttpClient.newHttpClient();

    private HttpResponse<String> get(OpsServer server, String path) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + path))
                .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void shouldExposeTheServingMetricsInPrometheusFormat() throws Exception {
        var registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        var metrics = new ServingMetrics(registry);
        metrics.answered("squad", 3);
        metrics.errorAnswered(ErrorKind.UNKNOWN_TASK);
        metrics.batchRan(4, Duration.ofMillis(200), 40);

        try (var server = new OpsServer(0, registry::scrape, () -> KafkaStreams.State.RUNNING, () -> true, Optional::empty)) {
            String body = get(server, "/metrics").body();

            assertThat(body).contains("tunestream_answers_total{adapter_version=\"3\",task=\"squad\"} 1.0");
            assertThat(body).contains("tunestream_errors_total{kind=\"UNKNOWN_TASK\"} 1.0");
            assertThat(body).contains("tunestream_generated_tokens_total 40.0");
            assertThat(body).contains("tunestream_batch_size_sum 4.0");
            assertThat(body).contains("tunestream_generation_tokens_per_second_sum 200.0");
        }
    }

    @Test
    void shouldBeReadyOnlyWhileKafkaStreamsRuns() throws Exception {
        var state = new AtomicReference<>(KafkaStreams.State.REBALANCING);
        try (var server = new OpsServer(0, () -> "", state::get, () -> true, Optional::empty)) {
            var notReady = get(server, "/health/ready");
            assertThat(notReady.statusCode()).isEqualTo(503);
            assertThat(notReady.body()).isEqualTo("{\"status\":\"DOWN\",\"state\":\"REBALANCING\"}");
            assertThat(get(server, "/health/live").statusCode()).isEqualTo(200);

            state.set(KafkaStreams.State.RUNNING);
            assertThat(get(server, "/health/ready").statusCode()).isEqualTo(200);
        }
    }

    @Test
    void shouldReportDegradedWhileAnInputWaitsForTheRegistryAndStayLive() throws Exception {
        var clock = java.time.Clock.fixed(java.time.Instant.parse("2026-01-01T00:00:00Z"), java.time.ZoneOffset.UTC);
        var waits = new DecodeWaits(clock);
        try (var server = new OpsServer(0, () -> "", () -> KafkaStreams.State.RUNNING, () -> true, waits::degraded)) {
            waits.waiting("task 0_1", "requests");
            waits.waiting("global store adapters", "adapters");

            var ready = get(server, "/health/ready");
            assertThat(ready.statusCode()).isEqualTo(503);
            assertThat(ready.body()).isEqualTo("{\"status\":\"DEGRADED\",\"state\":\"RUNNING\",\"degraded\":"
                    + "\"registry unreachable since 2026-01-01T00:00:00Z (waiting: global store adapters of adapters, "
                    + "task 0_1 of requests)\"}");
            assertThat(get(server, "/health/live").statusCode()).isEqualTo(200);

            waits.resumed("task 0_1");
            waits.resumed("global store adapters");
            assertThat(get(server, "/health/ready").statusCode()).isEqualTo(200);
        }
    }

    @Test
    void shouldNotBeLiveOnceKafkaStreamsFailed() throws Exception {
        try (var server = new OpsServer(0, () -> "", () -> KafkaStreams.State.ERROR, () -> true, Optional::empty)) {
            var live = get(server, "/health/live");

            assertThat(live.statusCode()).isEqualTo(503);
            assertThat(live.body()).isEqualTo("{\"status\":\"DOWN\",\"state\":\"ERROR\"}");
        }
    }

    @Test
    void shouldNotBeLiveWhileTheModelIsStuckInACancelledCall() throws Exception {
        var modelLive = new java.util.concurrent.atomic.AtomicBoolean(false);
        try (var server = new OpsServer(0, () -> "", () -> KafkaStreams.State.RUNNING, modelLive::get, Optional::empty)) {
            var live = get(server, "/health/live");
            assertThat(live.statusCode()).isEqualTo(503);
            assertThat(live.body()).isEqualTo("{\"status\":\"DOWN\",\"state\":\"RUNNING\"}");
            assertThat(get(server, "/health/ready").statusCode()).isEqualTo(200);

            modelLive.set(true);
            assertThat(get(server, "/health/live").statusCode()).isEqualTo(200);
        }
    }
}

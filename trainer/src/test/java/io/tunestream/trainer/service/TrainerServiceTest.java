package io.tunestream.trainer.service;

import static org.assertj.core.api.Assertions.assertThat;

import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.tunestream.schemas.Feedback;
import io.tunestream.schemas.Verdict;
import io.tunestream.schemas.kafka.KafkaClientConfig;
import io.tunestream.schemas.registry.RegistryConfig;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.junit.jupiter.api.Test;

/** The Quarkus service booted against an embedded platform: health, readiness and metrics over HTTP. */
@QuarkusTest
@WithTestResource(LocalPlatformResource.class)
class TrainerServiceTest {

    private final HttpClient http = HttpClient.newHttpClient();

    @TestHTTPResource("/q/health/live")
    URI live;

    @TestHTTPResource("/q/health/ready")
    URI ready;

    @TestHTTPResource("/q/metrics")
    URI metrics;

    @ConfigProperty(name = "tunestream.bootstrap-servers")
    String bootstrapServers;

    @ConfigProperty(name = "tunestream.registry-url")
    String registryUrl;

    private HttpResponse<String> get(URI uri) {
        try {
            return http.send(HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(10)).build(),
                    HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new AssertionError("GET " + uri + ": " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    private HttpResponse<String> awaitStatus(URI uri, int status, String bodyPart) {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        HttpResponse<String> response = get(uri);
        while (response.statusCode() != status || !response.body().contains(bodyPart)) {
            assertThat(System.nanoTime()).as("GET %s gives %d with '%s' within 60 s; last: %d %s", uri, status, bodyPart,
                    response.statusCode(), response.body()).isLessThan(deadline);
            try {
                Thread.sleep(200);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError(e);
            }
            response = get(uri);
        }
        return response;
    }

    @Test
    void shouldBeLiveAndReadyWhenTheModelIsLoadedAndTheConsumerAssigned() {
        HttpResponse<String> readiness = awaitStatus(ready, 200, "\"status\": \"UP\"");
        assertThat(readiness.body()).contains("\"modelLoaded\": true").contains("\"consumerAssigned\": true")
                .contains("\"inputs\": \"ok\"");
        HttpResponse<String> liveness = get(live);
        assertThat(liveness.statusCode()).isEqualTo(200);
        assertThat(liveness.body()).contains("\"name\": \"trainer-loop\"").contains("\"status\": \"UP\"");
    }

    @Test
    void shouldCountFeedbackInThePrometheusMetrics() {
        awaitStatus(ready, 200, "\"caughtUp\": true");
        KafkaClientConfig kafka = new KafkaClientConfig(bootstrapServers, RegistryConfig.forRegistry(registryUrl));
        try (KafkaProducer<String, SpecificRecord> producer = new KafkaProducer<>(kafka.producerProperties("quarkus-it"))) {
            producer.send(new ProducerRecord<>("quarkus-feedback", "req-9", Feedback.newBuilder().setRequestId("req-9")
                    .setTask("qa").setVerdict(Verdict.REJECTED).build()));
        }
        awaitStatus(metrics, 200, "tunestream_trainer_feedback_total{verdict=\"REJECTED\"} 1.0");
    }
}

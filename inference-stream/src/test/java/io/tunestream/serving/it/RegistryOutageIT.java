package io.tunestream.serving.it;

import static io.tunestream.serving.testing.Fixtures.adapter;
import static io.tunestream.serving.testing.Fixtures.assistant;
import static io.tunestream.serving.testing.Fixtures.assistantRequest;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.micrometer.core.instrument.Counter;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.tunestream.devkit.PlatformEndpoints;
import io.tunestream.devkit.junit.LocalPlatformExtension;
import io.tunestream.schemas.Answer;
import io.tunestream.schemas.DeadLetters;
import io.tunestream.schemas.kafka.KafkaPreflight;
import io.tunestream.serving.ServingApp;
import io.tunestream.serving.ServingConfig;
import io.tunestream.serving.testing.EchoAnswerer;
import io.tunestream.devkit.TcpProxy;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;
import org.apache.kafka.streams.KafkaStreams;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The serving app against the real broker and registry, with the registry behind a TCP proxy the test
 * shuts and opens: while the registry is unreachable with cold schema caches nothing is dead-lettered
 * or skipped, and every request is answered once it is back.
 */
@ExtendWith(LocalPlatformExtension.class)
class RegistryOutageIT {

    private static final Duration TIMEOUT = Duration.ofSeconds(20);
    private static final String FINGERPRINT = EchoAnswerer.MODEL.fingerprint();
    private static final int HIDDEN = EchoAnswerer.MODEL.hiddenSize();

    private ServingFixture fixture;
    private TcpProxy proxy;
    private CompletableFuture<ServingApp> starting;
    private final PrometheusMeterRegistry meters = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);

    @AfterEach
    void close() throws Exception {
        if (proxy != null) {
            proxy.open(); // a start still waiting for the registry finishes, so it can be closed
        }
        if (starting != null) {
            starting.get(TIMEOUT.toSeconds(), TimeUnit.SECONDS).close();
        }
        if (fixture != null) {
            fixture.close();
        }
        if (proxy != null) {
            proxy.close();
        }
    }

    /** The serving config of the fixture with the registry reached through {@link #proxy}. */
    private ServingConfig configThroughProxy(PlatformEndpoints platform) {
        URI registry = URI.create(platform.registryUrl());
        proxy = TcpProxy.closed(registry.getHost(), registry.getPort());
        var config = fixture.config(4, 50);
        config.put("registry.url", "http://127.0.0.1:" + proxy.port() + registry.getPath());
        return ServingConfig.fromMap(config);
    }

    private double registryWaits() {
        return meters.find("tunestream.registry.waits").counters().stream().mapToDouble(Counter::count).sum();
    }

    private static List<String> ids(List<Answer> answers) {
        return answers.stream().map(Answer::getRequestId).toList();
    }

    @Test
    void shouldWaitAtAColdStartDuringAnOutageAndAnswerEveryWaitingRequestOnceTheRegistryIsBack(
            PlatformEndpoints platform) throws Exception {
        fixture = new ServingFixture(platform, 2);
        fixture.publish(assistant("assistant", 4));
        fixture.publish(adapter("assistant", 1, FINGERPRINT, HIDDEN, 4));
        fixture.publish(withInfinity(adapter("assistant", 2, FINGERPRINT, HIDDEN, 4)));
        List<String> sent = IntStream.range(0, 6).mapToObj(i -> "cold-" + i).toList();
        for (String id : sent) {
            fixture.send(assistantRequest(id, "assistant"));
        }
        fixture.sendRaw("garbage", new byte[] {0x7f, 1, 2, 3, 4, 5});
        sendRaw(platform, fixture.topics.adapters(), "assistant", new byte[] {0x7e, 1, 2, 3, 4});
        ServingConfig config = configThroughProxy(platform);

        // the global stores restore first (running their updaters), so the start itself waits for the registry
        starting = CompletableFuture.supplyAsync(() -> new ServingApp(config, new EchoAnswerer(), meters));
        await().atMost(TIMEOUT).until(() -> registryWaits() >= 2);
        assertThat(starting).as("the start waits; it does not skip the templates").isNotDone();
        assertThat(fixture.awaitDeadLetters(1, Duration.ofSeconds(1))).as("an outage is no dead letter").isEmpty();

        proxy.open();
        starting.get(TIMEOUT.toSeconds(), TimeUnit.SECONDS); // started: the stores are restored
        List<Answer> answers = fixture.awaitAnswers(sent.size(), TIMEOUT);
        assertThat(ids(answers)).containsExactlyInAnyOrderElementsOf(sent);
        assertThat(answers).allSatisfy(a -> {
            assertThat(a.getError()).as(a.getRequestId()).isNull();
            assertThat(a.getAdapterVersion()).as("v1 restored during the outage, v2 refused at restore")
                    .isEqualTo(1);
        });
        assertThat(meters.get("tunestream.adapters.refused").tag("reason", "non_finite").counter().count())
                .isEqualTo(1.0);
        var dead = fixture.awaitDeadLetters(3, Duration.ofSeconds(2));
        assertThat(dead).as("only the records that can never be read").hasSize(2);
        var byTopic = dead.stream().collect(java.util.stream.Collectors.toMap(
                d -> header(d, DeadLetters.TOPIC_HEADER), d -> d));
        assertThat(byTopic.keySet()).containsExactlyInAnyOrder(fixture.topics.requests(), fixture.topics.adapters());
        var request = byTopic.get(fixture.topics.requests());
        assertThat(new String(request.key(), StandardCharsets.UTF_8)).isEqualTo("garbage");
        assertThat(header(request, DeadLetters.REASON_HEADER))
                .startsWith("not an Apicurio-serialized InferenceRequest (first byte 127");
        var adapter = byTopic.get(fixture.topics.adapters());
        assertThat(adapter.value()).containsExactly(0x7e, 1, 2, 3, 4);
        assertThat(header(adapter, DeadLetters.PARTITION_HEADER)).isEqualTo("0");
        assertThat(header(adapter, DeadLetters.OFFSET_HEADER)).isEqualTo("2");
        assertThat(header(adapter, DeadLetters.REASON_HEADER))
                .startsWith("not an Apicurio-serialized AdapterVersion (first byte 126");
    }

    @Test
    void shouldKeepWaitingRequestsAcrossARestartAndAnswerEachOnce(PlatformEndpoints platform) throws Exception {
        fixture = new ServingFixture(platform, 1);
        fixture.publish(assistant("assistant", 4));
        ServingConfig config = configThroughProxy(platform);
        proxy.open();
        List<String> sent = IntStream.range(0, 3).mapToObj(i -> "parked-" + i).toList();
        try (ServingApp app = new ServingApp(config, new EchoAnswerer(), meters)) {
            await().atMost(TIMEOUT).until(() -> app.state() == KafkaStreams.State.RUNNING);
            proxy.shut();
            for (String id : sent) {
                fixture.send(assistantRequest(id, "assistant"));
            }
            await().atMost(TIMEOUT).until(() -> registryWaits() >= 1);
        } // closed with the requests parked: their offsets are committed, the queue is in the changelog

        proxy.open();
        var restartMeters = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        try (ServingApp app = new ServingApp(config, new EchoAnswerer(), restartMeters)) {
            List<Answer> answers = fixture.awaitAnswers(sent.size(), TIMEOUT);
            assertThat(ids(answers)).containsExactlyElementsOf(sent);
            assertThat(fixture.awaitAnswers(1, Duration.ofMillis(500))).as("each answered once").isEmpty();
            assertThat(fixture.awaitDeadLetters(1, Duration.ofMillis(500))).isEmpty();
        }
    }

    /** {@code adapter} with an infinity in its table. */
    private static io.tunestream.schemas.AdapterVersion withInfinity(io.tunestream.schemas.AdapterVersion adapter) {
        var data = adapter.getTable().getData().duplicate().order(java.nio.ByteOrder.LITTLE_ENDIAN);
        var copy = java.nio.ByteBuffer.allocate(data.remaining()).order(java.nio.ByteOrder.LITTLE_ENDIAN).put(data);
        copy.putFloat(0, Float.POSITIVE_INFINITY).flip();
        adapter.getTable().setData(copy);
        return adapter;
    }

    private static String header(org.apache.kafka.clients.consumer.ConsumerRecord<byte[], byte[]> record,
                                 String name) {
        return new String(record.headers().lastHeader(name).value(), StandardCharsets.UTF_8);
    }

    private static void sendRaw(PlatformEndpoints platform, String topic, String key, byte[] value) throws Exception {
        try (var raw = new org.apache.kafka.clients.producer.KafkaProducer<byte[], byte[]>(
                java.util.Map.of("bootstrap.servers", platform.bootstrapServers()),
                new org.apache.kafka.common.serialization.ByteArraySerializer(),
                new org.apache.kafka.common.serialization.ByteArraySerializer())) {
            raw.send(new org.apache.kafka.clients.producer.ProducerRecord<>(topic,
                    key.getBytes(StandardCharsets.UTF_8), value)).get(30, TimeUnit.SECONDS);
        }
    }

    @Test
    void shouldQueueRequestsWithAColdSchemaCacheDuringAnOutageAndReportDegraded(PlatformEndpoints platform)
            throws Exception {
        fixture = new ServingFixture(platform, 1);
        fixture.publish(assistant("assistant", 4));
        ServingConfig config = configThroughProxy(platform);
        proxy.open();
        try (ServingApp app = new ServingApp(config, new EchoAnswerer(), meters)) {
            await().atMost(TIMEOUT).until(() -> app.state() == KafkaStreams.State.RUNNING);
            proxy.shut();
            List<String> sent = IntStream.range(0, 5).mapToObj(i -> "during-" + i).toList();
            for (String id : sent) {
                fixture.send(assistantRequest(id, "assistant"));
            }

            await().atMost(TIMEOUT).until(() -> registryWaits() >= 1);
            var ready = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                    URI.create("http://127.0.0.1:" + app.opsPort() + "/health/ready")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(ready.statusCode()).isEqualTo(503);
            assertThat(ready.body()).startsWith("{\"status\":\"DEGRADED\",\"state\":\"RUNNING\","
                    + "\"degraded\":\"registry unreachable since ").contains("of " + fixture.topics.requests());
            assertThat(fixture.awaitAnswers(1, Duration.ofSeconds(1))).isEmpty();

            proxy.open();
            List<Answer> answers = fixture.awaitAnswers(sent.size(), TIMEOUT);
            assertThat(ids(answers)).as("all answered, in order").containsExactlyElementsOf(sent);
            assertThat(answers).allSatisfy(a -> assertThat(a.getError()).isNull());
            assertThat(fixture.awaitDeadLetters(1, Duration.ofSeconds(1))).isEmpty();
            await().atMost(TIMEOUT).until(() -> HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                    URI.create("http://127.0.0.1:" + app.opsPort() + "/health/ready")).build(),
                    HttpResponse.BodyHandlers.ofString()).statusCode() == 200);
        }
    }

    @Test
    void shouldNotHoldTheStreamThreadWhileTheRegistryHangsAndAnswerEveryRequestOnceItAnswers(
            PlatformEndpoints platform) throws Exception {
        fixture = new ServingFixture(platform, 1);
        fixture.publish(assistant("assistant", 4));
        ServingConfig config = configThroughProxy(platform);
        proxy.open();
        try (ServingApp app = new ServingApp(config, new EchoAnswerer(), meters)) {
            await().atMost(TIMEOUT).until(() -> app.state() == KafkaStreams.State.RUNNING);
            proxy.stall();
            List<String> sent = IntStream.range(0, 4).mapToObj(i -> "hung-" + i).toList();
            for (String id : sent) {
                fixture.send(assistantRequest(id, "assistant"));
            }

            // each wait is a decode attempt that came back: a stream thread held by the hung registry
            // would make none after the first, and lose its transaction after 10 s (5 attempts take over 11 s)
            await().atMost(Duration.ofSeconds(25)).until(() -> registryWaits() >= 5);
            assertThat(app.state()).isEqualTo(KafkaStreams.State.RUNNING);
            assertThat(fixture.awaitDeadLetters(1, Duration.ofMillis(500))).isEmpty();

            proxy.open();
            List<Answer> answers = fixture.awaitAnswers(sent.size(), TIMEOUT);
            assertThat(ids(answers)).as("each answered, in order").containsExactlyElementsOf(sent);
            assertThat(fixture.awaitAnswers(1, Duration.ofMillis(500))).as("and only once").isEmpty();
            assertThat(fixture.awaitDeadLetters(1, Duration.ofMillis(500))).isEmpty();
        }
    }

    /**
     * The start skips the schema check only when the registry gives no answer: one that answers without a
     * schema of the app's topics still stops the start, naming the artifact and the setup step.
     */
    @Test
    void shouldRefuseToStartWhenTheRegistryAnswersWithoutASchemaOfItsTopics(PlatformEndpoints platform)
            throws Exception {
        fixture = new ServingFixture(platform, 1);
        String artifact = fixture.topics.requests() + "-value";
        HttpResponse<String> deleted = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(
                platform.registryUrl() + "/apis/registry/v3/groups/default/artifacts/" + artifact)).DELETE().build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(deleted.statusCode()).as(deleted.body()).isEqualTo(204);
        ServingConfig config = ServingConfig.fromMap(fixture.config(4, 50));

        assertThatThrownBy(() -> new ServingApp(config, new EchoAnswerer(), meters).close())
                .isInstanceOf(KafkaPreflight.KafkaPreflightException.class)
                .hasMessageContaining("schemas [" + artifact + "] are not registered")
                .hasMessageContaining("ingest setup");
    }
}

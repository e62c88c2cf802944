package io.tunestream.schemas.kafka;

import static org.assertj.core.api.Assertions.assertThat;

import io.tunestream.devkit.PlatformEndpoints;
import io.tunestream.devkit.junit.LocalPlatformExtension;
import io.tunestream.schemas.AdapterVersion;
import io.tunestream.schemas.DType;
import io.tunestream.schemas.TopicSpec;
import io.tunestream.schemas.Topics;
import io.tunestream.schemas.TopicsAdmin;
import io.tunestream.schemas.registry.AvroSerdes;
import io.tunestream.schemas.registry.RegistryConfig;
import io.tunestream.schemas.registry.SchemaRegistration;
import io.tunestream.schemas.tensor.TensorCodec;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.UUID;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** Adapters bigger than Kafka's 1 MiB default go through the real broker with the Apicurio serdes. */
@ExtendWith(LocalPlatformExtension.class)
class LargeAdapterRoundTripIT {

    private static final int ROWS = 100;
    private static final int HIDDEN = 4096; // 100 × 4096 floats = 1.6 MB as FLOAT32

    private static TopicSpec adaptersTopic() {
        return Topics.ADAPTERS.withName("adapters-" + UUID.randomUUID());
    }

    private static float[] table() {
        Random random = new Random(7);
        float[] values = new float[ROWS * HIDDEN];
        for (int i = 0; i < values.length; i++) {
            values[i] = (float) random.nextGaussian();
        }
        return values;
    }

    @Test
    void shouldCreateCatalogueTopicsOnceWithCompactionAndLargeMessages(PlatformEndpoints platform) throws Exception {
        KafkaClientConfig kafka = new KafkaClientConfig(platform.bootstrapServers(),
                RegistryConfig.forRegistry(platform.registryUrl()));
        TopicSpec topic = adaptersTopic();
        try (Admin admin = Admin.create(kafka.adminProperties())) {
            TopicsAdmin topics = new TopicsAdmin(admin, TopicsAdmin.Layout.catalogue(), Duration.ofSeconds(30));

            assertThat(topics.ensure(List.of(topic))).containsExactly(topic.name());
            assertThat(topics.ensure(List.of(topic))).isEmpty();

            ConfigResource resource = new ConfigResource(ConfigResource.Type.TOPIC, topic.name());
            Config config = admin.describeConfigs(List.of(resource)).all().get().get(resource);
            assertThat(config.get("cleanup.policy").value()).isEqualTo("compact");
            assertThat(config.get("max.message.bytes").value()).isEqualTo(String.valueOf(Topics.LARGE_MESSAGE_BYTES));
        }
    }

    @Test
    void shouldRoundTripMultiMegabyteAdaptersInFloat32AndFloat16(PlatformEndpoints platform) throws Exception {
        RegistryConfig registry = RegistryConfig.forRegistry(platform.registryUrl());
        KafkaClientConfig kafka = new KafkaClientConfig(platform.bootstrapServers(), registry);
        TopicSpec topic = adaptersTopic();
        try (Admin admin = Admin.create(kafka.adminProperties())) {
            new TopicsAdmin(admin, TopicsAdmin.Layout.catalogue(), Duration.ofSeconds(30)).ensure(List.of(topic));
        }
        new SchemaRegistration(registry).registerAll(List.of(topic));
        float[] table = table();
        AdapterVersion fp32 = adapter(1, TensorCodec.encodeMatrix("table", table, ROWS, HIDDEN, DType.FLOAT32));
        AdapterVersion fp16 = adapter(2, TensorCodec.encodeMatrix("table", table, ROWS, HIDDEN, DType.FLOAT16));

        try (KafkaProducer<String, AdapterVersion> producer = new KafkaProducer<>(
                kafka.producerProperties("adapter-test"), new StringSerializer(), AvroSerdes.serializer(registry))) {
            producer.send(new ProducerRecord<>(topic.name(), "squad", fp32)).get();
            producer.send(new ProducerRecord<>(topic.name(), "squad", fp16)).get();
        }
        List<AdapterVersion> received = new ArrayList<>();
        try (KafkaConsumer<String, AdapterVersion> consumer = new KafkaConsumer<>(
                kafka.consumerProperties("adapter-test", null), new StringDeserializer(),
                AvroSerdes.deserializer(AdapterVersion.class, registry))) {
            consumer.assign(List.of(new TopicPartition(topic.name(), 0)));
            long deadline = System.currentTimeMillis() + 30_000;
            while (received.size() < 2 && System.currentTimeMillis() < deadline) {
                for (ConsumerRecord<String, AdapterVersion> record : consumer.poll(Duration.ofMillis(200))) {
                    received.add(record.value());
                }
            }
        }

        assertThat(fp32.getTable().getData().remaining()).isGreaterThan(1024 * 1024);
        assertThat(received).extracting(AdapterVersion::getVersion).containsExactly(1, 2);
        assertThat(TensorCodec.decode(received.get(0).getTable())).isEqualTo(table);
        float[] halves = TensorCodec.decode(received.get(1).getTable());
        assertThat(halves).hasSize(table.length);
        assertThat(halves[12345]).isEqualTo(TensorCodec.decode(fp16.getTable())[12345]);
        // the serializer used the schema registered at start-up instead of adding a version
        assertThat(versionCount(platform, topic.name() + "-value")).isEqualTo(1);
    }

    private static AdapterVersion adapter(int version, io.tunestream.schemas.Tensor table) {
        return AdapterVersion.newBuilder().setTask("squad").setVersion(version).setModelFingerprint("sha256:test")
                .setHiddenSize(HIDDEN).setTable(table).setVirtualTokenSplits(List.of(ROWS)).build();
    }

    private static int versionCount(PlatformEndpoints platform, String artifactId) throws Exception {
        HttpResponse<String> response = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(
                platform.registryApiUrl() + "/groups/default/artifacts/" + artifactId + "/versions")).build(),
                HttpResponse.BodyHandlers.ofString());
        Map<?, ?> body = new com.fasterxml.jackson.databind.ObjectMapper().readValue(response.body(), Map.class);
        return ((Number) body.get("count")).intValue();
    }
}

package io.tunestream.trainer.service;

import io.quarkus.test.common.QuarkusTestResourceLifecycleManager;
import io.tunestream.devkit.LocalPlatform;
import io.tunestream.trainer.testing.Fixtures;
import java.util.Map;

/** Starts a local platform (KRaft broker + Apicurio Registry) for a Quarkus test and points the trainer at it. */
public class LocalPlatformResource implements QuarkusTestResourceLifecycleManager {

    /** The id the trainer signs under; the public key is {@code trainer.pub.pem} next to the private key file. */
    static final String SIGNING_KEY_ID = "quarkus-test";

    private LocalPlatform platform;

    @Override
    public Map<String, String> start() {
        platform = LocalPlatform.start();
        // the trainer checks its topics and schemas at start; setup (here, as `ingest setup` would) creates them
        var topics = new io.tunestream.trainer.loop.TrainerTopics("quarkus-").specs();
        var kafka = new io.tunestream.schemas.kafka.KafkaClientConfig(platform.endpoints().bootstrapServers(),
                io.tunestream.schemas.registry.RegistryConfig.forRegistry(platform.endpoints().registryUrl()));
        try (var admin = org.apache.kafka.clients.admin.Admin.create(kafka.adminProperties())) {
            new io.tunestream.schemas.TopicsAdmin(admin, io.tunestream.schemas.TopicsAdmin.Layout.catalogue(),
                    java.time.Duration.ofSeconds(30)).ensure(topics);
        }
        new io.tunestream.schemas.registry.SchemaRegistration(kafka.registry()).registerAll(topics);
        // the trainer signs what it publishes, as in production; the public key next to it for the tests to verify
        java.nio.file.Path privateKey;
        try {
            java.nio.file.Path keys = java.nio.file.Files.createTempDirectory("tunestream-trainer-keys");
            privateKey = keys.resolve("trainer.pem");
            var pair = io.tunestream.schemas.adapters.AdapterKeys.generate();
            io.tunestream.schemas.adapters.AdapterKeys.writePem(pair.getPrivate(), privateKey);
            io.tunestream.schemas.adapters.AdapterKeys.writePem(pair.getPublic(), keys.resolve("trainer.pub.pem"));
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        return Map.of(
                "tunestream.adapters-signing-key", privateKey.toString(),
                "tunestream.adapters-signing-key-id", SIGNING_KEY_ID,
                "tunestream.bootstrap-servers", platform.endpoints().bootstrapServers(),
                "tunestream.registry-url", platform.endpoints().registryUrl(),
                "tunestream.model-dir", Fixtures.tinyGpt2().toString(),
                "tunestream.threads", "1",
                "tunestream.group-id", "quarkus-trainer",
                "tunestream.api-token", TrainerApiHttpTest.TOKEN,
                "tunestream.topics-prefix", "quarkus-");
    }

    @Override
    public void stop() {
        if (platform != null) {
            platform.close();
        }
    }
}

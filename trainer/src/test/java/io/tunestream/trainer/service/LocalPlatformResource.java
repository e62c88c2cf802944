package io.tunestream.trainer.service;

import io.quarkus.test.common.QuarkusTestResourceLifecycleManager;
import io.tunestream.devkit.LocalPlatform;
import io.tunestream.trainer.testing.Fixtures;
import java.util.Map;

/** Starts a local platform (KRaft broker + Apicurio Registry) for a Quarkus test and points the trainer at it. */
public class LocalPlatformResource implements QuarkusTestResourceLifecycleManager {

    private LocalPlatform platform;

    @Override
    public Map<String, String> start() {
        platform = LocalPlatform.start();
        return Map.of(
                "tunestream.bootstrap-servers", platform.endpoints().bootstrapServers(),
                "tunestream.registry-url", platform.endpoints().registryUrl(),
                "tunestream.model-dir", Fixtures.tinyGpt2().toString(),
                "tunestream.threads", "1",
                "tunestream.group-id", "quarkus-trainer",
                "tunestream.topics-prefix", "quarkus-");
    }

    @Override
    public void stop() {
        if (platform != null) {
            platform.close();
        }
    }
}

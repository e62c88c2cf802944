package io.tunestream.ingest;

import static org.assertj.core.api.Assertions.assertThat;

import io.tunestream.devkit.PlatformEndpoints;
import io.tunestream.devkit.junit.LocalPlatformExtension;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

@ExtendWith(LocalPlatformExtension.class)
class SetupCommandIT {

    @Test
    void shouldCreateEveryTopicAndRegisterEverySchemaIdempotently(PlatformEndpoints platform) {
        CliRun first = CliRun.run(platform, "setup");
        CliRun again = CliRun.run(platform, "setup");

        assertThat(first.exitCode()).as(first.err()).isZero();
        assertThat(first.out().lines()).hasSize(9)
                .anySatisfy(l -> assertThat(l).matches("adapters +(created|exists) +adapters-value v1"))
                .anySatisfy(l -> assertThat(l).matches("requests-dlq +(created|exists) +raw bytes"));
        assertThat(again.out().lines()).hasSize(9).allSatisfy(l -> assertThat(l).contains(" exists "));
        assertThat(again.out().lines().filter(l -> l.startsWith("answers "))).singleElement()
                .satisfies(l -> assertThat(l).endsWith("answers-value v1"));
    }
}

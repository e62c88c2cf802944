package io.tunestream.ingest;

import static org.assertj.core.api.Assertions.assertThat;

import io.tunestream.devkit.PlatformEndpoints;
import io.tunestream.devkit.junit.LocalPlatformExtension;
import io.tunestream.schemas.Topics;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

@ExtendWith(LocalPlatformExtension.class)
class SetupCommandIT {

    @Test
    void shouldCreateEveryTopicAndRegisterEverySchemaIdempotently(PlatformEndpoints platform) {
        CliRun first = CliRun.run(platform, "setup");
        CliRun again = CliRun.run(platform, "setup");

        assertThat(first.exitCode()).as(first.err()).isZero();
        // one line per topic of the catalogue (the input of setup)
        assertThat(first.out().lines()).hasSize(Topics.ALL.size())
                .anySatisfy(l -> assertThat(l).matches("adapters +(created|exists) +adapters-value v1"))
                .anySatisfy(l -> assertThat(l).matches("requests-dlq +(created|exists) +raw bytes"))
                .anySatisfy(l -> assertThat(l).matches("trainer-dlq +(created|exists) +raw bytes"));
        assertThat(again.out().lines()).hasSize(Topics.ALL.size()).allSatisfy(l -> assertThat(l).contains(" exists "));
        assertThat(again.out().lines().filter(l -> l.startsWith("answers "))).singleElement()
                .satisfies(l -> assertThat(l).endsWith("answers-value v1"));
    }
}

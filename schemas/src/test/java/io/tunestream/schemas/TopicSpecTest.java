package io.tunestream.schemas;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class TopicSpecTest {

    @Test
    void shouldRenameATopicKeepingItsSchemaAndConfigs() {
        TopicSpec renamed = Topics.ADAPTERS.withName("it-adapters");

        assertThat(renamed.name()).isEqualTo("it-adapters");
        assertThat(renamed).usingRecursiveComparison().ignoringFields("name").isEqualTo(Topics.ADAPTERS);
        assertThat(renamed.configs()).isEqualTo(Topics.ADAPTERS.configs()).containsEntry("cleanup.policy", "compact");
    }
}

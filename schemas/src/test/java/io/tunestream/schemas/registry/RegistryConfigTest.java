package io.tunestream.schemas.registry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class RegistryConfigTest {

    @Test
    void shouldAppendTheV3ApiPathToABaseUrl() {
        assertThat(RegistryConfig.forRegistry("http://localhost:8080").apiUrl())
                .isEqualTo("http://localhost:8080/apis/registry/v3");
        assertThat(RegistryConfig.forRegistry("http://localhost:8080/").apiUrl())
                .isEqualTo("http://localhost:8080/apis/registry/v3");
    }

    @Test
    void shouldKeepAnApiUrlGivenAsSuch() {
        assertThat(RegistryConfig.forRegistry("http://registry:8080/apis/registry/v3").apiUrl())
                .isEqualTo("http://registry:8080/apis/registry/v3");
    }

    @Test
    void shouldGiveSerdePropertiesForTopicArtifactsSpecificReaderAndWholeSchemas() {
        RegistryConfig config = RegistryConfig.forRegistry("http://localhost:8080");

        assertThat(config.serdeProperties())
                .containsEntry("apicurio.registry.url", "http://localhost:8080/apis/registry/v3")
                .containsEntry("apicurio.registry.auto-register", true)
                .containsEntry("apicurio.registry.use-specific-avro-reader", true)
                .containsEntry("apicurio.registry.dereference-schema", true)
                .containsEntry("apicurio.registry.artifact-resolver-strategy",
                        "io.apicurio.registry.serde.strategy.TopicIdStrategy");
        assertThat(config.withoutAutoRegister().serdeProperties())
                .containsEntry("apicurio.registry.auto-register", false);
    }

    @Test
    void shouldRefuseAUrlThatIsNotHttp() {
        assertThatThrownBy(() -> RegistryConfig.forRegistry("localhost:8080"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("registry API URL 'localhost:8080/apis/registry/v3' must be an http(s) URL such as "
                        + "http://localhost:8080/apis/registry/v3");
    }
}

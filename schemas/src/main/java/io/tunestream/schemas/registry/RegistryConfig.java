package io.tunestream.schemas.registry;

import io.apicurio.registry.resolver.config.SchemaResolverConfig;
import io.apicurio.registry.serde.avro.AvroSerdeConfig;
import io.apicurio.registry.serde.avro.DefaultAvroDatumProvider;
import io.apicurio.registry.serde.strategy.TopicIdStrategy;
import java.net.URI;
import java.net.URISyntaxException;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;

/**
 * How every Kafka client of Tunestream talks to the Apicurio Registry, in one place.
 *
 * <p>The serdes resolve one artifact per topic, {@code <topic>-value} in group {@code default}
 * ({@link TopicIdStrategy}), register whole schemas (nested records inlined, no references:
 * {@code apicurio.registry.dereference-schema}), so that what {@link SchemaRegistration}
 * registers at start-up is byte-for-byte what a serializer would register, and read into the
 * generated classes (specific Avro reader).
 *
 * @param apiUrl       the registry's v3 REST API root, e.g. {@code http://localhost:8080/apis/registry/v3}
 * @param autoRegister whether a serializer registers its schema (as a new version, checked by the
 *                     artifact's rules) when the registry does not have it yet
 */
public record RegistryConfig(String apiUrl, boolean autoRegister) {

    /** The path of the v3 REST API under the registry's base URL. */
    public static final String API_PATH = "/apis/registry/v3";

    public RegistryConfig {
        Objects.requireNonNull(apiUrl, "apiUrl");
        URI uri;
        try {
            uri = new URI(apiUrl);
        } catch (URISyntaxException e) {
            throw new IllegalArgumentException("registry API URL '" + apiUrl + "' is not a URL: " + e.getMessage(), e);
        }
        if (!"http".equals(uri.getScheme()) && !"https".equals(uri.getScheme()) || uri.getHost() == null) {
            throw new IllegalArgumentException("registry API URL '" + apiUrl
                    + "' must be an http(s) URL such as http://localhost:8080" + API_PATH);
        }
        apiUrl = apiUrl.endsWith("/") ? apiUrl.substring(0, apiUrl.length() - 1) : apiUrl;
    }

    /**
     * The config for a registry at {@code registryUrl}, given either as its base URL
     * ({@code http://localhost:8080}) or as its v3 API URL; serializers auto-register.
     */
    public static RegistryConfig forRegistry(String registryUrl) {
        Objects.requireNonNull(registryUrl, "registryUrl");
        String trimmed = registryUrl.endsWith("/") ? registryUrl.substring(0, registryUrl.length() - 1) : registryUrl;
        return new RegistryConfig(trimmed.endsWith(API_PATH) ? trimmed : trimmed + API_PATH, true);
    }

    /** This config with serializers that only use schemas already registered. */
    public RegistryConfig withoutAutoRegister() {
        return new RegistryConfig(apiUrl, false);
    }

    /**
     * Properties for an Apicurio Avro serializer or deserializer (also valid inside producer,
     * consumer and streams properties, where the serdes pick them up).
     */
    public Map<String, Object> serdeProperties() {
        Map<String, Object> properties = new HashMap<>();
        properties.put(SchemaResolverConfig.REGISTRY_URL, apiUrl);
        properties.put(SchemaResolverConfig.AUTO_REGISTER_ARTIFACT, autoRegister);
        properties.put(SchemaResolverConfig.AUTO_REGISTER_ARTIFACT_IF_EXISTS, "FIND_OR_CREATE_VERSION");
        properties.put(SchemaResolverConfig.ARTIFACT_RESOLVER_STRATEGY, TopicIdStrategy.class.getName());
        properties.put(SchemaResolverConfig.DEREFERENCE_SCHEMA, true);
        properties.put(AvroSerdeConfig.AVRO_DATUM_PROVIDER, DefaultAvroDatumProvider.class.getName());
        properties.put(AvroSerdeConfig.USE_SPECIFIC_AVRO_READER, true);
        return Map.copyOf(properties);
    }
}

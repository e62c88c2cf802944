package io.tunestream.schemas.registry;

import io.apicurio.registry.resolver.config.SchemaResolverConfig;
import io.apicurio.registry.serde.avro.AvroSerdeConfig;
import io.apicurio.registry.serde.avro.DefaultAvroDatumProvider;
import io.apicurio.registry.serde.strategy.TopicIdStrategy;
import java.io.IOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Function;

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
 * <p>A registry requiring OIDC is reached with {@link RegistryAuth} (client credentials): the serdes
 * get Apicurio's {@code apicurio.registry.auth.*} properties, {@link SchemaRegistration} a bearer
 * token from {@link RegistryTokens}. Services read both from the same settings ({@link #fromSettings}).
 *
 * @param apiUrl       the registry's v3 REST API root, e.g. {@code http://localhost:8080/apis/registry/v3}
 * @param autoRegister whether a serializer registers its schema (as a new version, checked by the
 *                     artifact's rules) when the registry does not have it yet
 * @param auth         how to authenticate, when the registry requires it
 */
public record RegistryConfig(String apiUrl, boolean autoRegister, Optional<RegistryAuth> auth) {

    /** The path of the v3 REST API under the registry's base URL. */
    public static final String API_PATH = "/apis/registry/v3";

    /** Whether serializers register missing schemas (default false: setup registers them, as the admin identity). */
    public static final String AUTO_REGISTER = "registry.auto.register";
    /** The OIDC token endpoint; setting it turns authentication on. */
    public static final String TOKEN_ENDPOINT = "registry.auth.token.endpoint";
    public static final String CLIENT_ID = "registry.auth.client.id";
    /** The client secret itself; prefer {@link #CLIENT_SECRET_FILE} or the environment. */
    public static final String CLIENT_SECRET = "registry.auth.client.secret";
    /** A file holding the client secret (a mounted k8s Secret). */
    public static final String CLIENT_SECRET_FILE = "registry.auth.client.secret.file";
    public static final String SCOPE = "registry.auth.scope";
    /** Every registry setting besides the URL, as services accept them. */
    public static final List<String> SETTING_KEYS = List.of(AUTO_REGISTER, TOKEN_ENDPOINT, CLIENT_ID, CLIENT_SECRET,
            CLIENT_SECRET_FILE, SCOPE);

    public RegistryConfig {
        Objects.requireNonNull(apiUrl, "apiUrl");
        Objects.requireNonNull(auth, "auth");
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

    public RegistryConfig(String apiUrl, boolean autoRegister) {
        this(apiUrl, autoRegister, Optional.empty());
    }

    /**
     * The config a service runs with: {@code registryUrl} (base or v3 API URL) and the {@link #SETTING_KEYS}
     * found in {@code settings} (absent ones take their defaults: no auto-registration, no authentication).
     *
     * @throws IllegalArgumentException naming the setting that is missing, malformed, unreadable or given twice
     */
    public static RegistryConfig fromSettings(String registryUrl, Map<String, String> settings) {
        Function<String, Optional<String>> get = key -> Optional.ofNullable(settings.get(key)).map(String::strip)
                .filter(v -> !v.isEmpty());
        boolean autoRegister = get.apply(AUTO_REGISTER).map(v -> switch (v.toLowerCase(java.util.Locale.ROOT)) {
            case "true" -> true;
            case "false" -> false;
            default -> throw new IllegalArgumentException("registry setting '" + AUTO_REGISTER
                    + "' must be true or false, was '" + v + "'");
        }).orElse(false);
        Optional<String> endpoint = get.apply(TOKEN_ENDPOINT);
        Optional<String> clientId = get.apply(CLIENT_ID);
        Optional<String> secret = get.apply(CLIENT_SECRET);
        Optional<String> secretFile = get.apply(CLIENT_SECRET_FILE);
        Optional<RegistryAuth> auth = Optional.empty();
        if (endpoint.isPresent()) {
            if (clientId.isEmpty()) {
                throw new IllegalArgumentException("registry setting '" + TOKEN_ENDPOINT + "' is set but '" + CLIENT_ID
                        + "' is not");
            }
            if (secret.isPresent() == secretFile.isPresent()) {
                throw new IllegalArgumentException("registry client '" + clientId.get() + "' needs exactly one of '"
                        + CLIENT_SECRET + "' and '" + CLIENT_SECRET_FILE + "'" + (secret.isPresent() ? ", both are set"
                        : ", neither is set"));
            }
            String clientSecret = secret.orElseGet(() -> readSecret(Path.of(secretFile.get())));
            URI uri;
            try {
                uri = new URI(endpoint.get());
            } catch (URISyntaxException e) {
                throw new IllegalArgumentException("registry setting '" + TOKEN_ENDPOINT + "' is not a URL: "
                        + e.getMessage(), e);
            }
            auth = Optional.of(new RegistryAuth(uri, clientId.get(), clientSecret, get.apply(SCOPE)));
        } else if (clientId.isPresent() || secret.isPresent() || secretFile.isPresent()) {
            throw new IllegalArgumentException("registry client credentials are set but '" + TOKEN_ENDPOINT
                    + "' is not: set the OIDC token endpoint too");
        }
        return new RegistryConfig(forRegistry(registryUrl).apiUrl(), autoRegister, auth);
    }

    /** The environment variable of a registry setting: {@code TUNESTREAM_} + the key upper-cased, dots as underscores. */
    public static String envName(String key) {
        return "TUNESTREAM_" + key.toUpperCase(java.util.Locale.ROOT).replace('.', '_');
    }

    /** {@link #fromSettings} with each setting read from its {@link #envName environment variable} in {@code env}. */
    public static RegistryConfig fromEnvironment(String registryUrl, Map<String, String> env) {
        Map<String, String> settings = new HashMap<>();
        for (String key : SETTING_KEYS) {
            String value = env.get(envName(key));
            if (value != null) {
                settings.put(key, value);
            }
        }
        return fromSettings(registryUrl, settings);
    }

    private static String readSecret(Path file) {
        try {
            String secret = Files.readString(file, StandardCharsets.UTF_8).strip();
            if (secret.isEmpty()) {
                throw new IllegalArgumentException("registry setting '" + CLIENT_SECRET_FILE + "': " + file
                        + " is empty");
            }
            return secret;
        } catch (IOException e) {
            throw new IllegalArgumentException("registry setting '" + CLIENT_SECRET_FILE + "': " + file
                    + " cannot be read: " + e, e);
        }
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
        return new RegistryConfig(apiUrl, false, auth);
    }

    /** This config authenticating with {@code credentials}. */
    public RegistryConfig withAuth(RegistryAuth credentials) {
        return new RegistryConfig(apiUrl, autoRegister, Optional.of(credentials));
    }

    /** For start-up logs: URL, auto-registration and client id, never the secret. */
    public String describe() {
        return apiUrl + " (auto-register " + (autoRegister ? "on" : "off") + ", "
                + auth.map(a -> "client '" + a.clientId() + "' via " + a.tokenEndpoint()).orElse("no authentication")
                + ")";
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
        auth.ifPresent(a -> {
            properties.put(SchemaResolverConfig.AUTH_TOKEN_ENDPOINT, a.tokenEndpoint().toString());
            properties.put(SchemaResolverConfig.AUTH_CLIENT_ID, a.clientId());
            properties.put(SchemaResolverConfig.AUTH_CLIENT_SECRET, a.clientSecret());
            a.scope().ifPresent(scope -> properties.put(SchemaResolverConfig.AUTH_CLIENT_SCOPE, scope));
        });
        return Map.copyOf(properties);
    }
}

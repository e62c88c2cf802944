package io.tunestream.schemas.kafka;

import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.apache.kafka.common.security.auth.SecurityProtocol;

/**
 * The Kafka client settings every Tunestream client shares (Streams, producers, consumers and
 * admin clients of serving, trainer, ingest and local): {@code security.protocol}, {@code sasl.*},
 * {@code ssl.*} and any other client key, validated once at start and handed to every client by
 * {@link KafkaClientConfig}.
 *
 * <p>Besides Kafka's own keys, three conveniences keep secrets out of command lines and config
 * files: {@code sasl.username} with {@code sasl.password} (or {@code sasl.password.file}) become
 * the {@code sasl.jaas.config} of the SCRAM or PLAIN login module named by {@code sasl.mechanism};
 * and any key ending in {@code .password.file} (e.g. {@code ssl.truststore.password.file}) is read
 * from that file into the key without {@code .file}.
 *
 * <p>Sources, later ones winning: the properties file named by {@code TUNESTREAM_KAFKA_CONFIG}
 * (Kafka's client-properties format: plain client keys), the service's own {@code kafka.*}
 * settings, then the environment variables {@code TUNESTREAM_KAFKA_} + key upper-cased with
 * {@code _} for the keys of {@link #ENVIRONMENT_KEYS}.
 *
 * <p>{@link #toString()} and {@link #describe()} never show a secret: they name the protocol and
 * the principal only.
 */
public final class KafkaClientSettings {

    /** Environment variable naming a client-properties file. */
    public static final String CONFIG_FILE_ENV = "TUNESTREAM_KAFKA_CONFIG";
    public static final String USERNAME = "sasl.username";
    public static final String PASSWORD = "sasl.password";
    private static final String FILE_SUFFIX = ".file";
    private static final String JAAS = "sasl.jaas.config";
    private static final String PROTOCOL = "security.protocol";
    private static final String MECHANISM = "sasl.mechanism";
    private static final List<String> STORE_LOCATIONS = List.of("ssl.truststore.location", "ssl.keystore.location");
    private static final Pattern JAAS_USERNAME = Pattern.compile("username\\s*=\\s*\"([^\"]*)\"");

    /** Client keys that may also come from the environment ({@code TUNESTREAM_KAFKA_SECURITY_PROTOCOL}, …). */
    public static final Set<String> ENVIRONMENT_KEYS = Set.of(PROTOCOL, MECHANISM, USERNAME, PASSWORD,
            PASSWORD + FILE_SUFFIX, JAAS, "ssl.truststore.location", "ssl.truststore.type", "ssl.truststore.password",
            "ssl.truststore.password.file", "ssl.keystore.location", "ssl.keystore.type", "ssl.keystore.password",
            "ssl.keystore.password.file", "ssl.key.password", "ssl.key.password.file",
            "ssl.endpoint.identification.algorithm");

    private static final KafkaClientSettings NONE = new KafkaClientSettings(Map.of(), "PLAINTEXT", "User:ANONYMOUS");

    private final Map<String, String> properties;
    private final String protocol;
    private final String principal;

    private KafkaClientSettings(Map<String, String> properties, String protocol, String principal) {
        this.properties = properties;
        this.protocol = protocol;
        this.principal = principal;
    }

    /** No settings: PLAINTEXT, as Kafka's clients default to. */
    public static KafkaClientSettings none() {
        return NONE;
    }

    /** The client properties to add to every client's (secrets resolved; do not log them). */
    public Map<String, String> properties() {
        return properties;
    }

    /** {@code security.protocol}: PLAINTEXT unless set. */
    public String protocol() {
        return protocol;
    }

    /**
     * Who the broker will see, as far as the client knows: {@code User:<sasl user>} for SASL, the
     * keystore's certificate for SSL with a keystore, else {@code User:ANONYMOUS}.
     */
    public String principal() {
        return principal;
    }

    /** For start-up logs: protocol and principal, never a secret. */
    public String describe() {
        String mechanism = properties.get(MECHANISM);
        return protocol + " as " + principal + (protocol.startsWith("SASL") && mechanism != null ? " (" + mechanism + ")" : "");
    }

    @Override
    public String toString() {
        return "KafkaClientSettings[" + describe() + ", keys " + new java.util.TreeSet<>(properties.keySet()) + "]";
    }

    /**
     * Settings from the file named by {@code TUNESTREAM_KAFKA_CONFIG} (when set), then {@code
     * settings} (plain client keys, e.g. a service's {@code kafka.*} without the prefix), then the
     * {@code TUNESTREAM_KAFKA_*} variables of {@code env}.
     *
     * @throws IllegalArgumentException naming the key (or file) of a bad value
     */
    public static KafkaClientSettings load(Map<String, String> settings, Map<String, String> env) {
        Map<String, String> merged = new LinkedHashMap<>();
        Optional.ofNullable(env.get(CONFIG_FILE_ENV)).filter(f -> !f.isBlank())
                .ifPresent(file -> merged.putAll(readFile(Path.of(file), CONFIG_FILE_ENV)));
        merged.putAll(settings);
        for (String key : ENVIRONMENT_KEYS) {
            String value = env.get(envName(key));
            if (value != null) {
                merged.put(key, value);
            }
        }
        return of(merged);
    }

    /** Settings from a client-properties file, e.g. one handed out by {@code ./tunestream local --secure}. */
    public static KafkaClientSettings fromFile(Path file, String origin) {
        return of(readFile(file, origin));
    }

    /** Environment variable of {@code key}: {@code TUNESTREAM_KAFKA_} + key upper-cased, dots as {@code _}. */
    public static String envName(String key) {
        return "TUNESTREAM_KAFKA_" + key.toUpperCase(Locale.ROOT).replace('.', '_').replace('-', '_');
    }

    /**
     * Validates {@code settings} (plain client keys) and resolves their secrets.
     *
     * @throws IllegalArgumentException naming the key of a bad value: unknown protocol, unreadable
     *                                  secret file, missing keystore or truststore, username without password
     */
    public static KafkaClientSettings of(Map<String, String> settings) {
        Map<String, String> properties = new LinkedHashMap<>();
        settings.forEach((key, value) -> {
            Objects.requireNonNull(value, key);
            if (key.endsWith(".password" + FILE_SUFFIX)) {
                properties.put(key.substring(0, key.length() - FILE_SUFFIX.length()), readSecret(key, value));
            } else {
                properties.put(key, value.trim());
            }
        });
        // a secret given both directly and by file is ambiguous, whichever source set it: refuse it
        settings.keySet().stream().filter(k -> k.endsWith(".password" + FILE_SUFFIX))
                .map(k -> k.substring(0, k.length() - FILE_SUFFIX.length()))
                .filter(settings::containsKey)
                .findFirst().ifPresent(k -> {
                    throw new IllegalArgumentException("kafka setting '" + k + "' is given twice: directly and in '"
                            + k + FILE_SUFFIX + "'; keep one");
                });

        String protocol = properties.getOrDefault(PROTOCOL, "PLAINTEXT").toUpperCase(Locale.ROOT);
        if (!SecurityProtocol.names().contains(protocol)) {
            throw new IllegalArgumentException("kafka setting '" + PROTOCOL + "' (env " + envName(PROTOCOL)
                    + "): unknown protocol '" + properties.get(PROTOCOL) + "'; one of " + SecurityProtocol.names());
        }
        if (properties.containsKey(PROTOCOL)) {
            properties.put(PROTOCOL, protocol);
        }
        for (String location : STORE_LOCATIONS) {
            String file = properties.get(location);
            if (file != null && !Files.isReadable(Path.of(file))) {
                throw new IllegalArgumentException("kafka setting '" + location + "' (env " + envName(location)
                        + "): file " + Path.of(file).toAbsolutePath() + " does not exist or cannot be read");
            }
        }
        String username = properties.remove(USERNAME);
        String password = properties.remove(PASSWORD);
        if (username != null) {
            if (password == null) {
                throw new IllegalArgumentException("kafka setting '" + USERNAME + "' is set but neither '" + PASSWORD
                        + "' nor '" + PASSWORD + FILE_SUFFIX + "' is");
            }
            if (properties.containsKey(JAAS)) {
                throw new IllegalArgumentException("kafka settings '" + USERNAME + "' and '" + JAAS + "' are both set; keep one");
            }
            properties.put(JAAS, jaasConfig(properties.getOrDefault(MECHANISM, "GSSAPI"), username, password));
        } else if (password != null) {
            throw new IllegalArgumentException("kafka setting '" + PASSWORD + "' is set without '" + USERNAME + "'");
        }
        String mechanism = properties.getOrDefault(MECHANISM, "GSSAPI").toUpperCase(Locale.ROOT);
        if (protocol.startsWith("SASL") && !properties.containsKey(JAAS)
                && (mechanism.startsWith("SCRAM-") || mechanism.equals("PLAIN"))) {
            throw new IllegalArgumentException("kafka settings: " + PROTOCOL + "=" + protocol + " with " + MECHANISM + "="
                    + mechanism + " needs '" + USERNAME + "' and '" + PASSWORD + FILE_SUFFIX + "' (env "
                    + envName(USERNAME) + ", " + envName(PASSWORD + FILE_SUFFIX) + ") or '" + JAAS + "'");
        }
        return new KafkaClientSettings(Map.copyOf(properties), protocol, principalOf(protocol, username, properties));
    }

    private static String principalOf(String protocol, String username, Map<String, String> properties) {
        if (protocol.startsWith("SASL")) {
            if (username != null) {
                return "User:" + username;
            }
            Matcher m = JAAS_USERNAME.matcher(properties.getOrDefault(JAAS, ""));
            return m.find() ? "User:" + m.group(1) : "a SASL user (see " + JAAS + ")";
        }
        if (protocol.equals("SSL") && properties.containsKey("ssl.keystore.location")) {
            return "the certificate in " + properties.get("ssl.keystore.location");
        }
        return "User:ANONYMOUS";
    }

    private static String jaasConfig(String mechanism, String username, String password) {
        String module = switch (mechanism.toUpperCase(Locale.ROOT)) {
            case "SCRAM-SHA-256", "SCRAM-SHA-512" -> "org.apache.kafka.common.security.scram.ScramLoginModule";
            case "PLAIN" -> "org.apache.kafka.common.security.plain.PlainLoginModule";
            default -> throw new IllegalArgumentException("kafka setting '" + USERNAME + "' needs '" + MECHANISM
                    + "' SCRAM-SHA-512, SCRAM-SHA-256 or PLAIN, was " + mechanism);
        };
        return module + " required username=\"" + quote(username) + "\" password=\"" + quote(password) + "\";";
    }

    private static String quote(String value) {
        return value.replace("\\", "\\\\").replace("\"", "\\\"");
    }

    private static String readSecret(String key, String file) {
        try {
            return Files.readString(Path.of(file), StandardCharsets.UTF_8).strip();
        } catch (IOException | RuntimeException e) {
            throw new IllegalArgumentException("kafka setting '" + key + "' (env " + envName(key) + "): secret file "
                    + Path.of(file).toAbsolutePath() + " cannot be read (" + e.getClass().getSimpleName() + ")", e);
        }
    }

    /**
     * The plain client keys of a client-properties file.
     *
     * @throws IllegalArgumentException naming {@code origin} and the file when it cannot be read
     */
    public static Map<String, String> readProperties(Path file, String origin) {
        return readFile(file, origin);
    }

    private static Map<String, String> readFile(Path file, String origin) {
        Properties properties = new Properties();
        try (Reader reader = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            properties.load(reader);
        } catch (IOException e) {
            throw new IllegalArgumentException(origin + ": Kafka client properties file " + file.toAbsolutePath()
                    + " cannot be read (" + e.getClass().getSimpleName() + ")", e);
        }
        return properties.stringPropertyNames().stream()
                .collect(Collectors.toMap(k -> k, k -> properties.getProperty(k).trim(), (a, b) -> b, LinkedHashMap::new));
    }
}

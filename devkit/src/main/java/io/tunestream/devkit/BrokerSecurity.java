package io.tunestream.devkit;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

/**
 * The secured variant of {@link EmbeddedKafka}: one SASL_SSL listener (SCRAM-SHA-512 over TLS)
 * for clients, an SSL controller listener with mutual TLS, KRaft's {@code StandardAuthorizer}
 * (no ACL, no access), and a super user whose SCRAM credential is written into the metadata when
 * the storage is formatted (KIP-900), so it exists before the broker takes its first request.
 *
 * <p>The TLS material lives in {@code directory} and is generated once (JDK {@code keytool}: a
 * self-signed certificate for {@code CN=tunestream-broker} valid for 127.0.0.1 and localhost), then
 * reused by every start; so are the store and super-user passwords (files readable by the owner
 * only). Per-service users are added to a running broker with {@link EmbeddedKafka#createScramUser}.
 *
 * @param directory where the keystore, truststore and passwords are kept
 * @param superUser name of the SCRAM super user (the admin/setup principal and inter-broker user)
 */
public record BrokerSecurity(Path directory, String superUser) {

    public static final String MECHANISM = "SCRAM-SHA-512";
    /** The principal of the broker's own certificate, which the controller listener sees. */
    public static final String BROKER_PRINCIPAL = "User:CN=tunestream-broker";
    private static final Pattern USER_NAME = Pattern.compile("[A-Za-z0-9._-]+");
    private static final String KEYSTORE = "broker.p12";
    private static final String TRUSTSTORE = "truststore.p12";
    private static final String STORE_PASSWORD = "store.password";

    public BrokerSecurity {
        Objects.requireNonNull(directory, "directory");
        requireUserName(superUser);
        directory = directory.toAbsolutePath();
    }

    /** Certificates in {@code directory}, super user {@code admin}. */
    public static BrokerSecurity in(Path directory) {
        return new BrokerSecurity(directory, "admin");
    }

    static void requireUserName(String name) {
        if (name == null || !USER_NAME.matcher(name).matches()) {
            throw new IllegalArgumentException("a SCRAM user name is letters, digits, '.', '_' or '-', was '" + name + "'");
        }
    }

    public Path keystore() {
        return directory.resolve(KEYSTORE);
    }

    /** The truststore clients need (PKCS12; its password in {@link #truststorePasswordFile()}). */
    public Path truststore() {
        return directory.resolve(TRUSTSTORE);
    }

    public Path truststorePasswordFile() {
        return directory.resolve(STORE_PASSWORD);
    }

    public Path passwordFile(String user) {
        requireUserName(user);
        return directory.resolve("users").resolve(user + ".password");
    }

    /**
     * Generates what is missing: store password, keystore and truststore, the super user's
     * password. Idempotent; a second call only reads.
     */
    public synchronized BrokerSecurity ensureMaterial() {
        try {
            Files.createDirectories(directory.resolve("users"));
            if (!Files.exists(truststorePasswordFile())) {
                writeSecret(truststorePasswordFile(), randomSecret());
            }
            if (!Files.exists(keystore()) || !Files.exists(truststore())) {
                generateCertificate();
            }
            if (!Files.exists(passwordFile(superUser))) {
                writeSecret(passwordFile(superUser), randomSecret());
            }
            return this;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot prepare the broker's TLS material in " + directory, e);
        }
    }

    String storePassword() {
        return readSecret(truststorePasswordFile());
    }

    String superUserPassword() {
        return readSecret(passwordFile(superUser));
    }

    /** The formatter's {@code --add-scram} argument for the super user (KIP-900). */
    String scramBootstrapArgument() {
        return MECHANISM + "=[name=" + superUser + ",password=" + superUserPassword() + "]";
    }

    /** Broker settings for the listeners, TLS, SASL and the authorizer. */
    Map<String, String> brokerProperties(String clientListener, String controllerListener, String host, int port,
                                         int controllerPort) {
        String storePassword = storePassword();
        Map<String, String> properties = new LinkedHashMap<>();
        properties.put("listeners", clientListener + "://" + host + ":" + port + "," + controllerListener + "://" + host
                + ":" + controllerPort);
        properties.put("advertised.listeners", clientListener + "://" + host + ":" + port);
        properties.put("inter.broker.listener.name", clientListener);
        properties.put("listener.security.protocol.map", clientListener + ":SASL_SSL," + controllerListener + ":SSL");
        properties.put("sasl.enabled.mechanisms", MECHANISM);
        properties.put("sasl.mechanism.inter.broker.protocol", MECHANISM);
        properties.put("listener.name." + clientListener.toLowerCase(java.util.Locale.ROOT) + "."
                + MECHANISM.toLowerCase(java.util.Locale.ROOT) + ".sasl.jaas.config", jaas(superUser, superUserPassword()));
        properties.put("ssl.keystore.type", "PKCS12");
        properties.put("ssl.keystore.location", keystore().toString());
        properties.put("ssl.keystore.password", storePassword);
        properties.put("ssl.key.password", storePassword);
        properties.put("ssl.truststore.type", "PKCS12");
        properties.put("ssl.truststore.location", truststore().toString());
        properties.put("ssl.truststore.password", storePassword);
        // the controller listener authenticates the broker (its only client) by its certificate
        properties.put("listener.name." + controllerListener.toLowerCase(java.util.Locale.ROOT) + ".ssl.client.auth",
                "required");
        properties.put("authorizer.class.name", "org.apache.kafka.metadata.authorizer.StandardAuthorizer");
        properties.put("super.users", "User:" + superUser + ";" + BROKER_PRINCIPAL);
        properties.put("allow.everyone.if.no.acl.found", "false");
        return properties;
    }

    /** Kafka client properties (plain Kafka keys) of {@code user} with {@code password}. */
    Map<String, Object> kafkaClientProperties(String user, String password) {
        Map<String, Object> properties = new LinkedHashMap<>();
        properties.put("security.protocol", "SASL_SSL");
        properties.put("sasl.mechanism", MECHANISM);
        properties.put("sasl.jaas.config", jaas(user, password));
        properties.put("ssl.truststore.type", "PKCS12");
        properties.put("ssl.truststore.location", truststore().toString());
        properties.put("ssl.truststore.password", storePassword());
        return properties;
    }

    /**
     * Tunestream client settings of {@code user}: secrets by file (as {@code TUNESTREAM_KAFKA_CONFIG}
     * files and the services' {@code kafka.*} settings take them), no secret in the map itself.
     */
    public Map<String, String> clientSettings(String user) {
        Map<String, String> settings = new LinkedHashMap<>();
        settings.put("security.protocol", "SASL_SSL");
        settings.put("sasl.mechanism", MECHANISM);
        settings.put("sasl.username", user);
        settings.put("sasl.password.file", passwordFile(user).toString());
        settings.put("ssl.truststore.type", "PKCS12");
        settings.put("ssl.truststore.location", truststore().toString());
        settings.put("ssl.truststore.password.file", truststorePasswordFile().toString());
        return settings;
    }

    static String jaas(String user, String password) {
        return "org.apache.kafka.common.security.scram.ScramLoginModule required username=\"" + user
                + "\" password=\"" + password + "\";";
    }

    static String randomSecret() {
        SecureRandom random = new SecureRandom();
        String alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
        StringBuilder secret = new StringBuilder();
        for (int i = 0; i < 24; i++) {
            secret.append(alphabet.charAt(random.nextInt(alphabet.length())));
        }
        return secret.toString();
    }

    static void writeSecret(Path file, String secret) throws IOException {
        Path temporary = file.resolveSibling(file.getFileName() + ".tmp");
        Files.writeString(temporary, secret + "\n", StandardCharsets.UTF_8);
        try {
            Files.setPosixFilePermissions(temporary, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
        } catch (UnsupportedOperationException e) {
            // not a POSIX file system: the directory's own permissions protect it
        }
        Files.move(temporary, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    static String readSecret(Path file) {
        try {
            return Files.readString(file, StandardCharsets.UTF_8).strip();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the secret file " + file, e);
        }
    }

    /** keytool makes the key pair and self-signed certificate; the truststore is written here from it. */
    private void generateCertificate() throws IOException {
        String password = storePassword();
        Path keystore = directory.resolve(KEYSTORE + ".tmp");
        Files.deleteIfExists(keystore);
        Path keytool = Path.of(System.getProperty("java.home"), "bin", "keytool");
        List<String> command = List.of(keytool.toString(), "-genkeypair", "-alias", "broker", "-keyalg", "EC",
                "-groupname", "secp256r1", "-sigalg", "SHA256withECDSA", "-dname", "CN=tunestream-broker",
                "-ext", "SAN=ip:127.0.0.1,dns:localhost", "-validity", "3650", "-storetype", "PKCS12",
                "-keystore", keystore.toString(), "-storepass:file", truststorePasswordFile().toString(),
                "-keypass:file", truststorePasswordFile().toString());
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        try {
            String output;
            try (InputStream out = process.getInputStream()) {
                output = new String(out.readAllBytes(), StandardCharsets.UTF_8);
            }
            if (!process.waitFor(60, TimeUnit.SECONDS) || process.exitValue() != 0) {
                throw new IllegalStateException("keytool failed to generate the broker certificate in " + directory
                        + ": " + output.strip());
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while generating the broker certificate", e);
        }
        try {
            KeyStore keys = KeyStore.getInstance("PKCS12");
            try (InputStream in = Files.newInputStream(keystore)) {
                keys.load(in, password.toCharArray());
            }
            X509Certificate certificate = (X509Certificate) keys.getCertificate("broker");
            KeyStore trust = KeyStore.getInstance("PKCS12");
            trust.load(null, null);
            trust.setCertificateEntry("tunestream-broker", certificate);
            Path truststore = directory.resolve(TRUSTSTORE + ".tmp");
            try (OutputStream out = Files.newOutputStream(truststore)) {
                trust.store(out, password.toCharArray());
            }
            Files.move(truststore, truststore(), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            Files.move(keystore, keystore(), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("cannot write the truststore in " + directory + ": " + e, e);
        }
    }
}

package io.tunestream.local;

import io.tunestream.devkit.BrokerSecurity;
import io.tunestream.devkit.EmbeddedKafka;
import io.tunestream.devkit.PlatformEndpoints;
import io.tunestream.schemas.AccessTable;
import io.tunestream.schemas.Topics;
import io.tunestream.schemas.TopicsAdmin;
import io.tunestream.schemas.kafka.AccessGrants;
import io.tunestream.schemas.kafka.KafkaClientConfig;
import io.tunestream.schemas.kafka.KafkaClientSettings;
import io.tunestream.schemas.registry.RegistryConfig;
import io.tunestream.schemas.registry.SchemaRegistration;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.admin.Admin;

/**
 * The principals of a local platform and what they may do: on a secured broker, one SCRAM user
 * per {@link AccessTable} role ({@code serving}, {@code trainer}, {@code ingest}, {@code keda})
 * with the table's ACLs, and the super user as the admin/setup principal; on a PLAINTEXT broker,
 * every role connects as the anonymous user.
 *
 * @param admin   the admin/setup principal's client config
 * @param roles   each role's client config
 * @param files   each secured role's client-properties file (no secret inside: passwords are in
 *                files next to the certificates); empty on a PLAINTEXT broker
 */
public record PlatformPrincipals(KafkaClientConfig admin, Map<AccessTable.Role, KafkaClientConfig> roles,
                                 Map<AccessTable.Role, Path> files) {

    /** The roles that get their own user. */
    public static final List<AccessTable.Role> SERVICE_ROLES = List.of(AccessTable.Role.SERVING,
            AccessTable.Role.TRAINER, AccessTable.Role.INGEST, AccessTable.Role.KEDA);

    public PlatformPrincipals {
        roles = Map.copyOf(roles);
        files = Map.copyOf(files);
    }

    public KafkaClientConfig role(AccessTable.Role role) {
        return roles.get(role);
    }

    /** The user name of {@code role} on a secured platform ({@code serving}, {@code trainer}, …). */
    public static String userName(AccessTable.Role role) {
        return role.name().toLowerCase(Locale.ROOT);
    }

    /**
     * Creates what a platform needs before its services start, as the admin principal: every topic
     * of the catalogue and its schema, then (secured broker) one user per role with its ACLs, whose
     * client properties are written to {@code clientsDirectory}.
     */
    public static PlatformPrincipals setUp(EmbeddedKafka kafka, PlatformEndpoints endpoints, AccessTable.Names names,
                                           Path clientsDirectory, Duration timeout) {
        RegistryConfig registry = RegistryConfig.forRegistry(endpoints.registryUrl());
        KafkaClientConfig admin = new KafkaClientConfig(endpoints.bootstrapServers(), registry,
                kafka.security().map(s -> KafkaClientSettings.of(s.clientSettings(s.superUser())))
                        .orElse(KafkaClientSettings.none()));
        try (Admin client = Admin.create(admin.adminProperties())) {
            new TopicsAdmin(client, TopicsAdmin.Layout.catalogue(), timeout).ensure(Topics.ALL);
        }
        new SchemaRegistration(registry).registerAll(Topics.ALL);
        Map<AccessTable.Role, KafkaClientConfig> roles = new EnumMap<>(AccessTable.Role.class);
        Map<AccessTable.Role, Path> files = new EnumMap<>(AccessTable.Role.class);
        roles.put(AccessTable.Role.ADMIN, admin);
        if (kafka.security().isEmpty()) {
            SERVICE_ROLES.forEach(role -> roles.put(role, admin));
            return new PlatformPrincipals(admin, roles, files);
        }
        try (Admin client = Admin.create(admin.adminProperties())) {
            for (AccessTable.Role role : SERVICE_ROLES) {
                String user = userName(role);
                Map<String, String> settings = kafka.createScramUser(user, timeout);
                AccessGrants.grant(client, role, "User:" + user, names, timeout);
                roles.put(role, new KafkaClientConfig(endpoints.bootstrapServers(), registry, KafkaClientSettings.of(settings)));
                files.put(role, write(clientsDirectory.resolve(user + ".properties"), endpoints, settings, role));
            }
        }
        BrokerSecurity security = kafka.security().orElseThrow();
        files.put(AccessTable.Role.ADMIN, write(clientsDirectory.resolve(security.superUser() + ".properties"), endpoints,
                security.clientSettings(security.superUser()), AccessTable.Role.ADMIN));
        return new PlatformPrincipals(admin, roles, files);
    }

    private static Path write(Path file, PlatformEndpoints endpoints, Map<String, String> settings, AccessTable.Role role) {
        Properties properties = new Properties();
        properties.putAll(settings);
        try {
            Files.createDirectories(file.getParent());
            try (Writer writer = Files.newBufferedWriter(file, StandardCharsets.UTF_8)) {
                properties.store(writer, "Kafka client settings of the " + role + " principal on " + endpoints.bootstrapServers()
                        + " (TUNESTREAM_KAFKA_CONFIG / --kafka-config); passwords are in the files named here");
            }
            return file;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the client settings " + file, e);
        }
    }
}

package io.tunestream.ingest;

import io.tunestream.schemas.AccessTable;
import io.tunestream.schemas.TopicSpec;
import io.tunestream.schemas.Topics;
import io.tunestream.schemas.TopicsAdmin;
import io.tunestream.schemas.kafka.AccessGrants;
import io.tunestream.schemas.kafka.KafkaClientConfig;
import io.tunestream.schemas.registry.RegisteredSchema;
import io.tunestream.schemas.registry.SchemaRegistration;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import org.apache.kafka.clients.admin.Admin;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code setup}: creates every topic of the catalogue and registers every value schema. */
@Command(name = "setup", mixinStandardHelpOptions = true,
        description = {"Create Tunestream's topics (those missing) and register their value schemas with a BACKWARD "
                + "compatibility rule. Idempotent. Run it as the admin principal: the services and the other "
                + "commands only check that their topics and schemas exist."},
        footer = {"", "Examples:", "  ingest setup --partitions 1",
                "  ingest setup --kafka-config admin.properties --grant serving=User:serving --grant trainer=User:trainer "
                        + "--grant ingest=User:ingest --grant keda=User:keda"})
public final class SetupCommand implements Callable<Integer> {

    private final CliContext cli;

    @Mixin
    ConnectionOptions connection;

    @Option(names = "--partitions", paramLabel = "N", description = "Partitions of every topic (default: the catalogue's).")
    Integer partitions;

    @Option(names = "--replication-factor", paramLabel = "N", description = "Replication factor (default: the broker's).")
    Short replicationFactor;

    @Option(names = "--timeout", defaultValue = "PT30S", paramLabel = "DURATION",
            description = "How long to wait for Kafka and the registry (ISO-8601, default ${DEFAULT-VALUE}).")
    Duration timeout;

    @Option(names = "--grant", paramLabel = "ROLE=PRINCIPAL",
            description = "Also create the ACLs of ROLE (serving, trainer, ingest, keda, admin; the rows of AccessTable, "
                    + "default names) for PRINCIPAL, e.g. serving=User:serving (repeatable; needs a broker with an authorizer).")
    Map<String, String> grants = new LinkedHashMap<>();

    public SetupCommand(CliContext cli) {
        this.cli = cli;
    }

    @Override
    public Integer call() {
        KafkaClientConfig kafka = connection.kafka();
        TopicsAdmin.Layout layout = new TopicsAdmin.Layout(Optional.ofNullable(partitions),
                Optional.ofNullable(replicationFactor));
        List<String> created;
        try (Admin admin = Admin.create(kafka.adminProperties())) {
            created = new TopicsAdmin(admin, layout, timeout).ensure(Topics.ALL);
        }
        List<RegisteredSchema> schemas = new SchemaRegistration(kafka.registry()).registerAll(Topics.ALL);
        for (TopicSpec topic : Topics.ALL) {
            String schema = schemas.stream().filter(s -> s.artifactId().equals(topic.name() + "-value"))
                    .map(s -> s.artifactId() + " v" + s.version()).findFirst().orElse("raw bytes");
            cli.out().printf("%-20s %-8s %s%n", topic.name(), created.contains(topic.name()) ? "created" : "exists",
                    schema);
        }
        if (!grants.isEmpty()) {
            try (Admin admin = Admin.create(kafka.adminProperties())) {
                grants.forEach((name, principal) -> {
                    AccessTable.Role role = role(name);
                    int acls = AccessGrants.grant(admin, role, principal, AccessTable.Names.defaults(), timeout).size();
                    cli.out().printf("%-20s %-8s %d ACLs (%s)%n", principal, "granted", acls,
                            role.name().toLowerCase(java.util.Locale.ROOT));
                });
            }
        }
        cli.out().flush();
        return ExitCodes.OK;
    }

    private static AccessTable.Role role(String name) {
        try {
            return AccessTable.Role.valueOf(name.trim().toUpperCase(java.util.Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--grant " + name + "=…: unknown role '" + name + "'; one of "
                    + java.util.Arrays.stream(AccessTable.Role.values())
                    .map(r -> r.name().toLowerCase(java.util.Locale.ROOT)).toList(), e);
        }
    }
}

package io.tunestream.schemas.kafka;

import io.tunestream.schemas.TopicSpec;
import io.tunestream.schemas.registry.RegistryConfig;
import io.tunestream.schemas.registry.SchemaRegistration;
import java.time.Duration;
import java.util.Collection;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.DescribeTopicsOptions;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.common.KafkaFuture;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.errors.AuthenticationException;
import org.apache.kafka.common.errors.TopicAuthorizationException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;

/**
 * The check a service runs before it starts its clients: every topic it uses exists and its
 * principal may do what it needs there. Services check; {@code ingest setup}, run by the admin
 * principal, creates. One describe-topics call with the authorized operations answers both, so a
 * missing topic or ACL stops the start with a message naming it, instead of stream threads
 * failing and being replaced forever.
 */
public final class KafkaPreflight {

    private KafkaPreflight() {
    }

    /**
     * Checks {@code required} with an admin client of its own, made from {@code kafka}'s settings and
     * bounded by {@code timeout}; see {@link #check(Admin, KafkaClientConfig, Map, Duration)}.
     */
    public static void check(KafkaClientConfig kafka, Map<String, Set<AclOperation>> required, Duration timeout) {
        Map<String, Object> properties = new HashMap<>(kafka.adminProperties());
        int millis = (int) Math.min(Integer.MAX_VALUE, timeout.toMillis());
        properties.putIfAbsent(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, millis);
        properties.putIfAbsent(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, millis);
        try (Admin admin = Admin.create(properties)) {
            check(admin, kafka, required, timeout);
        }
    }

    /**
     * Checks that every topic of {@code required} exists and allows its operations to the caller.
     *
     * @param admin    an admin client with the service's own client settings
     * @param kafka    the service's client config (for the messages: address, protocol and principal)
     * @param required operations needed per topic (READ, WRITE)
     * @param timeout  bound of the whole check
     * @throws KafkaPreflightException naming the principal and the missing topics or operations, or why it
     *                                 could not connect (authentication, TLS, timeout)
     */
    public static void check(Admin admin, KafkaClientConfig kafka, Map<String, Set<AclOperation>> required,
                             Duration timeout) {
        String who = kafka.client().principal();
        String where = kafka.describe();
        Map<String, KafkaFuture<TopicDescription>> descriptions = admin.describeTopics(required.keySet(),
                new DescribeTopicsOptions().includeAuthorizedOperations(true)
                        .timeoutMs((int) Math.min(Integer.MAX_VALUE, timeout.toMillis()))).topicNameValues();
        long deadline = System.nanoTime() + timeout.toNanos();
        Set<String> missing = new TreeSet<>();
        List<String> denied = new ArrayList<>();
        for (Map.Entry<String, Set<AclOperation>> entry : required.entrySet()) {
            String topic = entry.getKey();
            TopicDescription description;
            try {
                description = descriptions.get(topic).get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
            } catch (ExecutionException e) {
                Throwable cause = e.getCause();
                if (cause instanceof UnknownTopicOrPartitionException) {
                    missing.add(topic);
                    continue;
                }
                if (cause instanceof TopicAuthorizationException) {
                    denied.add("DESCRIBE on topic " + topic);
                    continue;
                }
                if (cause instanceof AuthenticationException) {
                    throw new KafkaPreflightException("Kafka refused to authenticate " + who + " at " + where + ": "
                            + cause.getMessage() + " (check the credentials, truststore and security.protocol)", cause);
                }
                throw new KafkaPreflightException("cannot describe topic " + topic + " as " + who + " at " + where + ": "
                        + cause, cause);
            } catch (TimeoutException e) {
                throw new KafkaPreflightException("Kafka at " + where + " did not describe topic " + topic + " within "
                        + timeout + " (is it reachable, and is security.protocol right?)", e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new KafkaPreflightException("interrupted while checking topic " + topic, e);
            }
            Set<AclOperation> allowed = description.authorizedOperations();
            if (allowed == null) {
                continue; // the broker did not say: its ACLs will decide at first use
            }
            for (AclOperation operation : new TreeSet<>(entry.getValue())) {
                if (!allowed.contains(operation)) {
                    denied.add(operation + " on topic " + topic);
                }
            }
        }
        if (!missing.isEmpty() || !denied.isEmpty()) {
            StringBuilder message = new StringBuilder("Kafka preflight failed for " + who + " at " + where + ":");
            if (!missing.isEmpty()) {
                message.append(" missing topics ").append(missing)
                        .append(" (create them and their schemas with `ingest setup` as the admin principal);");
            }
            if (!denied.isEmpty()) {
                message.append(" not authorized: ").append(String.join(", ", denied))
                        .append(" (grant them as io.tunestream.schemas.AccessTable lists);");
            }
            throw new KafkaPreflightException(message.substring(0, message.length() - 1), null);
        }
    }

    /**
     * Checks that the value schemas of {@code topics} are registered (services and commands do not
     * register them; {@code ingest setup} does).
     *
     * @throws KafkaPreflightException naming the missing artifacts and the registry
     */
    public static void checkSchemas(RegistryConfig registry, Collection<TopicSpec> topics) {
        List<String> missing = new SchemaRegistration(registry).missingArtifacts(topics);
        if (!missing.isEmpty()) {
            throw new KafkaPreflightException("schemas " + missing + " are not registered at " + registry.apiUrl()
                    + " (register them with `ingest setup` as the admin principal)", null);
        }
    }

    /** The preflight found a missing topic or ACL, or could not reach or authenticate to the broker. */
    public static final class KafkaPreflightException extends IllegalStateException {
        public KafkaPreflightException(String message, Throwable cause) {
            super(message, cause);
        }
    }
}

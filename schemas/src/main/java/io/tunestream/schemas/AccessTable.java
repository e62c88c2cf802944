package io.tunestream.schemas;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import org.apache.kafka.common.acl.AccessControlEntry;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.acl.AclPermissionType;
import org.apache.kafka.common.resource.PatternType;
import org.apache.kafka.common.resource.ResourcePattern;
import org.apache.kafka.common.resource.ResourceType;

/**
 * Least privilege, in one table next to the topic catalogue: what each Tunestream principal may do
 * on Kafka. The local secured platform creates its ACLs from it, the services' start-up preflight
 * checks the topic rows of their role against the broker's answer, and the k8s users are meant to
 * be generated from it too.
 *
 * <p>Topics are named by the catalogue (with the deployment's prefix); groups and transactional
 * ids by prefixed patterns, since Kafka Streams and the ingest tools add suffixes of their own.
 */
public final class AccessTable {

    /** The principals' roles. */
    public enum Role {
        /** Kafka Streams serving app: requests, templates and adapters in; answers and dead letters out. */
        SERVING,
        /** The trainer: state topics in, adapters, checkpoints, run records and examples from feedback out. */
        TRAINER,
        /** The ingest CLI and HTTP server: requests, examples, templates, feedback out; answers in. */
        INGEST,
        /** An autoscaler such as KEDA: reads group lag, nothing else. */
        KEDA,
        /** Creates topics, registers ACLs and users: {@code ingest setup}. */
        ADMIN
    }

    /**
     * The names a deployment chose, which the table's rows refer to.
     *
     * @param topicPrefix          put in front of every topic name ({@code topics.prefix})
     * @param servingApplicationId the serving app's {@code application.id}: its group, internal topics and
     *                             transactional ids start with it
     * @param trainerGroupId       the trainer's group id: also the prefix of its client and transactional ids
     * @param ingestIdPrefix       prefix of the ingest tools' transactional ids
     */
    public record Names(String topicPrefix, String servingApplicationId, String trainerGroupId, String ingestIdPrefix) {
        public Names {
            Objects.requireNonNull(topicPrefix, "topicPrefix");
            Objects.requireNonNull(servingApplicationId, "servingApplicationId");
            Objects.requireNonNull(trainerGroupId, "trainerGroupId");
            Objects.requireNonNull(ingestIdPrefix, "ingestIdPrefix");
        }

        /** The defaults of serving, trainer and ingest, without a topic prefix. */
        public static Names defaults() {
            return new Names("", "tunestream-serving", "tunestream-trainer", "tunestream-ingest");
        }

        String topic(TopicSpec spec) {
            return topicPrefix + spec.name();
        }
    }

    /**
     * One row: {@code operations} allowed on a resource.
     *
     * @param type       topic, group, transactional id or cluster
     * @param name       resource name, or its prefix when {@code pattern} is PREFIXED
     * @param pattern    LITERAL or PREFIXED
     * @param operations what is allowed
     */
    public record Grant(ResourceType type, String name, PatternType pattern, Set<AclOperation> operations) {
        public Grant {
            Objects.requireNonNull(type, "type");
            Objects.requireNonNull(name, "name");
            Objects.requireNonNull(pattern, "pattern");
            operations = Set.copyOf(operations);
        }

        static Grant topic(String name, AclOperation... operations) {
            return new Grant(ResourceType.TOPIC, name, PatternType.LITERAL, Set.of(operations));
        }

        static Grant prefixed(ResourceType type, String prefix, AclOperation... operations) {
            return new Grant(type, prefix, PatternType.PREFIXED, Set.of(operations));
        }

        @Override
        public String toString() {
            return operations + " on " + type.name().toLowerCase(java.util.Locale.ROOT) + " " + name
                    + (pattern == PatternType.PREFIXED ? "*" : "");
        }
    }

    private static final AclOperation READ = AclOperation.READ;
    private static final AclOperation WRITE = AclOperation.WRITE;
    private static final AclOperation DESCRIBE = AclOperation.DESCRIBE;

    private AccessTable() {
    }

    /** The rows of {@code role}. */
    public static List<Grant> grants(Role role, Names names) {
        List<Grant> grants = new ArrayList<>();
        switch (role) {
            case SERVING -> {
                for (TopicSpec in : List.of(Topics.REQUESTS, Topics.TASK_TEMPLATES, Topics.ADAPTERS)) {
                    grants.add(Grant.topic(names.topic(in), READ, DESCRIBE));
                }
                grants.add(Grant.topic(names.topic(Topics.ANSWERS), WRITE, DESCRIBE,
                        // serving reads the answers topic's max.message.bytes to fit every answer to it
                        AclOperation.DESCRIBE_CONFIGS));
                grants.add(Grant.topic(names.topic(Topics.REQUESTS_DEAD_LETTER), WRITE, DESCRIBE));
                // changelog and repartition topics: Kafka Streams creates, reads, writes and trims them
                grants.add(Grant.prefixed(ResourceType.TOPIC, names.servingApplicationId() + "-", AclOperation.ALL));
                grants.add(Grant.prefixed(ResourceType.GROUP, names.servingApplicationId(), READ, DESCRIBE));
                grants.add(Grant.prefixed(ResourceType.TRANSACTIONAL_ID, names.servingApplicationId(), WRITE, DESCRIBE));
            }
            case TRAINER -> {
                for (TopicSpec in : List.of(Topics.FEEDBACK, Topics.TASK_TEMPLATES)) {
                    grants.add(Grant.topic(names.topic(in), READ, DESCRIBE));
                }
                for (TopicSpec both : List.of(Topics.EXAMPLES, Topics.ADAPTERS, Topics.ADAPTER_CHECKPOINTS,
                        Topics.TRAINING_RUNS, Topics.ADAPTER_HISTORY, Topics.TASK_CONTROLS)) {
                    grants.add(both == Topics.ADAPTER_CHECKPOINTS
                            // the trainer reads the topic's max.message.bytes to split checkpoints into records that fit
                            ? Grant.topic(names.topic(both), READ, WRITE, DESCRIBE, AclOperation.DESCRIBE_CONFIGS)
                            : Grant.topic(names.topic(both), READ, WRITE, DESCRIBE));
                }
                // read too: at start the trainer reads which records it dead-lettered already
                grants.add(Grant.topic(names.topic(Topics.TRAINER_DEAD_LETTER), READ, WRITE, DESCRIBE));
                grants.add(Grant.prefixed(ResourceType.GROUP, names.trainerGroupId(), READ, DESCRIBE));
                grants.add(Grant.prefixed(ResourceType.TRANSACTIONAL_ID, names.trainerGroupId(), WRITE, DESCRIBE));
            }
            case INGEST -> {
                for (TopicSpec out : List.of(Topics.REQUESTS, Topics.EXAMPLES, Topics.FEEDBACK)) {
                    grants.add(Grant.topic(names.topic(out), WRITE, DESCRIBE));
                }
                // templates are validated against the ones already published before new ones are sent
                grants.add(Grant.topic(names.topic(Topics.TASK_TEMPLATES), READ, WRITE, DESCRIBE));
                grants.add(Grant.topic(names.topic(Topics.ANSWERS), READ, DESCRIBE));
                grants.add(Grant.prefixed(ResourceType.TRANSACTIONAL_ID, names.ingestIdPrefix(), WRITE, DESCRIBE));
            }
            case KEDA -> {
                grants.add(Grant.prefixed(ResourceType.TOPIC, names.topicPrefix(), DESCRIBE));
                grants.add(Grant.prefixed(ResourceType.GROUP, names.servingApplicationId(), DESCRIBE));
                grants.add(Grant.prefixed(ResourceType.GROUP, names.trainerGroupId(), DESCRIBE));
            }
            case ADMIN -> {
                grants.add(Grant.prefixed(ResourceType.TOPIC, names.topicPrefix(), AclOperation.ALL));
                grants.add(new Grant(ResourceType.CLUSTER, "kafka-cluster", PatternType.LITERAL,
                        Set.of(AclOperation.ALTER, AclOperation.DESCRIBE, AclOperation.CREATE)));
            }
        }
        return List.copyOf(grants);
    }

    /**
     * The ACL bindings that give {@code principal} (e.g. {@code User:serving}) the rows of {@code
     * role}, allowed from any host.
     */
    public static List<AclBinding> bindings(Role role, String principal, Names names) {
        List<AclBinding> bindings = new ArrayList<>();
        for (Grant grant : grants(role, names)) {
            // a PREFIXED pattern with an empty prefix is not allowed: an empty topic prefix means every topic
            boolean everything = grant.pattern() == PatternType.PREFIXED && grant.name().isEmpty();
            ResourcePattern resource = new ResourcePattern(grant.type(), everything ? ResourcePattern.WILDCARD_RESOURCE
                    : grant.name(), everything ? PatternType.LITERAL : grant.pattern());
            for (AclOperation operation : sorted(grant.operations())) {
                bindings.add(new AclBinding(resource,
                        new AccessControlEntry(principal, "*", operation, AclPermissionType.ALLOW)));
            }
        }
        return List.copyOf(bindings);
    }

    /**
     * The operations {@code role} needs on each literal topic of {@code topics}, for a start-up
     * preflight; topics the role has no row for are left out.
     */
    public static Map<String, Set<AclOperation>> topicOperations(Role role, Names names, List<String> topics) {
        Map<String, Set<AclOperation>> operations = new LinkedHashMap<>();
        for (Grant grant : grants(role, names)) {
            if (grant.type() == ResourceType.TOPIC && grant.pattern() == PatternType.LITERAL
                    && topics.contains(grant.name())) {
                Set<AclOperation> needed = EnumSet.copyOf(grant.operations());
                needed.retainAll(Set.of(READ, WRITE));
                operations.put(grant.name(), Set.copyOf(needed));
            }
        }
        return operations;
    }

    private static List<AclOperation> sorted(Set<AclOperation> operations) {
        return operations.stream().sorted().toList();
    }
}

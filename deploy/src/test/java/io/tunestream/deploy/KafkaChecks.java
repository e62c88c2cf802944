package io.tunestream.deploy;

import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.PodTemplateSpec;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.strimzi.api.kafka.model.kafka.Kafka;
import io.strimzi.api.kafka.model.kafka.listener.GenericKafkaListener;
import io.strimzi.api.kafka.model.kafka.listener.KafkaListenerAuthenticationScramSha512;
import io.strimzi.api.kafka.model.kafka.listener.KafkaListenerAuthenticationTls;
import io.strimzi.api.kafka.model.nodepool.KafkaNodePool;
import io.strimzi.api.kafka.model.topic.KafkaTopic;
import io.strimzi.api.kafka.model.user.KafkaUser;
import io.strimzi.api.kafka.model.user.KafkaUserAuthorizationSimple;
import io.strimzi.api.kafka.model.user.KafkaUserScramSha512ClientAuthentication;
import io.strimzi.api.kafka.model.user.acl.AclResourcePatternType;
import io.strimzi.api.kafka.model.user.acl.AclRule;
import io.strimzi.api.kafka.model.user.acl.AclRuleClusterResource;
import io.strimzi.api.kafka.model.user.acl.AclRuleGroupResource;
import io.strimzi.api.kafka.model.user.acl.AclRuleResource;
import io.strimzi.api.kafka.model.user.acl.AclRuleTopicResource;
import io.strimzi.api.kafka.model.user.acl.AclRuleTransactionalIdResource;
import io.strimzi.api.kafka.model.user.acl.AclRuleType;
import io.tunestream.schemas.AccessTable;
import io.tunestream.schemas.TopicSpec;
import io.tunestream.schemas.Topics;
import java.io.IOException;
import java.io.StringReader;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.apache.kafka.clients.CommonClientConfigs;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.resource.PatternType;
import org.apache.kafka.common.resource.ResourceType;

/** The Kafka side of the manifests against the topic catalogue, the least-privilege table and the clients. */
final class KafkaChecks {

    /** One allowed operation on a resource pattern: what an ACL binding and a Strimzi ACL rule have in common. */
    record Permission(ResourceType type, String name, PatternType pattern, AclOperation operation) implements Comparable<Permission> {
        @Override
        public int compareTo(Permission o) {
            return toString().compareTo(o.toString());
        }

        @Override
        public String toString() {
            return operation + " " + type + " " + name + (pattern == PatternType.PREFIXED ? "*" : "");
        }
    }

    /** The topics Apicurio's kafkasql storage uses (its defaults, kept by k8s/base/registry/registry.yaml). */
    static final Set<String> REGISTRY_TOPICS = Set.of("kafkasql-journal", "kafkasql-snapshots", "registry-events");

    private KafkaChecks() {
    }

    /** The permissions AccessTable gives {@code role}, as allowed from any host. */
    static Set<Permission> expected(AccessTable.Role role) {
        Set<Permission> permissions = new TreeSet<>();
        for (AclBinding b : AccessTable.bindings(role, "User:" + KafkaResources.userName(role), KafkaResources.NAMES)) {
            permissions.add(new Permission(b.pattern().resourceType(), b.pattern().name(), b.pattern().patternType(),
                    b.entry().operation()));
        }
        return permissions;
    }

    /** The permissions a KafkaUser's ACL rules allow (a deny rule, or one for some hosts only, is reported instead). */
    static Set<Permission> granted(KafkaUser user, List<String> problems) {
        Set<Permission> permissions = new TreeSet<>();
        if (!(user.getSpec().getAuthorization() instanceof KafkaUserAuthorizationSimple simple)) {
            problems.add("KafkaUser/" + user.getMetadata().getName() + ": authorization is not simple (ACLs)");
            return permissions;
        }
        for (AclRule rule : simple.getAcls()) {
            if (rule.getType() != null && rule.getType() != AclRuleType.ALLOW || rule.getHost() != null && !"*".equals(rule.getHost())) {
                problems.add("KafkaUser/" + user.getMetadata().getName() + ": rule " + rule + " is not an allow rule for any host");
            }
            AclRuleResource resource = rule.getResource();
            ResourceType type;
            String name;
            AclResourcePatternType pattern;
            if (resource instanceof AclRuleTopicResource topic) {
                type = ResourceType.TOPIC;
                name = topic.getName();
                pattern = topic.getPatternType();
            } else if (resource instanceof AclRuleGroupResource group) {
                type = ResourceType.GROUP;
                name = group.getName();
                pattern = group.getPatternType();
            } else if (resource instanceof AclRuleTransactionalIdResource id) {
                type = ResourceType.TRANSACTIONAL_ID;
                name = id.getName();
                pattern = id.getPatternType();
            } else if (resource instanceof AclRuleClusterResource) {
                type = ResourceType.CLUSTER;
                name = "kafka-cluster";
                pattern = AclResourcePatternType.LITERAL;
            } else {
                problems.add("KafkaUser/" + user.getMetadata().getName() + ": unexpected ACL resource " + resource);
                continue;
            }
            PatternType kafkaPattern = pattern == AclResourcePatternType.PREFIX ? PatternType.PREFIXED : PatternType.LITERAL;
            for (var operation : rule.getOperations()) {
                AclOperation kafkaOperation = Arrays.stream(AclOperation.values())
                        .filter(o -> o.name().replace("_", "").equals(operation.name())).findFirst()
                        .orElseThrow(() -> new AssertionError("no Kafka operation for Strimzi's " + operation));
                permissions.add(new Permission(type, name, kafkaPattern, kafkaOperation));
            }
        }
        return permissions;
    }

    /** A KafkaUser per AccessTable role, SCRAM-SHA-512, allowing exactly the role's rows. */
    static List<String> users(Bundle bundle) {
        List<String> problems = new ArrayList<>();
        for (AccessTable.Role role : AccessTable.Role.values()) {
            Optional<KafkaUser> user = bundle.find(KafkaUser.class, KafkaResources.userName(role));
            if (user.isEmpty()) {
                problems.add("no KafkaUser " + KafkaResources.userName(role) + " for role " + role);
                continue;
            }
            if (!(user.get().getSpec().getAuthentication() instanceof KafkaUserScramSha512ClientAuthentication)) {
                problems.add("KafkaUser/" + KafkaResources.userName(role) + ": authentication is not scram-sha-512");
            }
            Set<Permission> granted = granted(user.get(), problems);
            Set<Permission> expected = expected(role);
            if (!granted.equals(expected)) {
                Set<Permission> missing = new TreeSet<>(expected);
                missing.removeAll(granted);
                Set<Permission> extra = new TreeSet<>(granted);
                extra.removeAll(expected);
                problems.add("KafkaUser/" + KafkaResources.userName(role) + " and AccessTable role " + role
                        + " differ: missing " + missing + ", not in the table " + extra);
            }
        }
        return problems;
    }

    /** A KafkaTopic per catalogue entry with its partitions and configs, and no other topic but the registry's. */
    static List<String> topics(Bundle bundle) {
        List<String> problems = new ArrayList<>();
        Map<String, KafkaTopic> byTopic = new TreeMap<>();
        for (KafkaTopic topic : bundle.all(KafkaTopic.class)) {
            String name = Optional.ofNullable(topic.getSpec().getTopicName()).orElse(topic.getMetadata().getName());
            byTopic.put(name, topic);
            if (!KafkaResources.CLUSTER.equals(topic.getMetadata().getLabels().get("strimzi.io/cluster"))) {
                problems.add("KafkaTopic/" + name + " is not labelled strimzi.io/cluster: " + KafkaResources.CLUSTER);
            }
        }
        for (TopicSpec spec : Topics.ALL) {
            String name = KafkaResources.NAMES.topicPrefix() + spec.name();
            KafkaTopic topic = byTopic.remove(name);
            if (topic == null) {
                problems.add("no KafkaTopic for catalogue topic " + name);
                continue;
            }
            if (!Integer.valueOf(spec.partitions()).equals(topic.getSpec().getPartitions())) {
                problems.add("KafkaTopic/" + name + ": " + topic.getSpec().getPartitions() + " partitions, the catalogue says "
                        + spec.partitions());
            }
            Map<String, String> configs = new TreeMap<>();
            topic.getSpec().getConfig().forEach((k, v) -> configs.put(k, String.valueOf(v)));
            if (!configs.equals(new TreeMap<>(spec.configs()))) {
                problems.add("KafkaTopic/" + name + ": configs " + configs + ", the catalogue says " + new TreeMap<>(spec.configs()));
            }
        }
        byTopic.keySet().removeAll(REGISTRY_TOPICS);
        if (!byTopic.isEmpty()) {
            problems.add("KafkaTopics not in the catalogue (Topics.ALL): " + byTopic.keySet());
        }
        return problems;
    }

    /**
     * The registry's user may use exactly kafkasql's topics (read and write the journal and snapshots, write
     * events) and its consumer groups (Apicurio's default prefix {@code apicurio-}), and each topic exists.
     */
    static List<String> registryUser(Bundle bundle) {
        List<String> problems = new ArrayList<>();
        KafkaUser user = bundle.get(KafkaUser.class, "registry");
        Set<Permission> granted = granted(user, problems);
        Set<String> topics = granted.stream().filter(p -> p.type() == ResourceType.TOPIC).map(Permission::name)
                .collect(Collectors.toCollection(TreeSet::new));
        if (!topics.equals(new TreeSet<>(REGISTRY_TOPICS))) {
            problems.add("KafkaUser/registry: topics " + topics + ", kafkasql uses " + new TreeSet<>(REGISTRY_TOPICS));
        }
        for (String topic : REGISTRY_TOPICS) {
            if (bundle.find(KafkaTopic.class, topic).isEmpty()) {
                problems.add("no KafkaTopic " + topic + " (the registry does not create topics: auto-create is off)");
            }
        }
        Set<Permission> groups = granted.stream().filter(p -> p.type() == ResourceType.GROUP).collect(Collectors.toSet());
        if (!groups.equals(Set.of(new Permission(ResourceType.GROUP, "apicurio-", PatternType.PREFIXED, AclOperation.READ),
                new Permission(ResourceType.GROUP, "apicurio-", PatternType.PREFIXED, AclOperation.DESCRIBE)))) {
            problems.add("KafkaUser/registry: group rights " + groups + ", kafkasql's consumers need Read and Describe on apicurio-*");
        }
        if (granted.stream().anyMatch(p -> p.type() == ResourceType.CLUSTER || p.operation() == AclOperation.ALL)) {
            problems.add("KafkaUser/registry: allows more than kafkasql needs: " + granted);
        }
        return problems;
    }

    /**
     * The registry's Kafka clients: kafkasql's bootstrap is the TLS listener; the properties file it loads
     * (QUARKUS_CONFIG_LOCATIONS) holds only Kafka client keys under {@code apicurio.kafka.common.}, SASL_SSL
     * with SCRAM-SHA-512 as the listener wants, and every {@code ${VAR}} it refers to is a variable of the
     * container taken from a secret: the registry user's JAAS config and the cluster CA's password.
     */
    static List<String> registryClient(Bundle bundle) {
        List<String> problems = new ArrayList<>();
        Kafka kafka = bundle.get(Kafka.class, KafkaResources.CLUSTER);
        String bootstrap = KafkaResources.CLUSTER + "-kafka-bootstrap:" + kafka.getSpec().getKafka().getListeners().get(0).getPort();
        var deployment = bundle.get(Deployment.class, "registry");
        PodTemplateSpec template = deployment.getSpec().getTemplate();
        Container c = Checks.container(template, "registry");
        Map<String, EnvVar> env = new LinkedHashMap<>();
        c.getEnv().forEach(v -> env.put(v.getName(), v));
        if (!bootstrap.equals(Optional.ofNullable(env.get("APICURIO_KAFKASQL_BOOTSTRAP_SERVERS")).map(EnvVar::getValue).orElse(null))) {
            problems.add("Deployment/registry: APICURIO_KAFKASQL_BOOTSTRAP_SERVERS is not " + bootstrap);
        }
        String location = Optional.ofNullable(env.get("QUARKUS_CONFIG_LOCATIONS")).map(EnvVar::getValue).orElse("");
        var mount = c.getVolumeMounts().stream().filter(m -> location.startsWith(m.getMountPath() + "/")).findFirst();
        var configMapName = mount.flatMap(m -> Checks.volume(template, m.getName())).map(v -> v.getConfigMap() == null ? null : v.getConfigMap().getName());
        if (configMapName.isEmpty()) {
            problems.add("Deployment/registry: QUARKUS_CONFIG_LOCATIONS " + location + " is not in a mounted ConfigMap");
            return problems;
        }
        String file = location.substring(location.lastIndexOf('/') + 1);
        String text = bundle.get(ConfigMap.class, configMapName.get()).getData().get(file);
        var properties = new Properties();
        try {
            properties.load(new StringReader(text == null ? "" : text));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        Set<String> clientKeys = new TreeSet<>(ProducerConfig.configNames());
        clientKeys.addAll(ConsumerConfig.configNames());
        clientKeys.addAll(AdminClientConfig.configNames());
        String prefix = "apicurio.kafka.common.";
        for (String key : properties.stringPropertyNames()) {
            if (!key.startsWith(prefix) || !clientKeys.contains(key.substring(prefix.length()))) {
                problems.add("registry " + file + ": " + key + " is not " + prefix + "<a Kafka client key>");
            }
        }
        if (!"SASL_SSL".equals(properties.getProperty(prefix + "security.protocol"))
                || !"SCRAM-SHA-512".equals(properties.getProperty(prefix + "sasl.mechanism"))) {
            problems.add("registry " + file + ": the listener wants SASL_SSL with SCRAM-SHA-512");
        }
        Matcher ref = Pattern.compile("\\$\\{([A-Z0-9_]+)}").matcher(text == null ? "" : text);
        Map<String, String> secretKeys = Map.of("REGISTRY_KAFKA_JAAS_CONFIG", "registry/sasl.jaas.config",
                "REGISTRY_KAFKA_TRUSTSTORE_PASSWORD", KafkaResources.CLUSTER + "-cluster-ca-cert/ca.password");
        Set<String> referenced = new TreeSet<>();
        while (ref.find()) {
            referenced.add(ref.group(1));
            var variable = env.get(ref.group(1));
            var secret = variable == null || variable.getValueFrom() == null ? null : variable.getValueFrom().getSecretKeyRef();
            String source = secret == null ? null : secret.getName() + "/" + secret.getKey();
            if (!Objects.equals(source, secretKeys.get(ref.group(1)))) {
                problems.add("registry " + file + " refers to ${" + ref.group(1) + "}, which the container takes from "
                        + source + ", expected " + secretKeys.get(ref.group(1)));
            }
        }
        if (!referenced.equals(secretKeys.keySet())) {
            problems.add("registry " + file + " refers to " + referenced + ", expected the secrets " + secretKeys.keySet());
        }
        return problems;
    }

    /** Kafka in KRaft with node pools, the version of the Kafka clients the code is built on, no plaintext listener. */
    static List<String> cluster(Bundle bundle) {
        List<String> problems = new ArrayList<>();
        Kafka kafka = bundle.get(Kafka.class, KafkaResources.CLUSTER);
        String clients = kafkaClientsVersion();
        if (!clients.equals(kafka.getSpec().getKafka().getVersion())) {
            problems.add("Kafka/" + KafkaResources.CLUSTER + ": version " + kafka.getSpec().getKafka().getVersion()
                    + ", the code's Kafka clients are " + clients);
        }
        var pools = bundle.all(KafkaNodePool.class);
        if (pools.isEmpty() || pools.stream().anyMatch(p -> !KafkaResources.CLUSTER.equals(p.getMetadata().getLabels().get("strimzi.io/cluster")))) {
            problems.add("every KafkaNodePool must belong to the cluster " + KafkaResources.CLUSTER + " (found " + pools.size() + ")");
        }
        var roles = pools.stream().flatMap(p -> p.getSpec().getRoles().stream()).map(Enum::name).collect(Collectors.toSet());
        if (!roles.containsAll(Set.of("CONTROLLER", "BROKER"))) {
            problems.add("the node pools have roles " + roles + ": KRaft needs controllers and brokers");
        }
        for (GenericKafkaListener listener : kafka.getSpec().getKafka().getListeners()) {
            if (!listener.isTls()) {
                problems.add("Kafka listener " + listener.getName() + " is not TLS (no plaintext listener)");
            }
            if (!(listener.getAuth() instanceof KafkaListenerAuthenticationScramSha512)
                    && !(listener.getAuth() instanceof KafkaListenerAuthenticationTls)) {
                problems.add("Kafka listener " + listener.getName() + " authenticates with neither SCRAM-SHA-512 nor mTLS");
            }
            if (listener.getNetworkPolicyPeers().isEmpty()) {
                problems.add("Kafka listener " + listener.getName() + " has no networkPolicyPeers: any pod could connect");
            }
        }
        return problems;
    }

    /** The version of the kafka-clients jar the code runs on (what Kafka's AppInfoParser reports). */
    static String kafkaClientsVersion() {
        var properties = new Properties();
        try (var in = CommonClientConfigs.class.getResourceAsStream("/kafka/kafka-version.properties")) {
            if (in == null) {
                throw new AssertionError("kafka-clients has no kafka/kafka-version.properties");
            }
            properties.load(in);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return properties.getProperty("version");
    }

    /**
     * Serving and the trainer connect to the TLS listener as their own KafkaUser, with the password and the
     * cluster CA from mounted secrets, and use the names AccessTable's rows were generated for.
     */
    static List<String> clients(Bundle bundle) {
        List<String> problems = new ArrayList<>();
        Kafka kafka = bundle.get(Kafka.class, KafkaResources.CLUSTER);
        GenericKafkaListener listener = kafka.getSpec().getKafka().getListeners().get(0);
        String bootstrap = KafkaResources.CLUSTER + "-kafka-bootstrap:" + listener.getPort();
        for (Services service : Services.values()) {
            AccessTable.Role role = service == Services.SERVING ? AccessTable.Role.SERVING : AccessTable.Role.TRAINER;
            StatefulSet set = bundle.get(StatefulSet.class, service.workload);
            PodTemplateSpec template = set.getSpec().getTemplate();
            Container c = Checks.container(template, service.workload);
            Map<String, String> env = Checks.effectiveEnv(bundle, c);
            String where = "StatefulSet/" + service.workload;
            expect(problems, where, env, "TUNESTREAM_BOOTSTRAP_SERVERS", bootstrap);
            expect(problems, where, env, "TUNESTREAM_KAFKA_SECURITY_PROTOCOL", "SASL_SSL");
            expect(problems, where, env, "TUNESTREAM_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512");
            expect(problems, where, env, "TUNESTREAM_KAFKA_SASL_USERNAME", KafkaResources.userName(role));
            expect(problems, where, env, "TUNESTREAM_TOPICS_PREFIX", KafkaResources.NAMES.topicPrefix().isEmpty() ? null
                    : KafkaResources.NAMES.topicPrefix());
            if (service == Services.SERVING) {
                expect(problems, where, env, "TUNESTREAM_APPLICATION_ID", KafkaResources.NAMES.servingApplicationId());
            } else {
                expect(problems, where, env, "TUNESTREAM_TRAINER_GROUP_ID", KafkaResources.NAMES.trainerGroupId());
            }
            secretFile(problems, where, template, c, env.get("TUNESTREAM_KAFKA_SASL_PASSWORD_FILE"), KafkaResources.userName(role));
            secretFile(problems, where, template, c, env.get("TUNESTREAM_KAFKA_SSL_TRUSTSTORE_LOCATION"),
                    KafkaResources.CLUSTER + "-cluster-ca-cert");
            secretFile(problems, where, template, c, env.get("TUNESTREAM_KAFKA_SSL_TRUSTSTORE_PASSWORD_FILE"),
                    KafkaResources.CLUSTER + "-cluster-ca-cert");
        }
        return problems;
    }

    private static void expect(List<String> problems, String where, Map<String, String> env, String name, String value) {
        if (!Objects.equals(env.get(name), value)) {
            problems.add(where + ": " + name + " is " + env.get(name) + ", expected " + value);
        }
    }

    /** {@code file} lies in a volume mounted from the secret {@code secret}. */
    private static void secretFile(List<String> problems, String where, PodTemplateSpec template, Container c, String file,
                                   String secret) {
        if (file == null) {
            problems.add(where + ": no file from the secret " + secret + " is configured");
            return;
        }
        boolean found = false;
        for (VolumeMount mount : c.getVolumeMounts()) {
            if (Path.of(file).startsWith(mount.getMountPath())) {
                found = Checks.volume(template, mount.getName())
                        .map(v -> v.getSecret() != null && secret.equals(v.getSecret().getSecretName())).orElse(false);
            }
        }
        if (!found) {
            problems.add(where + ": " + file + " is not in a mount of the secret " + secret);
        }
    }

    /**
     * KEDA scales serving on the lag of serving's group on requests, at most one replica per partition,
     * through the TLS listener as the KafkaUser of role KEDA.
     */
    static List<String> autoscaling(Bundle bundle) {
        List<String> problems = new ArrayList<>();
        List<Keda.ScaledObject> scaledObjects = bundle.all(Keda.ScaledObject.class);
        if (scaledObjects.size() != 1) {
            return List.of("expected one ScaledObject, found " + scaledObjects.size());
        }
        Keda.ScaledObject scaled = scaledObjects.get(0);
        Keda.ScaledObjectSpec spec = scaled.spec();
        if (!"StatefulSet".equals(spec.scaleTargetRef().kind()) || !Services.SERVING.workload.equals(spec.scaleTargetRef().name())
                || !"apps/v1".equals(spec.scaleTargetRef().apiVersion())) {
            problems.add("ScaledObject targets " + spec.scaleTargetRef() + ", not the serving StatefulSet");
        }
        if (!Integer.valueOf(Topics.REQUESTS.partitions()).equals(spec.maxReplicaCount())) {
            problems.add("ScaledObject maxReplicaCount " + spec.maxReplicaCount() + " is not the partitions of "
                    + Topics.REQUESTS.name() + " (" + Topics.REQUESTS.partitions() + ")");
        }
        if (spec.minReplicaCount() == null || spec.minReplicaCount() < 1) {
            problems.add("ScaledObject minReplicaCount must be at least 1 (the group must exist for its lag to be read)");
        }
        Kafka kafka = bundle.get(Kafka.class, KafkaResources.CLUSTER);
        int port = kafka.getSpec().getKafka().getListeners().get(0).getPort();
        for (Keda.Trigger trigger : spec.triggers()) {
            if (!"kafka".equals(trigger.type())) {
                problems.add("ScaledObject trigger " + trigger.type() + " is not kafka");
                continue;
            }
            Set<String> unknown = new TreeSet<>(trigger.metadata().keySet());
            unknown.removeAll(Keda.KAFKA_METADATA);
            if (!unknown.isEmpty()) {
                problems.add("kafka trigger metadata keys not documented by KEDA: " + unknown);
            }
            Map<String, String> m = trigger.metadata();
            String bootstrap = KafkaResources.CLUSTER + "-kafka-bootstrap." + bundleNamespace(bundle) + ".svc:" + port;
            if (!bootstrap.equals(m.get("bootstrapServers"))) {
                problems.add("kafka trigger bootstrapServers " + m.get("bootstrapServers") + ", expected " + bootstrap
                        + " (KEDA's operator runs in its own namespace)");
            }
            if (!KafkaResources.NAMES.servingApplicationId().equals(m.get("consumerGroup"))) {
                problems.add("kafka trigger consumerGroup " + m.get("consumerGroup") + " is not serving's application.id "
                        + KafkaResources.NAMES.servingApplicationId());
            }
            if (!(KafkaResources.NAMES.topicPrefix() + Topics.REQUESTS.name()).equals(m.get("topic"))) {
                problems.add("kafka trigger topic " + m.get("topic") + " is not " + Topics.REQUESTS.name());
            }
            if (!"scram_sha512".equals(m.get("sasl")) || !"enable".equals(m.get("tls"))) {
                problems.add("kafka trigger must use sasl scram_sha512 with tls enable, as the listener requires");
            }
            if (trigger.authenticationRef() == null) {
                problems.add("kafka trigger has no authenticationRef");
                continue;
            }
            Keda.TriggerAuthentication auth = bundle.all(Keda.TriggerAuthentication.class).stream()
                    .filter(a -> a.metadata().getName().equals(trigger.authenticationRef().name())).findFirst().orElse(null);
            if (auth == null) {
                problems.add("no TriggerAuthentication " + trigger.authenticationRef().name());
                continue;
            }
            for (Keda.SecretTargetRef ref : auth.spec().secretTargetRef()) {
                if (!Keda.KAFKA_AUTH_PARAMETERS.contains(ref.parameter())) {
                    problems.add("TriggerAuthentication parameter " + ref.parameter() + " is not one the kafka scaler documents");
                }
                if (ref.parameter().equals("username")) {
                    String login = bundle.find(Secret.class, ref.name())
                            .map(secret -> secret.getStringData().get(ref.key())).orElse(null);
                    if (!KafkaResources.userName(AccessTable.Role.KEDA).equals(login)) {
                        problems.add("KEDA logs in as " + login + " (secret " + ref.name() + "), not as the KafkaUser "
                                + KafkaResources.userName(AccessTable.Role.KEDA));
                    }
                }
                if (ref.parameter().equals("password") && !KafkaResources.userName(AccessTable.Role.KEDA).equals(ref.name())) {
                    problems.add("KEDA's password comes from secret " + ref.name() + ", not the KafkaUser "
                            + KafkaResources.userName(AccessTable.Role.KEDA) + "'s");
                }
            }
        }
        return problems;
    }

    private static String bundleNamespace(Bundle bundle) {
        return bundle.all(Namespace.class).stream().map(n -> n.getMetadata().getName())
                .findFirst().orElse("tunestream");
    }
}

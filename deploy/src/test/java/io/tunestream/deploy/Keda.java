package io.tunestream.deploy;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.api.model.autoscaling.v2.HorizontalPodAutoscalerBehavior;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * KEDA's kinds as records holding exactly the keys KEDA documents, so that a manifest with any other key
 * fails to parse (there is no typed Java model of KEDA on Maven Central). Sources, KEDA 2.21:
 * <ul>
 *   <li>ScaledObject: https://keda.sh/docs/2.21/reference/scaledobject-spec/ (keda-docs
 *       content/docs/2.21/reference/scaledobject-spec.md)</li>
 *   <li>TriggerAuthentication: https://keda.sh/docs/2.21/concepts/authentication/</li>
 *   <li>the kafka trigger's metadata and authentication parameters:
 *       https://keda.sh/docs/2.21/scalers/apache-kafka/</li>
 * </ul>
 */
final class Keda {

    static final String API_VERSION = "keda.sh/v1alpha1";

    /** The kafka trigger's metadata keys ("Parameter list"). */
    static final Set<String> KAFKA_METADATA = Set.of("bootstrapServers", "consumerGroup", "topic", "lagThreshold",
            "activationLagThreshold", "offsetResetPolicy", "allowIdleConsumers", "scaleToZeroOnInvalidOffset",
            "excludePersistentLag", "limitToPartitionsWithLag", "ensureEvenDistributionOfPartitions", "version",
            "fullMetadata", "partitionLimitation", "sasl", "saslTokenProvider", "tls", "unsafeSsl", "awsRegion");

    /** The kafka trigger's authentication parameters ("Authentication Parameters"). */
    static final Set<String> KAFKA_AUTH_PARAMETERS = Set.of("sasl", "saslTokenProvider", "username", "password",
            "keytab", "realm", "kerberosConfig", "kerberosServiceName", "kerberosDisableFAST", "oauthTokenEndpointUri",
            "scopes", "oauthExtensions", "tls", "ca", "cert", "key", "keyPassword", "awsRoleArn", "awsAccessKeyID",
            "awsSecretAccessKey");

    record ScaledObject(String apiVersion, String kind, ObjectMeta metadata, ScaledObjectSpec spec) {
    }

    record ScaledObjectSpec(ScaleTargetRef scaleTargetRef, Integer pollingInterval, Integer cooldownPeriod,
                            Integer initialCooldownPeriod, Integer idleReplicaCount, Integer minReplicaCount,
                            Integer maxReplicaCount, Fallback fallback, Advanced advanced, List<Trigger> triggers) {
    }

    record ScaleTargetRef(String apiVersion, String kind, String name, String envSourceContainerName) {
    }

    record Fallback(Integer failureThreshold, Integer replicas, String behavior) {
    }

    record Advanced(Boolean restoreToOriginalReplicaCount, HorizontalPodAutoscalerConfig horizontalPodAutoscalerConfig,
                    ScalingModifiers scalingModifiers) {
    }

    /** {@code behavior} is the HPA's own (autoscaling/v2), which KEDA passes on. */
    record HorizontalPodAutoscalerConfig(String name, HorizontalPodAutoscalerBehavior behavior) {
    }

    record ScalingModifiers(String target, String activationTarget, String metricType, String formula) {
    }

    record Trigger(String type, String name, Map<String, String> metadata, Boolean useCachedMetrics,
                   AuthenticationRef authenticationRef, String metricType) {
    }

    record AuthenticationRef(String name, String kind) {
    }

    record TriggerAuthentication(String apiVersion, String kind, ObjectMeta metadata, TriggerAuthenticationSpec spec) {
    }

    /** The sources of parameters; the secret-store sections are accepted as documented, not typed further. */
    record TriggerAuthenticationSpec(PodIdentity podIdentity, List<SecretTargetRef> secretTargetRef,
                                     List<EnvTarget> env, List<BoundServiceAccountToken> boundServiceAccountToken,
                                     JsonNode hashiCorpVault, JsonNode azureKeyVault, JsonNode awsSecretManager,
                                     JsonNode gcpSecretManager) {
    }

    record PodIdentity(String provider, String identityId, String roleArn, String identityOwner) {
    }

    record SecretTargetRef(String parameter, String name, String key) {
    }

    record EnvTarget(String parameter, String name, String containerName) {
    }

    record BoundServiceAccountToken(String parameter, String serviceAccountName) {
    }

    private Keda() {
    }

    /** The record of a keda.sh document; an undocumented key fails the parse with its name. */
    static Object parse(ObjectMapper strict, ManifestFiles.Document document) {
        JsonNode tree = document.tree();
        String kind = tree.path("kind").asText();
        if (!API_VERSION.equals(tree.path("apiVersion").asText())) {
            throw new IllegalArgumentException(document.where() + ": KEDA's kinds are at " + API_VERSION + ", not "
                    + tree.path("apiVersion").asText());
        }
        Class<?> type = switch (kind) {
            case "ScaledObject" -> ScaledObject.class;
            case "TriggerAuthentication" -> TriggerAuthentication.class;
            default -> throw new IllegalArgumentException(document.where() + ": KEDA kind " + kind + " is not modelled here");
        };
        try {
            return strict.treeToValue(tree, type);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException(document.where() + ": not a documented " + kind + ": " + e.getOriginalMessage(), e);
        }
    }
}

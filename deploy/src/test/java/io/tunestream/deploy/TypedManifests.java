package io.tunestream.deploy;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.KubernetesResource;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import io.strimzi.api.kafka.model.kafka.Kafka;
import io.strimzi.api.kafka.model.nodepool.KafkaNodePool;
import io.strimzi.api.kafka.model.topic.KafkaTopic;
import io.strimzi.api.kafka.model.user.KafkaUser;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;

/**
 * Manifests as typed models: fabric8's for the core kinds, Strimzi's api for {@code kafka.strimzi.io/v1},
 * {@link Keda}'s records for {@code keda.sh/v1alpha1}. A field a model does not know ends up in its
 * {@code additionalProperties} (fabric8, Strimzi) or fails the parse (KEDA): both are reported, with the
 * path of the field.
 */
final class TypedManifests {

    /** The Strimzi kinds Tunestream uses, all at kafka.strimzi.io/v1. */
    static final String STRIMZI_API = "kafka.strimzi.io/v1";
    private static final Map<String, Class<? extends KubernetesResource>> STRIMZI_KINDS = Map.of(
            "Kafka", Kafka.class, "KafkaNodePool", KafkaNodePool.class,
            "KafkaTopic", KafkaTopic.class, "KafkaUser", KafkaUser.class);

    private static final KubernetesSerialization SERIALIZATION = new KubernetesSerialization();
    private static final ObjectMapper STRICT = new ObjectMapper()
            .configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, true)
            .configure(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES, true);

    /** A document and its typed model. */
    record Typed(ManifestFiles.Document document, Object model) {
    }

    private TypedManifests() {
    }

    /**
     * The typed model of {@code document}.
     *
     * @throws IllegalArgumentException naming the document when no model knows its kind or a KEDA key is
     *                                  not documented
     */
    static Typed parse(ManifestFiles.Document document) {
        JsonNode tree = document.tree();
        String apiVersion = tree.path("apiVersion").asText();
        String kind = tree.path("kind").asText();
        Object model;
        if (apiVersion.startsWith("kafka.strimzi.io/")) {
            Class<? extends KubernetesResource> type = STRIMZI_KINDS.get(kind);
            if (type == null || !apiVersion.equals(STRIMZI_API)) {
                throw new IllegalArgumentException(document.where() + ": " + apiVersion + " " + kind
                        + " is not one of the Strimzi kinds used here, all at " + STRIMZI_API + ": " + STRIMZI_KINDS.keySet());
            }
            model = SERIALIZATION.convertValue(tree, type);
        } else if (apiVersion.startsWith("keda.sh/")) {
            model = Keda.parse(STRICT, document);
        } else {
            model = SERIALIZATION.unmarshal(tree.toString());
            if (model instanceof GenericKubernetesResource) {
                throw new IllegalArgumentException(document.where() + ": no fabric8 model for " + apiVersion + " " + kind);
            }
        }
        return new Typed(document, model);
    }

    /**
     * Fields of {@code model} (and everything it holds) that its classes do not know, and deprecated
     * fields that are set (Strimzi marks the fields that kafka.strimzi.io/v1 removed as deprecated), as
     * paths like {@code spec.template.spec.containers[0].additionalProperties[foo]}.
     */
    static List<String> unknownOrDeprecatedFields(Object model) {
        List<String> problems = new ArrayList<>();
        walk(model, "", problems, 0);
        return problems;
    }

    private static void walk(Object value, String path, List<String> problems, int depth) {
        if (value == null || depth > 40) {
            return;
        }
        if (value instanceof Collection<?> items) {
            int i = 0;
            for (Object item : items) {
                walk(item, path + "[" + i++ + "]", problems, depth + 1);
            }
            return;
        }
        if (value instanceof Map<?, ?> map) {
            map.forEach((k, v) -> walk(v, path + "[" + k + "]", problems, depth + 1));
            return;
        }
        if (value instanceof Record record) {
            for (var component : record.getClass().getRecordComponents()) {
                walk(invoke(component.getAccessor(), record, path), join(path, component.getName()), problems, depth + 1);
            }
            return;
        }
        if (!isModel(value.getClass())) {
            return;
        }
        // one getter per name: interfaces and covariant overrides add bridge methods
        Map<String, Method> byName = new java.util.TreeMap<>();
        for (Method method : value.getClass().getMethods()) {
            if (method.getParameterCount() == 0 && !Modifier.isStatic(method.getModifiers()) && !method.isBridge()
                    && method.getName().startsWith("get") && !method.getName().equals("getClass")) {
                byName.merge(method.getName(), method, (a, b) -> a.isAnnotationPresent(Deprecated.class) ? a : b);
            }
        }
        List<Method> getters = new ArrayList<>(byName.values());
        for (Method getter : getters) {
            Object field = invoke(getter, value, path);
            String name = Character.toLowerCase(getter.getName().charAt(3)) + getter.getName().substring(4);
            if (name.equals("additionalProperties")) {
                if (field instanceof Map<?, ?> extra && !extra.isEmpty()) {
                    extra.keySet().forEach(k -> problems.add(join(path, String.valueOf(k)) + " is not a field of "
                            + value.getClass().getSimpleName()));
                }
                continue;
            }
            if (getter.isAnnotationPresent(Deprecated.class) && isSet(field)) {
                problems.add(join(path, name) + " is deprecated in " + value.getClass().getSimpleName()
                        + " (not part of the current API version)");
            }
            walk(field, join(path, name), problems, depth + 1);
        }
    }

    private static boolean isSet(Object field) {
        return field != null && !(field instanceof Collection<?> c && c.isEmpty()) && !(field instanceof Map<?, ?> m && m.isEmpty());
    }

    private static boolean isModel(Class<?> type) {
        String name = type.getName();
        return name.startsWith("io.fabric8.kubernetes.api.model.") || name.startsWith("io.strimzi.api.");
    }

    private static Object invoke(Method getter, Object target, String path) {
        try {
            return getter.invoke(target);
        } catch (IllegalAccessException | InvocationTargetException e) {
            throw new IllegalStateException("cannot read " + join(path, getter.getName()) + " of "
                    + target.getClass().getName() + ": " + e, e);
        }
    }

    private static String join(String path, String name) {
        return path.isEmpty() ? name : path + "." + name;
    }
}

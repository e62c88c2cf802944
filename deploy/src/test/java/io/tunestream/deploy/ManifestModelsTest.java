package io.tunestream.deploy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/** Every manifest under k8s/ (resources and patches) parses into typed models, field by field. */
class ManifestModelsTest {

    private static ManifestFiles.Document document(String yaml) throws Exception {
        JsonNode tree = new YAMLMapper().readTree(yaml);
        return new ManifestFiles.Document(ManifestFiles.k8s().resolve("test.yaml"), 0, tree);
    }

    @Test
    void shouldParseEveryManifestIntoTypedModelsWithNoUnknownOrDeprecatedField() {
        List<String> problems = new ArrayList<>();
        int documents = 0;
        for (ManifestFiles.Document document : ManifestFiles.documents(ManifestFiles.k8s())) {
            documents++;
            try {
                TypedManifests.Typed typed = TypedManifests.parse(document);
                TypedManifests.unknownOrDeprecatedFields(typed.model())
                        .forEach(p -> problems.add(document.where() + ": " + p));
            } catch (IllegalArgumentException e) {
                problems.add(e.getMessage());
            }
        }

        assertThat(documents).as("documents under k8s/").isGreaterThan(30);
        assertThat(problems).isEmpty();
    }

    @Test
    void shouldReferenceEveryManifestFileFromAKustomization() {
        Set<Path> referenced = new TreeSet<>();
        List<Path> files = ManifestFiles.yamlFiles(ManifestFiles.k8s());
        for (Path file : files) {
            if (ManifestFiles.isKustomization(file)) {
                referenced.addAll(ManifestFiles.referencedBy(file));
            }
        }
        Set<Path> orphans = new TreeSet<>();
        for (Path file : files) {
            boolean overlay = file.getParent().getParent().equals(ManifestFiles.k8s().resolve("overlays"));
            boolean used = ManifestFiles.isKustomization(file) ? overlay || referenced.contains(file.getParent())
                    : referenced.contains(file);
            if (!used) {
                orphans.add(file);
            }
        }

        assertThat(orphans).as("files no kustomization applies").isEmpty();
        assertThat(referenced).as("every file a kustomization names exists").allMatch(p -> p.toFile().exists());
    }

    @Test
    void shouldReportAFieldTheModelDoesNotKnow() throws Exception {
        var typed = TypedManifests.parse(document("""
                apiVersion: apps/v1
                kind: Deployment
                metadata: {name: x}
                spec:
                  template:
                    spec:
                      containers:
                        - name: c
                          image: i
                          envFrom: [{configMapRef: {name: m}}]
                          readinessProbes: {}
                """));

        assertThat(TypedManifests.unknownOrDeprecatedFields(typed.model()))
                .containsExactly("spec.template.spec.containers[0].readinessProbes is not a field of Container");
    }

    @Test
    void shouldReportAStrimziFieldThatTheV1ApiRemoved() throws Exception {
        var typed = TypedManifests.parse(document("""
                apiVersion: kafka.strimzi.io/v1
                kind: Kafka
                metadata: {name: k}
                spec:
                  kafka:
                    replicas: 3
                    listeners: [{name: tls, port: 9093, type: internal, tls: true}]
                """));

        assertThat(TypedManifests.unknownOrDeprecatedFields(typed.model()))
                .containsExactly("spec.kafka.replicas is deprecated in KafkaClusterSpec (not part of the current API version)");
    }

    @Test
    void shouldRefuseAStrimziKindAtAnotherApiVersion() throws Exception {
        assertThatThrownBy(() -> TypedManifests.parse(document("""
                apiVersion: kafka.strimzi.io/v1beta2
                kind: KafkaTopic
                metadata: {name: t}
                """))).hasMessageContaining("kafka.strimzi.io/v1beta2 KafkaTopic is not one of the Strimzi kinds used here, all at kafka.strimzi.io/v1");
    }

    @Test
    void shouldRefuseAKedaKeyThatKedaDoesNotDocument() throws Exception {
        assertThatThrownBy(() -> TypedManifests.parse(document("""
                apiVersion: keda.sh/v1alpha1
                kind: ScaledObject
                metadata: {name: s}
                spec:
                  scaleTargetRef: {name: x}
                  maxReplicas: 6
                """))).hasMessageContaining("not a documented ScaledObject").hasMessageContaining("maxReplicas");
    }

    @Test
    void shouldRefuseAKedaKindAtAnotherApiVersion() throws Exception {
        assertThatThrownBy(() -> TypedManifests.parse(document("""
                apiVersion: keda.sh/v1
                kind: ScaledObject
                metadata: {name: s}
                """))).hasMessageContaining("KEDA's kinds are at keda.sh/v1alpha1, not keda.sh/v1");
    }

    @Test
    void shouldRefuseAKindNoModelKnows() throws Exception {
        assertThatThrownBy(() -> TypedManifests.parse(document("""
                apiVersion: example.com/v1
                kind: Widget
                metadata: {name: w}
                """))).hasMessageContaining("no fabric8 model for example.com/v1 Widget");
    }
}

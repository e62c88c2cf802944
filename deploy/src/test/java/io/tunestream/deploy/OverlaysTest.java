package io.tunestream.deploy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.strimzi.api.kafka.model.topic.KafkaTopic;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The overlays as kustomize renders them ({@code kubectl kustomize}, when kubectl is on the PATH; skipped
 * otherwise): every rendered resource typed and clean, and every workload check of the base still holding.
 */
class OverlaysTest {

    /** Components and {@code labels} need kustomize 4 or later (kubectl 1.21+ embeds it). */
    private static final Pattern KUSTOMIZE_VERSION = Pattern.compile("Kustomize Version: v(\\d+)");

    private static String kubectlVersion;

    private static synchronized String kubectlVersion() throws IOException, InterruptedException {
        if (kubectlVersion == null) {
            kubectlVersion = run(List.of("kubectl", "version", "--client"));
        }
        return kubectlVersion;
    }

    private static String render(Path overlay) throws IOException, InterruptedException {
        String version = kubectlVersion();
        Matcher m = KUSTOMIZE_VERSION.matcher(version);
        assumeTrue(m.find() && Integer.parseInt(m.group(1)) >= 4,
                "kubectl's kustomize is older than v4 or unknown: the overlays are not rendered (" + version.strip() + ")");
        return run(List.of("kubectl", "kustomize", overlay.toString()));
    }

    private static String run(List<String> command) throws IOException, InterruptedException {
        Process kubectl;
        try {
            kubectl = new ProcessBuilder(command).start();
        } catch (IOException e) {
            assumeTrue(false, "kubectl is not installed: the overlays are not rendered (" + e.getMessage() + ")");
            throw e;
        }
        kubectl.getOutputStream().close();
        byte[] out = kubectl.getInputStream().readAllBytes();
        byte[] err = kubectl.getErrorStream().readAllBytes();
        if (!kubectl.waitFor(60, TimeUnit.SECONDS)) {
            kubectl.destroyForcibly();
            throw new AssertionError(String.join(" ", command) + " did not finish within 60 s");
        }
        assertThat(kubectl.exitValue()).as(String.join(" ", command) + ": " + new String(err, StandardCharsets.UTF_8))
                .isZero();
        return new String(out, StandardCharsets.UTF_8);
    }

    @ParameterizedTest
    @ValueSource(strings = {"dev", "gpu"})
    void shouldRenderAnOverlayThatPassesEveryCheckOfTheBase(String name) throws Exception {
        Path overlay = ManifestFiles.k8s().resolve("overlays").resolve(name);
        Bundle rendered = Bundle.rendered(overlay, render(overlay));

        List<String> problems = new ArrayList<>();
        rendered.typed().forEach(t -> TypedManifests.unknownOrDeprecatedFields(t.model())
                .forEach(p -> problems.add(t.document().where() + ": " + p)));
        problems.addAll(Checks.environment(rendered));
        problems.addAll(Checks.ports(rendered));
        problems.addAll(Checks.podSecurityAndResources(rendered));
        problems.addAll(Checks.serviceScratchSpace(rendered));
        problems.addAll(Checks.disruptionBudgets(rendered));
        problems.addAll(Checks.networkPolicies(rendered));
        problems.addAll(KafkaChecks.topics(rendered));
        problems.addAll(KafkaChecks.users(rendered));
        problems.addAll(KafkaChecks.registryUser(rendered));
        problems.addAll(KafkaChecks.registryClient(rendered));
        problems.addAll(KafkaChecks.cluster(rendered));
        problems.addAll(KafkaChecks.clients(rendered));
        problems.addAll(KafkaChecks.autoscaling(rendered));

        assertThat(problems).isEmpty();
        assertThat(rendered.all(KafkaTopic.class)).allMatch(t -> "tunestream".equals(t.getMetadata().getNamespace()));
    }

    @ParameterizedTest
    @ValueSource(strings = {"dev"})
    void shouldRunTheDevOverlayOnOneKafkaNodeWithTheDemoModelOfTheImage(String name) throws Exception {
        Path overlay = ManifestFiles.k8s().resolve("overlays").resolve(name);
        Bundle dev = Bundle.rendered(overlay, render(overlay));

        assertThat(dev.all(KafkaTopic.class)).allMatch(t -> t.getSpec().getReplicas() == 1);
        assertThat(dev.get(ConfigMap.class, "tunestream").getData())
                .containsEntry("TUNESTREAM_MODEL_DIR", "/opt/tunestream/models/demo-gpt2")
                .containsEntry("TUNESTREAM_EXECUTION_PROVIDER", "CPU");
        assertThat(dev.all(PersistentVolumeClaim.class)).isEmpty();
        assertThat(dev.get(Deployment.class, "registry").getSpec().getTemplate().getSpec().getContainers().get(0).getEnv())
                .noneMatch(v -> v.getName().startsWith("QUARKUS_OIDC"));
        for (String workload : List.of("inference-stream", "trainer")) {
            var container = Checks.container(dev.get(StatefulSet.class, workload).getSpec().getTemplate(), workload);
            assertThat(container.getEnv()).as(workload).noneMatch(v -> v.getName().startsWith("TUNESTREAM_REGISTRY_AUTH_"));
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"gpu"})
    void shouldRunTheGpuOverlayOnGpusWithTheModelVolumeAndRegistryAuthentication(String name) throws Exception {
        Path overlay = ManifestFiles.k8s().resolve("overlays").resolve(name);
        Bundle gpu = Bundle.rendered(overlay, render(overlay));

        String modelDir = gpu.get(ConfigMap.class, "tunestream").getData().get("TUNESTREAM_MODEL_DIR");
        assertThat(gpu.get(ConfigMap.class, "tunestream").getData()).containsEntry("TUNESTREAM_EXECUTION_PROVIDER", "CUDA");
        for (String workload : List.of("inference-stream", "trainer")) {
            var template = gpu.get(StatefulSet.class, workload).getSpec().getTemplate();
            var container = Checks.container(template, workload);
            assertThat(container.getImage()).as(workload).endsWith("-gpu:0.1.0");
            assertThat(container.getResources().getLimits()).as(workload).containsKey("nvidia.com/gpu");
            assertThat(container.getVolumeMounts()).as(workload)
                    .anyMatch(m -> modelDir.startsWith(m.getMountPath() + "/") && Boolean.TRUE.equals(m.getReadOnly())
                            && Checks.volume(template, m.getName()).map(v -> v.getPersistentVolumeClaim() != null
                            && "models".equals(v.getPersistentVolumeClaim().getClaimName())).orElse(false));
            // the registry demands a token here: each service has its own client, its secret a mounted file
            var env = container.getEnv();
            assertThat(env).as(workload)
                    .anyMatch(v -> v.getName().equals("TUNESTREAM_REGISTRY_AUTH_TOKEN_ENDPOINT") && v.getValue().startsWith("https://"))
                    .anyMatch(v -> v.getName().equals("TUNESTREAM_REGISTRY_AUTH_CLIENT_ID") && !v.getValue().isBlank())
                    .noneMatch(v -> v.getName().equals("TUNESTREAM_REGISTRY_AUTH_CLIENT_SECRET"));
            String secretFile = env.stream().filter(v -> v.getName().equals("TUNESTREAM_REGISTRY_AUTH_CLIENT_SECRET_FILE"))
                    .findFirst().orElseThrow(() -> new AssertionError(workload + " has no registry client secret file")).getValue();
            assertThat(container.getVolumeMounts()).as(workload)
                    .anyMatch(m -> secretFile.startsWith(m.getMountPath() + "/") && Boolean.TRUE.equals(m.getReadOnly())
                            && Checks.volume(template, m.getName()).map(v -> v.getSecret() != null
                            && "tunestream-registry-clients".equals(v.getSecret().getSecretName())).orElse(false));
        }
        Job loader = gpu.get(Job.class, "model-loader");
        assertThat(loader.getSpec().getTemplate().getSpec().getVolumes())
                .anyMatch(v -> v.getPersistentVolumeClaim() != null && "models".equals(v.getPersistentVolumeClaim().getClaimName()));
        assertThat(gpu.get(PersistentVolumeClaim.class, "models").getSpec().getAccessModes()).containsExactly("ReadWriteMany");
        assertThat(gpu.get(Deployment.class, "registry").getSpec().getTemplate().getSpec().getContainers().get(0).getEnv())
                .anyMatch(v -> v.getName().equals("QUARKUS_OIDC_TENANT_ENABLED") && "true".equals(v.getValue()))
                .anyMatch(v -> v.getName().equals("APICURIO_AUTH_ROLE_BASED_AUTHORIZATION") && "true".equals(v.getValue()));
    }
}

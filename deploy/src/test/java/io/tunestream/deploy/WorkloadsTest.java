package io.tunestream.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.tunestream.schemas.kafka.KafkaClientSettings;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** The workloads of k8s/base, and the patches of components and overlays, against the code. */
class WorkloadsTest {

    private final Bundle base = Bundle.of(ManifestFiles.k8s().resolve("base"));

    @Test
    void shouldSetOnlyVariablesTheServicesRead() {
        List<String> problems = new ArrayList<>(Checks.environment(base));
        problems.addAll(Checks.environment(Bundle.of(ManifestFiles.k8s().resolve("components"))));
        problems.addAll(Checks.environment(Bundle.of(ManifestFiles.k8s().resolve("overlays"))));

        assertThat(problems).isEmpty();
    }

    @Test
    void shouldNoticeAVariableNoServiceReads() {
        StatefulSet serving = base.get(StatefulSet.class, "inference-stream");
        serving.getSpec().getTemplate().getSpec().getContainers().get(0).getEnv()
                .add(new EnvVar("TUNESTREAM_BATCH_SIZE", "16", null));

        assertThat(Checks.environment(base)).singleElement().asString()
                .startsWith("StatefulSet/inference-stream sets TUNESTREAM_BATCH_SIZE, which SERVING does not read");
    }

    @Test
    void shouldKnowTheVariablesOfBothServices() {
        assertThat(Services.SERVING.variables()).contains("TUNESTREAM_BATCH_MAX_SIZE", "TUNESTREAM_APPLICATION_ID",
                KafkaClientSettings.envName("sasl.password.file")).doesNotContain("TUNESTREAM_TRAINER_GROUP_ID");
        assertThat(Services.TRAINER.variables()).contains("TUNESTREAM_TRAINER_GROUP_ID", "TUNESTREAM_MODEL_DIR",
                "TUNESTREAM_KAFKA_CONFIG").doesNotContain("TUNESTREAM_BATCH_MAX_SIZE");
    }

    @Test
    void shouldExposeThePortsTheServicesListenOn() {
        assertThat(Services.SERVING.defaultHttpPort()).isEqualTo(8081);
        assertThat(Services.TRAINER.defaultHttpPort()).isEqualTo(8080);
        assertThat(Checks.ports(base)).isEmpty();
    }

    @Test
    void shouldNoticeAContainerPortTheServiceDoesNotListenOn() {
        StatefulSet trainer = base.get(StatefulSet.class, "trainer");
        trainer.getSpec().getTemplate().getSpec().getContainers().get(0).getPorts().get(0).setContainerPort(8081);

        assertThat(Checks.ports(base)).containsExactly("StatefulSet/trainer: container port 'http' is 8081, the service listens on 8080");
    }

    @Test
    void shouldRunRestrictedPodsWithRequestsAndLimits() {
        assertThat(Checks.podSecurityAndResources(base)).isEmpty();
    }

    @Test
    void shouldGiveTheReadOnlyServicesTheirScratchSpaceAndAStartupProbe() {
        assertThat(Services.onnxRuntimeCache()).isEqualTo("/home/tunestream/.cache/tunestream/onnxruntime");
        assertThat(Checks.serviceScratchSpace(base)).isEmpty();
    }

    @Test
    void shouldCoverEveryWorkloadWithADisruptionBudgetAndANetworkPolicy() {
        assertThat(Checks.disruptionBudgets(base)).isEmpty();
        assertThat(Checks.networkPolicies(base)).isEmpty();
    }

    @Test
    void shouldRunNoMoreTrainerReplicasThanThePartitionsThatDecideTaskOwnership() {
        // a replica owns the tasks of the examples partitions its group assigns it: more would sit idle
        assertThat(base.get(StatefulSet.class, "trainer").getSpec().getReplicas())
                .isBetween(2, io.tunestream.schemas.Topics.EXAMPLES.partitions());
    }

    @Test
    void shouldBuildImagesThatRunAsTheUserOfThePods() throws IOException {
        Pattern user = Pattern.compile("(?m)^USER\\s+(\\S+)\\s*$");
        List<Path> dockerfiles;
        try (var files = Files.list(ManifestFiles.home().resolve("docker"))) {
            dockerfiles = files.filter(f -> f.toString().endsWith(".Dockerfile")).sorted().toList();
        }
        assertThat(dockerfiles).hasSizeGreaterThanOrEqualTo(5);
        for (Path dockerfile : dockerfiles) {
            Matcher m = user.matcher(Files.readString(dockerfile));
            String last = null;
            while (m.find()) {
                last = m.group(1);
            }
            assertThat(last).as(dockerfile + ": the last USER").isNotNull().matches("[1-9][0-9]*(:[1-9][0-9]*)?");
            if (!dockerfile.getFileName().toString().startsWith("model")) {
                assertThat(last).as(dockerfile + ": the uid the pods run as").startsWith("10001");
            }
        }
    }
}

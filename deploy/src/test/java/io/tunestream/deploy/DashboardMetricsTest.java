package io.tunestream.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.tunestream.schemas.ErrorKind;
import io.tunestream.schemas.RunStatus;
import io.tunestream.schemas.TrainingRun;
import io.tunestream.serving.ops.ServingMetrics;
import io.tunestream.trainer.loop.TrainerMetrics;
import io.tunestream.trainer.run.RunOutcome;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * The Grafana dashboard of the dev overlay queries only metrics the services export: every
 * {@code tunestream_*} name in its PromQL is one that {@link ServingMetrics} and {@link TrainerMetrics}
 * write to a real Prometheus registry after one of each of their events (so a renamed meter, a
 * missing {@code _total} or a timer without its histogram fails here, not on an empty panel).
 */
class DashboardMetricsTest {

    private static final Path DASHBOARD = ManifestFiles.k8s().resolve("overlays/dev/grafana/tunestream-dashboard.json");
    private static final Pattern METRIC = Pattern.compile("\\btunestream_[a-zA-Z0-9_:]*");

    @Test
    void shouldQueryOnlyMetricsThatServingAndTrainerExport() throws IOException {
        Map<String, String> queried = queriedMetrics();
        Set<String> exported = new TreeSet<>(exportedBy(servingRegistry()));
        exported.addAll(exportedBy(trainerRegistry()));

        assertThat(queried).as("metrics queried by %s", DASHBOARD).isNotEmpty();
        Map<String, String> unknown = new TreeMap<>(queried);
        unknown.keySet().removeAll(exported);
        assertThat(unknown).as("queried (metric -> panel) but not exported; exported: %s", exported).isEmpty();
    }

    @Test
    void shouldGiveEveryPanelAQueryOverTunestreamMetrics() throws IOException {
        List<String> withoutMetric = new ArrayList<>();
        for (JsonNode panel : dashboard().path("panels")) {
            for (JsonNode target : panel.path("targets")) {
                if (!METRIC.matcher(target.path("expr").asText()).find()) {
                    withoutMetric.add(panel.path("title").asText() + " " + target.path("refId").asText());
                }
            }
            assertThat(panel.path("targets").size()).as("queries of panel %s", panel.path("title")).isPositive();
        }
        assertThat(withoutMetric).isEmpty();
    }

    @Test
    void shouldBeProvisionedByTheDevOverlayForGrafanasSidecar() throws IOException {
        JsonNode kustomization = ManifestFiles.read(ManifestFiles.k8s().resolve("overlays/dev/kustomization.yaml"))
                .get(0).tree();
        JsonNode generator = kustomization.path("configMapGenerator").get(0);
        assertThat(generator.path("files").get(0).asText()).isEqualTo("grafana/tunestream-dashboard.json");
        assertThat(generator.path("options").path("labels").path("grafana_dashboard").asText()).isEqualTo("1");
    }

    /** Every tunestream metric name in the dashboard's expressions, with the first panel using it. */
    private static Map<String, String> queriedMetrics() throws IOException {
        Map<String, String> names = new TreeMap<>();
        for (JsonNode panel : dashboard().path("panels")) {
            for (JsonNode target : panel.path("targets")) {
                Matcher m = METRIC.matcher(target.path("expr").asText());
                while (m.find()) {
                    names.putIfAbsent(m.group(), panel.path("title").asText());
                }
            }
        }
        return names;
    }

    private static JsonNode dashboard() throws IOException {
        return new ObjectMapper().readTree(DASHBOARD.toFile());
    }

    /** The sample names of a scrape (text format: {@code name{labels} value}, comments left out). */
    private static Set<String> exportedBy(PrometheusMeterRegistry registry) {
        return Arrays.stream(registry.scrape().split("\n"))
                .filter(line -> !line.isBlank() && !line.startsWith("#"))
                .map(line -> line.split("[{ ]", 2)[0])
                .collect(Collectors.toCollection(TreeSet::new));
    }

    private static PrometheusMeterRegistry servingRegistry() {
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        ServingMetrics metrics = new ServingMetrics(registry);
        metrics.batchRan(4, Duration.ofMillis(120), 32);
        metrics.queued(Duration.ofMillis(15));
        metrics.answered("squad", 1);
        metrics.answered("squad", null);
        metrics.errorAnswered(ErrorKind.TIMEOUT);
        metrics.adapterRefused("squad", "signature");
        metrics.batchTimedOut(4);
        metrics.batchesHandedBack(1);
        metrics.batchRefusedByExecutor();
        metrics.batchRetried();
        metrics.batchSplit();
        metrics.duplicate();
        metrics.backPressureWaited(Duration.ofMillis(3));
        metrics.answerShrunk();
        metrics.deadLettered("requests", "poison");
        metrics.registryWait("requests");
        metrics.templateRefused("squad", "unknown field");
        return registry;
    }

    private static PrometheusMeterRegistry trainerRegistry() {
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        TrainerMetrics metrics = new TrainerMetrics(registry);
        metrics.runStarted("squad");
        metrics.runEnded("squad", new RunOutcome.NotPublished(TrainingRun.newBuilder().setRunId("r1").setTask("squad")
                .setStatus(RunStatus.NOT_PUBLISHED).setSkipped(Map.of("too_long", 1L)).build()), Duration.ofSeconds(30));
        metrics.example("squad");
        metrics.skipped("too_long", 1);
        metrics.deadLettered("examples");
        metrics.retry("registry");
        metrics.deleted("squad");
        metrics.feedback("good");
        return registry;
    }
}

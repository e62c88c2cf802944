package io.tunestream.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.tunestream.schemas.AdapterCheckpoint;
import io.tunestream.schemas.AdapterVersion;
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
    private static final Pattern SELECTOR = Pattern.compile("\\b(tunestream_[a-zA-Z0-9_:]*)\\{([^}]*)}");
    private static final Pattern EQUALS = Pattern.compile("([a-zA-Z_][a-zA-Z0-9_]*)\\s*=\\s*\"([^\"]*)\"");
    private static final Pattern BY = Pattern.compile("\\bby\\s*\\(([^)]*)\\)");
    private static final Pattern SAMPLE_LABEL = Pattern.compile("([a-zA-Z_][a-zA-Z0-9_]*)=\"([^\"]*)\"");

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
    void shouldGroupAndFilterOnlyByLabelsAndValuesTheMetricsHave() throws IOException {
        Map<String, Set<String>> labels = new TreeMap<>(labelsBy(servingRegistry()));
        labels.putAll(labelsBy(trainerRegistry()));
        List<String> wrong = new ArrayList<>();
        for (JsonNode panel : dashboard().path("panels")) {
            for (JsonNode target : panel.path("targets")) {
                String expr = target.path("expr").asText();
                Matcher selector = SELECTOR.matcher(expr);
                while (selector.find()) {
                    Set<String> has = labels.getOrDefault(selector.group(1), Set.of());
                    for (String matcher : selector.group(2).split(",")) {
                        Matcher eq = EQUALS.matcher(matcher.strip());
                        if (eq.matches() && !has.contains(eq.group(1) + "=" + eq.group(2))) {
                            wrong.add(selector.group() + " (" + selector.group(1) + " has " + has + ")");
                        }
                    }
                }
                Matcher by = BY.matcher(expr);
                while (by.find()) {
                    Matcher metric = METRIC.matcher(expr);
                    while (metric.find()) {
                        Set<String> names = labels.getOrDefault(metric.group(), Set.of()).stream()
                                .map(l -> l.substring(0, l.indexOf('='))).collect(Collectors.toSet());
                        for (String label : by.group(1).split(",")) {
                            if (!names.contains(label.strip())) {
                                wrong.add(panel.path("title").asText() + ": by " + label.strip() + " but "
                                        + metric.group() + " has labels " + names);
                            }
                        }
                    }
                }
            }
        }
        assertThat(wrong).isEmpty();
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

    /** Per sample name of a scrape, its {@code label=value} pairs. */
    private static Map<String, Set<String>> labelsBy(PrometheusMeterRegistry registry) {
        Map<String, Set<String>> labels = new TreeMap<>();
        for (String line : registry.scrape().split("\n")) {
            if (line.isBlank() || line.startsWith("#")) {
                continue;
            }
            String name = line.split("[{ ]", 2)[0];
            Set<String> pairs = labels.computeIfAbsent(name, n -> new TreeSet<>());
            int open = line.indexOf('{');
            if (open >= 0) {
                Matcher m = SAMPLE_LABEL.matcher(line.substring(open, line.indexOf('}') + 1));
                while (m.find()) {
                    pairs.add(m.group(1) + "=" + m.group(2));
                }
            }
        }
        return labels;
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
        metrics.progress("squad", run("r0", RunStatus.RUNNING));
        // the metrics read only the run record of an outcome: the published adapter and checkpoint stay empty
        metrics.runEnded("squad", new RunOutcome.Published(new AdapterVersion(), new AdapterCheckpoint(),
                run("r1", RunStatus.PUBLISHED)), Duration.ofSeconds(30));
        metrics.runEnded("squad", new RunOutcome.NotPublished(run("r2", RunStatus.NOT_PUBLISHED)), Duration.ofSeconds(30));
        metrics.runEnded("squad", new RunOutcome.Failed(run("r3", RunStatus.FAILED)), Duration.ofSeconds(30));
        metrics.example("squad");
        metrics.skipped("too_long", 1);
        metrics.deadLettered("examples");
        metrics.retry("registry");
        metrics.deleted("squad");
        metrics.feedback("good");
        return registry;
    }

    private static TrainingRun run(String id, RunStatus status) {
        return TrainingRun.newBuilder().setRunId(id).setTask("squad").setStatus(status)
                .setSkipped(Map.of("too_long", 1L)).build();
    }
}

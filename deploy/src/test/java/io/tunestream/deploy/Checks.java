package io.tunestream.deploy;

import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerPort;
import io.fabric8.kubernetes.api.model.EnvFromSource;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.PodSecurityContext;
import io.fabric8.kubernetes.api.model.PodTemplateSpec;
import io.fabric8.kubernetes.api.model.Probe;
import io.fabric8.kubernetes.api.model.SecurityContext;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServicePort;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicy;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyPort;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudget;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * Checks of workloads that hold for the base and for every rendered overlay; each returns the problems it
 * found, each naming the resource and field.
 */
final class Checks {

    private static final String ENV_PREFIX = "TUNESTREAM_";

    private Checks() {
    }

    /** The pod templates of the bundle's Deployments, StatefulSets and Jobs, by "Kind/name". */
    static Map<String, PodTemplateSpec> podTemplates(Bundle bundle) {
        Map<String, PodTemplateSpec> templates = new LinkedHashMap<>();
        bundle.all(Deployment.class).forEach(d -> templates.put("Deployment/" + d.getMetadata().getName(), d.getSpec().getTemplate()));
        bundle.all(StatefulSet.class).forEach(s -> templates.put("StatefulSet/" + s.getMetadata().getName(), s.getSpec().getTemplate()));
        bundle.all(Job.class).forEach(j -> templates.put("Job/" + j.getMetadata().getName(), j.getSpec().getTemplate()));
        return templates;
    }

    /**
     * Restricted pods: non-root, read-only root filesystem, no privilege escalation, every capability
     * dropped, RuntimeDefault seccomp; requests and limits of cpu and memory on every container.
     */
    static List<String> podSecurityAndResources(Bundle bundle) {
        List<String> problems = new ArrayList<>();
        podTemplates(bundle).forEach((workload, template) -> {
            PodSecurityContext pod = Optional.ofNullable(template.getSpec().getSecurityContext()).orElse(new PodSecurityContext());
            if (!Boolean.TRUE.equals(pod.getRunAsNonRoot())) {
                problems.add(workload + ": securityContext.runAsNonRoot is not true");
            }
            if (pod.getRunAsUser() == null || pod.getRunAsUser() == 0) {
                problems.add(workload + ": securityContext.runAsUser must name a non-root uid (runAsNonRoot cannot check a user name)");
            }
            if (pod.getSeccompProfile() == null || !"RuntimeDefault".equals(pod.getSeccompProfile().getType())) {
                problems.add(workload + ": securityContext.seccompProfile is not RuntimeDefault");
            }
            List<Container> containers = new ArrayList<>(template.getSpec().getContainers());
            containers.addAll(template.getSpec().getInitContainers());
            for (Container c : containers) {
                String where = workload + " container " + c.getName();
                SecurityContext sc = Optional.ofNullable(c.getSecurityContext()).orElse(new SecurityContext());
                if (!Boolean.TRUE.equals(sc.getReadOnlyRootFilesystem())) {
                    problems.add(where + ": readOnlyRootFilesystem is not true");
                }
                if (!Boolean.FALSE.equals(sc.getAllowPrivilegeEscalation())) {
                    problems.add(where + ": allowPrivilegeEscalation is not false");
                }
                if (sc.getCapabilities() == null || !sc.getCapabilities().getDrop().contains("ALL")) {
                    problems.add(where + ": capabilities.drop does not hold ALL");
                }
                if (c.getResources() == null) {
                    problems.add(where + ": no resources");
                    continue;
                }
                for (String resource : List.of("cpu", "memory")) {
                    if (!c.getResources().getRequests().containsKey(resource)) {
                        problems.add(where + ": no " + resource + " request");
                    }
                    if (!c.getResources().getLimits().containsKey(resource)) {
                        problems.add(where + ": no " + resource + " limit");
                    }
                }
            }
        });
        return problems;
    }

    /**
     * Serving and the trainer: a startup probe (the model load), and writable emptyDir mounts where the
     * read-only image needs to write: /tmp, ONNX Runtime's native-library cache and DJL's cache (the
     * directory DJL_CACHE_DIR names).
     */
    static List<String> serviceScratchSpace(Bundle bundle) {
        List<String> problems = new ArrayList<>();
        for (Services service : Services.values()) {
            StatefulSet set = bundle.get(StatefulSet.class, service.workload);
            Container c = container(set.getSpec().getTemplate(), service.workload);
            String where = "StatefulSet/" + service.workload;
            if (c.getStartupProbe() == null) {
                problems.add(where + ": no startupProbe (the model load)");
            }
            Map<String, String> emptyDirs = new LinkedHashMap<>();
            for (VolumeMount mount : c.getVolumeMounts()) {
                set.getSpec().getTemplate().getSpec().getVolumes().stream()
                        .filter(v -> v.getName().equals(mount.getName()) && v.getEmptyDir() != null)
                        .findFirst().ifPresent(v -> emptyDirs.put(mount.getMountPath(), v.getName()));
            }
            String djlCache = env(c).get("DJL_CACHE_DIR");
            for (String path : new String[] {"/tmp", Services.onnxRuntimeCache(), djlCache}) {
                if (path == null) {
                    problems.add(where + ": DJL_CACHE_DIR is not set (DJL would write into the read-only home)");
                } else if (!emptyDirs.containsKey(path)) {
                    problems.add(where + ": no emptyDir mounted at " + path + " (mounted: " + emptyDirs.keySet() + ")");
                }
            }
        }
        return problems;
    }

    /** A PodDisruptionBudget selecting the pods of every Deployment and StatefulSet. */
    static List<String> disruptionBudgets(Bundle bundle) {
        List<String> problems = new ArrayList<>();
        Map<String, PodTemplateSpec> templates = podTemplates(bundle);
        templates.forEach((workload, template) -> {
            if (workload.startsWith("Job/")) {
                return;
            }
            boolean covered = bundle.all(PodDisruptionBudget.class).stream()
                    .anyMatch(pdb -> selects(pdb.getSpec().getSelector().getMatchLabels(), template.getMetadata().getLabels()));
            if (!covered) {
                problems.add(workload + ": no PodDisruptionBudget selects its pods");
            }
        });
        return problems;
    }

    /** A NetworkPolicy of its own for serving, the trainer and the registry, besides the namespace's default deny. */
    static List<String> networkPolicies(Bundle bundle) {
        List<String> problems = new ArrayList<>();
        boolean defaultDeny = bundle.all(NetworkPolicy.class).stream().anyMatch(p ->
                p.getSpec().getPodSelector().getMatchLabels().isEmpty() && p.getSpec().getPodSelector().getMatchExpressions().isEmpty()
                        && p.getSpec().getPolicyTypes().contains("Ingress") && p.getSpec().getIngress().isEmpty());
        if (!defaultDeny) {
            problems.add("no NetworkPolicy denies ingress to every pod of the namespace by default");
        }
        for (String workload : List.of("StatefulSet/inference-stream", "StatefulSet/trainer", "Deployment/registry")) {
            PodTemplateSpec template = podTemplates(bundle).get(workload);
            if (template == null) {
                problems.add(workload + " is missing");
                continue;
            }
            boolean own = bundle.all(NetworkPolicy.class).stream().anyMatch(p ->
                    !p.getSpec().getPodSelector().getMatchLabels().isEmpty()
                            && selects(p.getSpec().getPodSelector().getMatchLabels(), template.getMetadata().getLabels()));
            if (!own) {
                problems.add(workload + ": no NetworkPolicy of its own");
            }
        }
        return problems;
    }

    /**
     * The TUNESTREAM_* variables set for serving and the trainer (in their containers and in the
     * ConfigMaps they load) are ones the service reads: a misspelt variable is silently ignored, since the
     * environment holds other programs' variables too. Works on patches as well as whole resources.
     */
    static List<String> environment(Bundle bundle) {
        List<String> problems = new ArrayList<>();
        Map<String, List<Services>> configMapReaders = new LinkedHashMap<>();
        for (Services service : Services.values()) {
            var variables = service.variables();
            for (StatefulSet set : bundle.all(StatefulSet.class)) {
                if (!service.workload.equals(set.getMetadata().getName())) {
                    continue;
                }
                for (Container c : set.getSpec().getTemplate().getSpec().getContainers()) {
                    if (!c.getName().equals(service.workload)) {
                        continue;
                    }
                    for (EnvVar var : c.getEnv()) {
                        if (var.getName().startsWith(ENV_PREFIX) && !variables.contains(var.getName())) {
                            problems.add("StatefulSet/" + service.workload + " sets " + var.getName() + ", which "
                                    + service + " does not read; it reads " + variables);
                        }
                    }
                    for (EnvFromSource from : c.getEnvFrom()) {
                        if (from.getConfigMapRef() != null) {
                            configMapReaders.computeIfAbsent(from.getConfigMapRef().getName(), n -> new ArrayList<>()).add(service);
                        }
                    }
                }
            }
        }
        // the shared ConfigMap, also where only a patch of it is in the bundle
        configMapReaders.putIfAbsent("tunestream", List.of(Services.values()));
        for (ConfigMap map : bundle.all(ConfigMap.class)) {
            List<Services> readers = configMapReaders.get(map.getMetadata().getName());
            if (readers == null) {
                continue;
            }
            for (String key : map.getData().keySet()) {
                for (Services reader : readers) {
                    if (key.startsWith(ENV_PREFIX) && !reader.variables().contains(key)) {
                        problems.add("ConfigMap/" + map.getMetadata().getName() + " sets " + key + ", which " + reader
                                + " (loading it whole) does not read");
                    }
                }
            }
        }
        return problems;
    }

    /**
     * The HTTP port of serving and the trainer is the one the service listens on (TUNESTREAM_HTTP_PORT if set,
     * else its default), and the container port, probes, Service, NetworkPolicy and scrape annotation all
     * use it.
     */
    static List<String> ports(Bundle bundle) {
        List<String> problems = new ArrayList<>();
        for (Services service : Services.values()) {
            StatefulSet set = bundle.get(StatefulSet.class, service.workload);
            PodTemplateSpec template = set.getSpec().getTemplate();
            Container c = container(template, service.workload);
            String where = "StatefulSet/" + service.workload;
            int port = Optional.ofNullable(env(c).get("TUNESTREAM_HTTP_PORT")).map(Integer::parseInt)
                    .orElse(service.defaultHttpPort());
            Optional<ContainerPort> http = c.getPorts().stream().filter(p -> "http".equals(p.getName())).findFirst();
            if (http.isEmpty() || http.get().getContainerPort() != port) {
                problems.add(where + ": container port 'http' is " + http.map(ContainerPort::getContainerPort).orElse(null)
                        + ", the service listens on " + port);
            }
            for (Probe probe : new Probe[] {c.getStartupProbe(), c.getLivenessProbe(), c.getReadinessProbe()}) {
                if (probe != null && probe.getHttpGet() != null && !samePort(probe.getHttpGet().getPort(), port)) {
                    problems.add(where + ": a probe uses port " + probe.getHttpGet().getPort() + ", not " + port);
                }
            }
            String annotated = template.getMetadata().getAnnotations().get("prometheus.io/port");
            if (annotated != null && !annotated.equals(Integer.toString(port))) {
                problems.add(where + ": prometheus.io/port is " + annotated + ", not " + port);
            }
            for (Service svc : bundle.all(Service.class)) {
                if (selects(svc.getSpec().getSelector(), template.getMetadata().getLabels())) {
                    for (ServicePort sp : svc.getSpec().getPorts()) {
                        IntOrString target = Optional.ofNullable(sp.getTargetPort()).orElse(new IntOrString(sp.getPort()));
                        if (!samePort(target, port)) {
                            problems.add("Service/" + svc.getMetadata().getName() + ": targetPort " + target + " is not " + port);
                        }
                    }
                }
            }
            for (NetworkPolicy policy : bundle.all(NetworkPolicy.class)) {
                if (!policy.getSpec().getPodSelector().getMatchLabels().isEmpty()
                        && selects(policy.getSpec().getPodSelector().getMatchLabels(), template.getMetadata().getLabels())) {
                    policy.getSpec().getIngress().forEach(rule -> {
                        for (NetworkPolicyPort p : rule.getPorts()) {
                            if (!samePort(p.getPort(), port)) {
                                problems.add("NetworkPolicy/" + policy.getMetadata().getName() + ": ingress port " + p.getPort()
                                        + " is not " + port);
                            }
                        }
                    });
                }
            }
        }
        return problems;
    }

    static Container container(PodTemplateSpec template, String name) {
        return template.getSpec().getContainers().stream().filter(c -> c.getName().equals(name)).findFirst()
                .orElseThrow(() -> new AssertionError("no container " + name));
    }

    /** The literal env values of a container. */
    static Map<String, String> env(Container c) {
        Map<String, String> env = new LinkedHashMap<>();
        c.getEnv().stream().filter(v -> v.getValue() != null).forEach(v -> env.put(v.getName(), v.getValue()));
        return env;
    }

    /** A container's variables: its ConfigMaps' (envFrom) first, its own env over them. */
    static Map<String, String> effectiveEnv(Bundle bundle, Container c) {
        Map<String, String> env = new LinkedHashMap<>();
        for (EnvFromSource from : c.getEnvFrom()) {
            if (from.getConfigMapRef() != null) {
                bundle.find(ConfigMap.class, from.getConfigMapRef().getName()).ifPresent(m -> env.putAll(m.getData()));
            }
        }
        env.putAll(env(c));
        return env;
    }

    static Optional<Volume> volume(PodTemplateSpec template, String name) {
        return template.getSpec().getVolumes().stream().filter(v -> v.getName().equals(name)).findFirst();
    }

    static boolean selects(Map<String, String> selector, Map<String, String> labels) {
        return selector != null && !selector.isEmpty() && labels != null
                && selector.entrySet().stream().allMatch(e -> Objects.equals(labels.get(e.getKey()), e.getValue()));
    }

    private static boolean samePort(IntOrString port, int number) {
        if (port == null) {
            return false;
        }
        return port.getIntVal() != null ? port.getIntVal() == number : "http".equals(port.getStrVal());
    }
}

package io.tunestream.deploy;

import io.tunestream.model.onnx.NativeLibraryCache;
import io.tunestream.schemas.kafka.KafkaClientSettings;
import io.tunestream.serving.ServingConfig;
import io.tunestream.serving.ServingVariables;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * What the code of serving and the trainer reads and serves, which the manifests must agree with: their
 * environment variables and default HTTP ports.
 */
enum Services {

    /** The serving app: its workload and container are named {@code inference-stream}. */
    SERVING("inference-stream"),
    /** The trainer (Quarkus). */
    TRAINER("trainer");

    /** The image user of docker/*.Dockerfile, whose home holds the caches. */
    static final String IMAGE_HOME = "/home/tunestream";

    private static final Pattern TRAINER_VARIABLE = Pattern.compile("\\$\\{(TUNESTREAM_[A-Z0-9_]+)");
    private static final Pattern TRAINER_PORT = Pattern.compile("(?m)^quarkus\\.http\\.port=\\$\\{TUNESTREAM_HTTP_PORT:(\\d+)}");

    final String workload;

    Services(String workload) {
        this.workload = workload;
    }

    /** The TUNESTREAM_* variables the service reads: its own, and the Kafka client settings every client reads. */
    Set<String> variables() {
        Set<String> variables = new TreeSet<>(KafkaClientSettings.ENVIRONMENT_KEYS.stream()
                .map(KafkaClientSettings::envName).collect(Collectors.toSet()));
        variables.add(KafkaClientSettings.CONFIG_FILE_ENV);
        if (this == SERVING) {
            variables.addAll(ServingVariables.names());
        } else {
            Matcher m = TRAINER_VARIABLE.matcher(trainerProperties());
            while (m.find()) {
                variables.add(m.group(1));
            }
        }
        return variables;
    }

    /** The HTTP port (metrics and health) when TUNESTREAM_HTTP_PORT is not set. */
    int defaultHttpPort() {
        if (this == SERVING) {
            // signatures off: the port does not depend on them, and the trusted key files exist only in the pod
            return ServingConfig.fromMap(Map.of("bootstrap.servers", "kafka:9093", "registry.url", "http://registry:8080",
                    "model.dir", ManifestFiles.home().resolve("models/demo-gpt2").toString(),
                    "adapters.verify.signatures", "false")).httpPort();
        }
        Matcher m = TRAINER_PORT.matcher(trainerProperties());
        if (!m.find()) {
            throw new AssertionError("trainer/src/main/resources/application.properties no longer maps quarkus.http.port"
                    + " to TUNESTREAM_HTTP_PORT with a default");
        }
        return Integer.parseInt(m.group(1));
    }

    /** Where ONNX Runtime's native-library cache is for the image user (NativeLibraryCache#defaultRoot). */
    static String onnxRuntimeCache() {
        Path home = Path.of(System.getProperty("user.home"));
        return Path.of(IMAGE_HOME).resolve(home.relativize(NativeLibraryCache.defaultRoot())).toString();
    }

    private static String trainerProperties() {
        Path file = ManifestFiles.home().resolve("trainer/src/main/resources/application.properties");
        try {
            return Files.readString(file);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file, e);
        }
    }
}

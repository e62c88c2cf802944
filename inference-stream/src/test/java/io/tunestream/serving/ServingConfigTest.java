package io.tunestream.serving;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ServingConfigTest {

    @TempDir
    Path dir;

    private Path file(String content) throws Exception {
        Path f = dir.resolve("serving.properties");
        Files.writeString(f, content);
        return f;
    }

    private String required() {
        return "bootstrap.servers=localhost:9092\nregistry.url=http://localhost:8080\nmodel.dir=" + dir + "\n";
    }

    @Test
    void shouldReadTheFileAndApplyDefaults() throws Exception {
        ServingConfig config = ServingConfig.load(Optional.of(file(required())), Map.of());

        assertThat(config.bootstrapServers()).isEqualTo("localhost:9092");
        assertThat(config.registryUrl()).isEqualTo("http://localhost:8080");
        assertThat(config.modelDir()).isEqualTo(dir);
        assertThat(config.executionProvider()).isEqualTo("CPU");
        assertThat(config.maxBatchSize()).isEqualTo(8);
        assertThat(config.parallelDecodeRows()).isEqualTo(16);
        assertThat(config.cudaDeviceId()).isZero();
        assertThat(config.maxWait()).isEqualTo(Duration.ofMillis(50));
        assertThat(config.batching().punctuateInterval()).isEqualTo(Duration.ofMillis(12));
        assertThat(config.applicationId()).isEqualTo("tunestream-serving");
        assertThat(config.topics().requests()).isEqualTo("requests");
    }

    @Test
    void shouldAcceptTheExampleConfigurationOfTheModule() {
        Path home = Path.of(System.getProperty("tunestream.home", ".."));

        ServingConfig config = ServingConfig.load(Optional.of(home.resolve("inference-stream/serving.properties")),
                Map.of("TUNESTREAM_MODEL_DIR", home.resolve("models/demo-gpt2").toString()));

        assertThat(config.bootstrapServers()).isEqualTo("127.0.0.1:9092");
        assertThat(config.httpPort()).isEqualTo(8081);
        assertThat(config.modelWorkers()).isEqualTo(1);
    }

    @Test
    void shouldLetEnvironmentVariablesOverrideTheFile() throws Exception {
        Path f = file(required() + "batch.max.size=4\n");

        ServingConfig config = ServingConfig.load(Optional.of(f), Map.of(
                "TUNESTREAM_BATCH_MAX_SIZE", "16",
                "TUNESTREAM_BOOTSTRAP_SERVERS", "kafka:9092",
                "TUNESTREAM_EXECUTION_PROVIDER", "cuda",
                "TUNESTREAM_BATCH_MAX_WAIT_MS", "20",
                "TUNESTREAM_THREADS", "2"));

        assertThat(config.maxBatchSize()).isEqualTo(16);
        assertThat(config.bootstrapServers()).isEqualTo("kafka:9092");
        assertThat(config.executionProvider()).isEqualTo("CUDA");
        assertThat(config.maxWait()).isEqualTo(Duration.ofMillis(20));
        assertThat(config.threads()).isEqualTo(2);
    }

    @Test
    void shouldPassKafkaPrefixedKeysToKafkaStreams() throws Exception {
        ServingConfig config = ServingConfig.load(Optional.of(file(required() + "kafka.max.poll.interval.ms=60000\n")),
                Map.of());

        assertThat(config.kafka()).containsExactly(Map.entry("max.poll.interval.ms", "60000"));
    }

    @Test
    void shouldNameTheKeyAndItsVariableWhenAValueIsBad() throws Exception {
        Path f = file(required() + "batch.max.size=zero\n");

        assertThatThrownBy(() -> ServingConfig.load(Optional.of(f), Map.of()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("config 'batch.max.size' (env TUNESTREAM_BATCH_MAX_SIZE): must be an integer, was 'zero'");
    }

    @Test
    void shouldRejectANegativeParallelDecodeRowCount() throws Exception {
        Path f = file(required() + "decode.parallel.rows=-2\n");

        assertThatThrownBy(() -> ServingConfig.load(Optional.of(f), Map.of()))
                .hasMessage("config 'decode.parallel.rows' (env TUNESTREAM_DECODE_PARALLEL_ROWS): must be >= 0, was '-2'");
    }

    @Test
    void shouldRejectABatchSizeBelowOne() throws Exception {
        Path f = file(required());

        assertThatThrownBy(() -> ServingConfig.load(Optional.of(f), Map.of("TUNESTREAM_BATCH_MAX_SIZE", "0")))
                .hasMessage("config 'batch.max.size' (env TUNESTREAM_BATCH_MAX_SIZE): must be >= 1, was '0'");
    }

    @Test
    void shouldRequireTheBootstrapServers() {
        assertThatThrownBy(() -> ServingConfig.load(Optional.empty(), Map.of(
                "TUNESTREAM_REGISTRY_URL", "http://localhost:8080", "TUNESTREAM_MODEL_DIR", dir.toString())))
                .hasMessage("config 'bootstrap.servers' (env TUNESTREAM_BOOTSTRAP_SERVERS) is required");
    }

    @Test
    void shouldRejectAModelDirectoryThatDoesNotExist() throws Exception {
        Path f = file(required());
        Path missing = dir.resolve("missing");

        assertThatThrownBy(() -> ServingConfig.load(Optional.of(f), Map.of("TUNESTREAM_MODEL_DIR", missing.toString())))
                .hasMessage("config 'model.dir' (env TUNESTREAM_MODEL_DIR): is not a directory (absolute: "
                        + missing.toAbsolutePath() + "), was '" + missing + "'");
    }

    @Test
    void shouldRejectAnUnknownExecutionProvider() throws Exception {
        Path f = file(required() + "execution.provider=TPU\n");

        assertThatThrownBy(() -> ServingConfig.load(Optional.of(f), Map.of()))
                .hasMessage("config 'execution.provider' (env TUNESTREAM_EXECUTION_PROVIDER): must be CPU or CUDA, was 'TPU'");
    }

    @Test
    void shouldRejectAnUnknownKeyRatherThanIgnoreIt() throws Exception {
        Path f = file(required() + "batch.size=4\n");

        assertThatThrownBy(() -> ServingConfig.load(Optional.of(f), Map.of()))
                .hasMessageStartingWith("config key 'batch.size' is unknown; known keys: [adapters.keep.versions, ");
    }
}

package io.tunestream.trainer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.tunestream.model.onnx.ExecutionProvider;
import io.tunestream.model.onnx.RuntimeConfig;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class TrainerSettingsTest {

    private static TrainerSettings settings(Duration poll, long maxSteps) {
        return new TrainerSettings("localhost:9092", "http://localhost:8080", Path.of("models/demo-gpt2"),
                ExecutionProvider.CUDA, 1, 2, "trainer", poll, maxSteps, "", 10_000, Duration.ofSeconds(10));
    }

    @Test
    void shouldRunOnTheConfiguredProviderDeviceAndThreads() {
        assertThat(settings(Duration.ofMillis(500), 100).runtime())
                .isEqualTo(new RuntimeConfig(ExecutionProvider.CUDA, 1, 0, 2, 0));
    }

    @Test
    void shouldParseTheProviderInAnyCase() {
        assertThat(TrainerSettings.provider(" cuda ")).isEqualTo(ExecutionProvider.CUDA);
        assertThatThrownBy(() -> TrainerSettings.provider("TPU")).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("execution provider must be CPU or CUDA, got 'TPU'");
    }

    @Test
    void shouldRefuseAPollTimeoutThatWouldStallTheLoop() {
        assertThatThrownBy(() -> settings(Duration.ofMinutes(2), 100)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("poll timeout must be between 1 ms and 1 min, got PT2M");
    }

    @Test
    void shouldRefuseARunBoundBelowOneStep() {
        assertThatThrownBy(() -> settings(Duration.ofMillis(500), 0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("max steps per run must be at least 1, got 0");
    }

    @Test
    void shouldRefuseKeepingNoExample() {
        assertThatThrownBy(() -> new TrainerSettings("localhost:9092", "http://localhost:8080", Path.of("m"),
                ExecutionProvider.CPU, 0, 0, "g", Duration.ofSeconds(1), 1, "", 0, Duration.ofSeconds(10)))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("max examples per task must be at least 1, got 0");
    }

    @Test
    void shouldGiveTheLoopItsBoundAndBackoff() {
        var loop = new TrainerSettings("localhost:9092", "http://localhost:8080", Path.of("m"), ExecutionProvider.CPU, 0,
                0, "g", Duration.ofSeconds(1), 1, "", 500, Duration.ofSeconds(30)).loop();
        assertThat(loop.maxExamplesPerTask()).isEqualTo(500);
        assertThat(loop.retryMax()).isEqualTo(Duration.ofSeconds(30));
        assertThat(loop.groupId()).isEqualTo("g");
    }

    @Test
    void shouldRefuseMissingBootstrapServers() {
        assertThatThrownBy(() -> new TrainerSettings(" ", "http://localhost:8080", Path.of("m"), ExecutionProvider.CPU, 0,
                0, "g", Duration.ofSeconds(1), 1, "", 10, Duration.ofSeconds(10))).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("bootstrap servers must be set");
    }

    private static TrainerSettings replica(String id, int parallelRuns) {
        return new TrainerSettings("localhost:9092", "http://localhost:8080", Path.of("m"), ExecutionProvider.CPU, 0, 0,
                "g", Duration.ofSeconds(1), 1, "", 10, Duration.ofSeconds(10), id, parallelRuns, Duration.ofSeconds(6),
                Duration.ofSeconds(20));
    }

    @Test
    void shouldGiveEachReplicaItsOwnTransactionalIdsAndGroupInstance() {
        var loop = replica("trainer-2", 3).loop();
        assertThat(loop.replicaId()).isEqualTo("trainer-2");
        assertThat(loop.parallelRuns()).isEqualTo(3);
        assertThat(loop.sessionTimeout()).isEqualTo(Duration.ofSeconds(6));
        assertThat(loop.transactionTimeout()).isEqualTo(Duration.ofSeconds(20));
        assertThat(loop.publisherTransactionalId()).isEqualTo("g-publisher-trainer-2");
        assertThat(loop.feedbackTransactionalId()).isEqualTo("g-feedback-trainer-2");
    }

    @Test
    void shouldRefuseAReplicaIdThatIsNoName() {
        assertThatThrownBy(() -> replica("trainer 0", 1)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("replica id must be a non-empty name").hasMessageContaining("'trainer 0'");
        assertThatThrownBy(() -> replica("", 1)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("replica id must be a non-empty name");
    }

    @Test
    void shouldRefuseNoParallelRun() {
        assertThatThrownBy(() -> replica("trainer-0", 0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("parallel runs must be between 1 and 64, got 0");
    }

    @Test
    void shouldKeepOneReplicaWithTheDefaultsWhenNoneIsGiven() {
        var loop = settings(Duration.ofMillis(500), 100).loop();
        assertThat(loop.replicaId()).isEqualTo("0");
        assertThat(loop.parallelRuns()).isEqualTo(1);
        assertThat(loop.publisherTransactionalId()).isEqualTo("trainer-publisher-0");
    }
}

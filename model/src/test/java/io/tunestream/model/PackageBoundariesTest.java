package io.tunestream.model;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/** ONNX Runtime is called from {@code model.onnx} (and the benchmarks) only; the rest is plain Java and protobuf. */
class PackageBoundariesTest {

    @ParameterizedTest
    @ValueSource(strings = {"graph", "autodiff", "generate", "prompt", "tokenize", "tune"})
    void shouldNotImportOnnxRuntime(String pkg) throws IOException {
        Path dir = TestModels.home().resolve("model/src/main/java/io/tunestream/model").resolve(pkg);
        assertThat(dir).isDirectory();
        List<String> offending;
        try (Stream<Path> files = Files.list(dir)) {
            offending = files.filter(f -> f.toString().endsWith(".java")).filter(PackageBoundariesTest::importsOnnxRuntime)
                    .map(f -> f.getFileName().toString()).toList();
        }
        assertThat(offending).as("sources of model.%s importing ai.onnxruntime", pkg).isEmpty();
    }

    private static boolean importsOnnxRuntime(Path source) {
        try (Stream<String> lines = Files.lines(source)) {
            return lines.anyMatch(l -> l.startsWith("import ai.onnxruntime") || l.startsWith("import static ai.onnxruntime"));
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}

package io.tunestream.model.onnx;

import ai.onnx.proto.OnnxMl;
import io.tunestream.model.TestModels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.OptionalInt;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class DecoderModelTest {

    @Test
    void shouldGiveTheTrainingSessionTheSameWeightsAsTheServingModel() {
        try (TrainingSession training = TrainingSession.open(TestModels.model("tiny-llama"), RuntimeConfig.cpu(1));
             DecoderModel model = DecoderModel.load(TestModels.model("tiny-llama"), RuntimeConfig.cpu(1))) {
            FrozenWeights weights = training.weights();
            assertThat(weights.config()).isEqualTo(model.config());
            assertThat(weights.fingerprint()).isEqualTo(model.fingerprint());
            float[] row = new float[model.config().hiddenSize()];
            model.embedToken(7, row, 0);
            assertThat(java.util.Arrays.copyOfRange(weights.tokenEmbeddings(), 7 * row.length, 8 * row.length))
                    .containsExactly(row);
        }
    }

    @Test
    void shouldLoadFromAThreadWithASmallStack() throws Exception {
        // ONNX Runtime's start-up recursion overflowed default thread stacks (a SIGSEGV that ends the JVM):
        // loading must not depend on the caller's stack size
        var fingerprint = new java.util.concurrent.atomic.AtomicReference<String>();
        var failure = new java.util.concurrent.atomic.AtomicReference<Throwable>();
        Thread small = new Thread(null, () -> {
            try (DecoderModel model = DecoderModel.load(TestModels.model("demo-gpt2"), RuntimeConfig.cpu(1))) {
                fingerprint.set(model.fingerprint());
            } catch (Throwable t) {
                failure.set(t);
            }
        }, "small-stack", 256 * 1024);
        small.start();
        small.join();
        assertThat(failure.get()).isNull();
        assertThat(fingerprint.get()).hasSize(64);
    }

    @Test
    void shouldReadTheGroupedQueryAttentionShapesOfLlama() {
        try (DecoderModel model = DecoderModel.load(TestModels.model("tiny-llama"), RuntimeConfig.cpu(1))) {
            assertThat(model.config()).isEqualTo(new ModelConfig(ModelFamily.LLAMA, 64, 2, 4, 2, 16, 1024, 256, List.of(0),
                    OptionalInt.of(0)));
            assertThat(model.provider()).isEqualTo(ExecutionProvider.CPU);
        }
    }

    @Test
    void shouldReadQwen2AndGenerationConfigEos(@TempDir Path dir) throws IOException {
        Files.writeString(dir.resolve("config.json"), """
                {"model_type": "qwen2", "hidden_size": 896, "num_hidden_layers": 24, "num_attention_heads": 14,
                 "num_key_value_heads": 2, "vocab_size": 151936, "max_position_embeddings": 32768, "eos_token_id": 151643}
                """);
        Files.writeString(dir.resolve("generation_config.json"), "{\"eos_token_id\": [151645, 151643]}");

        assertThat(ModelConfig.read(dir)).isEqualTo(new ModelConfig(ModelFamily.QWEN2, 896, 24, 14, 2, 64, 151936, 32768,
                List.of(151645, 151643)));
    }

    @Test
    void shouldReadTheBosIdFromTheGenerationConfigBeforeTheModelConfig(@TempDir Path dir) throws IOException {
        Files.writeString(dir.resolve("config.json"), """
                {"model_type": "llama", "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
                 "vocab_size": 1024, "max_position_embeddings": 256, "bos_token_id": 7, "eos_token_id": 2}
                """);
        assertThat(ModelConfig.read(dir).bosTokenId()).isEqualTo(OptionalInt.of(7));

        Files.writeString(dir.resolve("generation_config.json"), "{\"bos_token_id\": 1, \"eos_token_id\": 2}");
        ModelConfig config = ModelConfig.read(dir);
        assertThat(config.bosTokenId()).isEqualTo(OptionalInt.of(1));
        assertThat(config.eosTokenIds()).containsExactly(2);
    }

    @Test
    void shouldFingerprintTheWeights() {
        String gpt2;
        try (DecoderModel a = DecoderModel.load(TestModels.model("tiny-gpt2"), RuntimeConfig.cpu(1));
             DecoderModel b = DecoderModel.load(TestModels.model("tiny-gpt2"), RuntimeConfig.cpu(1))) {
            gpt2 = a.fingerprint();
            assertThat(gpt2).matches("[0-9a-f]{64}").isEqualTo(b.fingerprint());
        }
        try (DecoderModel llama = DecoderModel.load(TestModels.model("tiny-llama"), RuntimeConfig.cpu(1))) {
            assertThat(llama.fingerprint()).isNotEqualTo(gpt2);
        }
    }

    @Test
    void shouldLoadWeightsFromAnExternalDataFileWithTheSameFingerprintAndLogits(@TempDir Path dir) throws IOException {
        OnnxMl.ModelProto inline = read("tiny-gpt2");
        OnnxMl.GraphProto.Builder g = inline.getGraph().toBuilder();
        try (var data = Files.newOutputStream(dir.resolve("model.onnx.data"))) {
            long offset = 0;
            for (int i = 0; i < g.getInitializerCount(); i++) {
                OnnxMl.TensorProto t = g.getInitializer(i);
                if (t.getRawData().size() < 1024) {
                    continue;
                }
                data.write(t.getRawData().toByteArray());
                g.setInitializer(i, t.toBuilder().clearRawData()
                        .setDataLocation(OnnxMl.TensorProto.DataLocation.EXTERNAL)
                        .addExternalData(entry("location", "model.onnx.data"))
                        .addExternalData(entry("offset", Long.toString(offset)))
                        .addExternalData(entry("length", Long.toString(t.getRawData().size()))));
                offset += t.getRawData().size();
            }
        }
        copyWith(dir, inline.toBuilder().setGraph(g).build());
        assertThat(Files.size(dir.resolve("model.onnx"))).isLessThan(Files.size(dir.resolve("model.onnx.data")));

        try (DecoderModel external = DecoderModel.load(dir, RuntimeConfig.cpu(1));
             DecoderModel original = DecoderModel.load(TestModels.model("tiny-gpt2"), RuntimeConfig.cpu(1))) {
            assertThat(external.fingerprint()).isEqualTo(original.fingerprint());
            StepInput input = new StepInput(1, 1, embed(original, 5), new long[]{1}, new long[]{0});
            DecoderModel.Step a = external.forward(input, null);
            DecoderModel.Step b = original.forward(input, null);
            a.cache().close();
            b.cache().close();
            assertThat(a.lastLogits()).containsExactly(b.lastLogits());
        }
        assertThat(dir.toFile().list()).containsExactlyInAnyOrder("model.onnx", "model.onnx.data", "config.json");
    }

    private static OnnxMl.StringStringEntryProto entry(String key, String value) {
        return OnnxMl.StringStringEntryProto.newBuilder().setKey(key).setValue(value).build();
    }

    @Test
    void shouldFallBackToCpuWhenCudaCannotStart() {
        try (DecoderModel model = DecoderModel.load(TestModels.model("tiny-gpt2"), RuntimeConfig.cuda(0))) {
            assertThat(model.provider()).isEqualTo(ExecutionProvider.CPU);
            DecoderModel.Step step = model.forward(new StepInput(1, 1, embed(model, 5), new long[]{1}, new long[]{0}), null);
            step.cache().close();
            assertThat(step.lastLogits()).hasSize(1024);
        }
    }

    @Test
    void shouldNameTheMissingInput(@TempDir Path dir) throws IOException {
        OnnxMl.ModelProto model = read("tiny-gpt2");
        OnnxMl.GraphProto.Builder g = model.getGraph().toBuilder();
        g.setInput(6, g.getInput(6).toBuilder().setName("past_1_value"));
        copyWith(dir, model.toBuilder().setGraph(g).build());

        assertThatThrownBy(() -> DecoderModel.load(dir, RuntimeConfig.cpu(1)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("model " + dir + " is not a text-generation-with-past export: missing input "
                        + "'past_key_values.1.value' (inputs: [input_ids, attention_mask, position_ids, past_key_values.0.key, "
                        + "past_key_values.0.value, past_key_values.1.key, past_1_value])");
    }

    @Test
    void shouldNameTheMissingOutput(@TempDir Path dir) throws IOException {
        OnnxMl.ModelProto model = read("tiny-gpt2");
        OnnxMl.GraphProto.Builder g = model.getGraph().toBuilder();
        g.removeOutput(4);
        copyWith(dir, model.toBuilder().setGraph(g).build());

        assertThatThrownBy(() -> DecoderModel.load(dir, RuntimeConfig.cpu(1)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("model " + dir + " is not a text-generation-with-past export: missing output 'present.1.value' "
                        + "(outputs: [logits, present.0.key, present.0.value, present.1.key])");
    }

    @Test
    void shouldRejectAnUnsupportedModelType(@TempDir Path dir) throws IOException {
        Files.copy(TestModels.model("tiny-gpt2").resolve("model.onnx"), dir.resolve("model.onnx"));
        Files.writeString(dir.resolve("config.json"), "{\"model_type\": \"bert\"}");

        assertThatThrownBy(() -> DecoderModel.load(dir, RuntimeConfig.cpu(1)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage(dir.resolve("config.json") + ": unsupported model_type 'bert' (supported: [gpt2, llama, qwen2])");
    }

    @Test
    void shouldRejectANegativeThreadCount() {
        assertThatThrownBy(() -> new RuntimeConfig(ExecutionProvider.CPU, 0, 0, -1, 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("intraOpThreads must be >= 0 (0 = one per available processor), got -1");
        assertThatThrownBy(() -> RuntimeConfig.cpu(2).withParallelDecodeRows(-1))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("parallelDecodeRows must be >= 0 (0 = every step on intraOpThreads), got -1");
        assertThat(RuntimeConfig.cpu().resolvedIntraOpThreads()).isEqualTo(Runtime.getRuntime().availableProcessors());
        assertThat(RuntimeConfig.cpu(3).resolvedIntraOpThreads()).isEqualTo(3);
    }

    @Test
    void shouldUseTheNativeLibraryCache() {
        try (DecoderModel ignored = DecoderModel.load(TestModels.model("tiny-gpt2"), RuntimeConfig.cpu(1))) {
            Path dir = Path.of(System.getProperty(NativeLibraryCache.NATIVE_PATH_PROPERTY));
            assertThat(dir.resolve(System.mapLibraryName("onnxruntime"))).isRegularFile();
        }
    }

    @Test
    void shouldKeepAPresetNativePath(@TempDir Path root) {
        String before = System.getProperty(NativeLibraryCache.NATIVE_PATH_PROPERTY);
        System.setProperty(NativeLibraryCache.NATIVE_PATH_PROPERTY, "/opt/ort");
        try {
            assertThat(NativeLibraryCache.install(root)).contains(Path.of("/opt/ort"));
            assertThat(root).isEmptyDirectory();
        } finally {
            if (before == null) {
                System.clearProperty(NativeLibraryCache.NATIVE_PATH_PROPERTY);
            } else {
                System.setProperty(NativeLibraryCache.NATIVE_PATH_PROPERTY, before);
            }
        }
    }

    private static float[] embed(DecoderModel model, int token) {
        float[] e = new float[model.config().hiddenSize()];
        model.embedToken(token, e, 0);
        return e;
    }

    private static OnnxMl.ModelProto read(String name) throws IOException {
        return OnnxMl.ModelProto.parseFrom(Files.readAllBytes(TestModels.model(name).resolve("model.onnx")));
    }

    private static void copyWith(Path dir, OnnxMl.ModelProto model) throws IOException {
        Files.write(dir.resolve("model.onnx"), model.toByteArray());
        Files.copy(TestModels.model("tiny-gpt2").resolve("config.json"), dir.resolve("config.json"));
    }
}

package io.tunestream.trainer.peft;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tunestream.model.generate.GenerationOptions;
import io.tunestream.model.generate.GenerationRequest;
import io.tunestream.model.generate.GenerationResult;
import io.tunestream.model.generate.Generator;
import io.tunestream.model.generate.GeneratorConfig;
import io.tunestream.model.onnx.DecoderModel;
import io.tunestream.model.onnx.RuntimeConfig;
import io.tunestream.model.prompt.DeepPromptTable;
import io.tunestream.model.tokenize.HuggingFaceTextTokenizer;
import io.tunestream.schemas.AdapterVersion;
import io.tunestream.schemas.DeepPromptShape;
import io.tunestream.schemas.TaskTemplate;
import io.tunestream.schemas.TuningSettings;
import io.tunestream.schemas.VirtualPromptStyle;
import io.tunestream.schemas.adapters.AdapterCheck;
import io.tunestream.schemas.peft.PeftAdapter;
import io.tunestream.schemas.peft.PeftConversion;
import io.tunestream.schemas.tensor.TensorCodec;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A PEFT prefix-tuning adapter, imported and served as serving serves a deep-prompt version, answers as PyTorch does
 * with PEFT's prefix as the past keys and values ({@code models/<model>/peft/prefix-tuning/peft-reference.json},
 * written by {@code tools/references/make_peft_fixtures.py} from {@code PeftModel.get_prompt}'s layout and
 * {@code decoder.py}'s forward), and as our own deep prompt built from those per-layer tensors. An IT: ONNX Runtime
 * loads once per JVM, and the Quarkus test of this module loads it in its own class loader.
 */
class PeftPrefixServingIT {

    private static final ObjectMapper JSON = new ObjectMapper();

    @ParameterizedTest
    @ValueSource(strings = {"tiny-gpt2", "tiny-llama"})
    void importedPrefixShouldAnswerAsPyTorchWithPeftsPrefix(String modelName) throws IOException {
        Path dir = Path.of(System.getProperty("tunestream.home", "..")).resolve("models").resolve(modelName);
        JsonNode reference = JSON.readTree(dir.resolve("peft/prefix-tuning/peft-reference.json").toFile());
        try (DecoderModel model = DecoderModel.load(dir, RuntimeConfig.cpu(1));
             HuggingFaceTextTokenizer tokenizer = HuggingFaceTextTokenizer.load(dir)) {
            var config = model.config();
            AdapterCheck check = new AdapterCheck(model.fingerprint(), config.hiddenSize(),
                    new AdapterCheck.Decoder(config.layers(), config.kvHeads(), config.headDim()));
            AdapterVersion imported = PeftConversion.toAdapterVersion(PeftAdapter.read(dir.resolve("peft/prefix-tuning")),
                    check, template(), "hash", 1, "peft-import-test", 0L);

            DeepPromptTable served = servedAsServingDoes(imported);
            DeepPromptTable ours = DeepPromptTable.ofLayers("deep", reference.get("kv_heads").asInt(),
                    reference.get("head_dim").asInt(), floats(reference.get("keys")), floats(reference.get("values")),
                    model.fingerprint());
            int[] promptIds = JSON.convertValue(reference.get("prompt_ids"), int[].class);
            String prompt = tokenizer.decode(promptIds);
            assertThat(tokenizer.encode(prompt)).as("the prompt re-encodes to the reference's ids").containsExactly(promptIds);

            Generator generator = new Generator(model, tokenizer, new GeneratorConfig(64, true));
            int[] expected = JSON.convertValue(reference.get("greedy_ids"), int[].class);
            assertThat(answer(generator, prompt, served).tokenIds()).containsExactly(expected);
            assertThat(answer(generator, prompt, ours).tokenIds()).containsExactly(expected);
            assertThat(served.values()).containsExactly(ours.values());
        }
    }

    private static DeepPromptTable servedAsServingDoes(AdapterVersion adapter) {
        // as serving's ModelBatchAnswerer turns a deep-prompt version into the model's table
        DeepPromptShape shape = adapter.getDeepPrompt();
        return new DeepPromptTable(adapter.getTask(), adapter.getTable().getShape().get(0), shape.getLayers(),
                shape.getKvHeads(), shape.getHeadDim(), TensorCodec.decode(adapter.getTable()),
                adapter.getModelFingerprint());
    }

    private static GenerationResult answer(Generator generator, String prompt, DeepPromptTable deep) {
        io.tunestream.model.prompt.TaskTemplate template = new io.tunestream.model.prompt.TaskTemplate("deep",
                "<|VIRTUAL_PROMPT_0|>{prompt}{answer}", List.of("prompt", "answer"), false, "answer", null, List.of(3), 3);
        GenerationResult result = generator.generate(List.of(new GenerationRequest("r", template,
                Map.of("prompt", prompt), Optional.empty(), GenerationOptions.greedy(8), false, Optional.of(deep)))).get(0);
        assertThat(result.isError()).as(result.error()).isFalse();
        return result;
    }

    private static List<float[]> floats(JsonNode layers) {
        List<float[]> out = new ArrayList<>();
        for (JsonNode layer : layers) {
            float[] values = new float[layer.size()];
            for (int i = 0; i < values.length; i++) {
                values[i] = (float) layer.get(i).asDouble();
            }
            out.add(values);
        }
        return out;
    }

    private static TaskTemplate template() {
        return TaskTemplate.newBuilder().setTask("deep").setPromptTemplate("<|VIRTUAL_PROMPT_0|>{prompt}{answer}")
                .setPromptTemplateFields(List.of("prompt", "answer")).setAnswerField("answer")
                .setVirtualTokenSplits(List.of(3)).setTotalVirtualTokens(3)
                .setTuning(TuningSettings.newBuilder().setVirtualPromptStyle(VirtualPromptStyle.PREFIX_TUNING).build())
                .build();
    }
}

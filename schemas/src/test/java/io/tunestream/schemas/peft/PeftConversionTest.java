package io.tunestream.schemas.peft;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import io.tunestream.schemas.AdapterVersion;
import io.tunestream.schemas.DType;
import io.tunestream.schemas.DeepPromptShape;
import io.tunestream.schemas.TaskTemplate;
import io.tunestream.schemas.TuningSettings;
import io.tunestream.schemas.VirtualPromptStyle;
import io.tunestream.schemas.adapters.AdapterCheck;
import io.tunestream.schemas.tensor.TensorCodec;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** PEFT adapters to and from our adapter versions, checked against the model and the task's template. */
class PeftConversionTest {

    /** tiny-gpt2: hidden 64, 2 layers, 4 heads of 16. */
    private static final AdapterCheck GPT2 = new AdapterCheck("fp-tiny-gpt2", 64, new AdapterCheck.Decoder(2, 4, 16));
    /** tiny-llama: hidden 64, 2 layers, 4 heads of 16, 2 kv heads. */
    private static final AdapterCheck LLAMA = new AdapterCheck("fp-tiny-llama", 64, new AdapterCheck.Decoder(2, 2, 16));

    @Test
    void shouldImportPromptTuningWithTheTemplatesSplits() throws IOException {
        PeftAdapter peft = read("tiny-gpt2", "prompt-tuning");

        AdapterVersion adapter = toVersion(peft, GPT2, template(VirtualPromptStyle.P_TUNING, List.of(1, 3)), 7);

        assertThat(adapter.getTask()).isEqualTo("squad");
        assertThat(adapter.getVersion()).isEqualTo(7);
        assertThat(adapter.getModelFingerprint()).isEqualTo("fp-tiny-gpt2");
        assertThat(adapter.getHiddenSize()).isEqualTo(64);
        assertThat(adapter.getVirtualTokenSplits()).containsExactly(1, 3);
        assertThat(adapter.getVirtualPromptStyle()).isEqualTo(VirtualPromptStyle.PROMPT_TUNING);
        assertThat(adapter.getDeepPrompt()).isNull();
        assertThat(adapter.getTemplateHash()).isEqualTo("hash");
        assertThat(adapter.getRunId()).isEqualTo("peft-import-test");
        assertThat(adapter.getTable().getShape()).containsExactly(4, 64);
        assertThat(TensorCodec.decode(adapter.getTable()))
                .containsExactly(PeftAdapterTest.rawFloats(PeftFixtures.weights("tiny-gpt2", "prompt-tuning")));
    }

    @Test
    void shouldImportPTuningAsTheEncodersOutput() throws IOException {
        AdapterVersion adapter = toVersion(read("tiny-gpt2", "p-tuning"), GPT2,
                template(VirtualPromptStyle.PROMPT_TUNING, List.of(4)), 1);

        assertThat(adapter.getVirtualPromptStyle()).isEqualTo(VirtualPromptStyle.P_TUNING);
        assertThat(TensorCodec.decode(adapter.getTable()))
                .containsExactly(PeftAdapterTest.rawFloats(PeftFixtures.weights("tiny-gpt2", "p-tuning")));
    }

    @Test
    void shouldImportAPrefixInPeftsLayout() throws IOException {
        assertPrefixLayout("tiny-gpt2", GPT2, new DeepPromptShape(2, 4, 16));
    }

    @Test
    void shouldImportAGroupedQueryPrefixWithItsKvHeads() throws IOException {
        assertPrefixLayout("tiny-llama", LLAMA, new DeepPromptShape(2, 2, 16));
    }

    /**
     * Element [p, ((2l + kv)·heads + h)·headDim + d] of our table is PEFT's layer-l key (kv 0) or value (kv 1) at
     * [h, p, d], as {@code PeftModel.get_prompt} computes them (peft-reference.json, written by PyTorch).
     */
    private static void assertPrefixLayout(String model, AdapterCheck check, DeepPromptShape shape) throws IOException {
        AdapterVersion adapter = toVersion(read(model, "prefix-tuning"), check,
                template(VirtualPromptStyle.PREFIX_TUNING, List.of(3)), 2);

        assertThat(adapter.getVirtualPromptStyle()).isEqualTo(VirtualPromptStyle.PREFIX_TUNING);
        assertThat(adapter.getDeepPrompt()).isEqualTo(shape);
        assertThat(adapter.getHiddenSize()).isEqualTo(64);
        JsonNode reference = PeftFixtures.reference(model, "prefix-tuning");
        int layers = reference.get("layers").asInt();
        int heads = reference.get("kv_heads").asInt();
        int headDim = reference.get("head_dim").asInt();
        int tokens = reference.get("virtual_tokens").asInt();
        int width = 2 * layers * heads * headDim;
        float[] table = TensorCodec.decode(adapter.getTable());
        assertThat(table).hasSize(tokens * width);
        for (int l = 0; l < layers; l++) {
            for (int kv = 0; kv < 2; kv++) {
                JsonNode past = reference.get(kv == 0 ? "keys" : "values").get(l);
                for (int h = 0; h < heads; h++) {
                    for (int p = 0; p < tokens; p++) {
                        for (int d = 0; d < headDim; d++) {
                            float expected = (float) past.get((h * tokens + p) * headDim + d).asDouble();
                            assertThat(table[p * width + ((2 * l + kv) * heads + h) * headDim + d])
                                    .as("layer %d %s head %d token %d dim %d", l, kv == 0 ? "key" : "value", h, p, d)
                                    .isEqualTo(expected);
                        }
                    }
                }
            }
        }
    }

    @Test
    void shouldRoundTripEveryTypeThroughPeftsFiles(@TempDir Path dir) throws IOException {
        record Case(String model, String type, AdapterCheck check, VirtualPromptStyle style, List<Integer> splits) {
        }
        for (Case c : List.of(new Case("tiny-gpt2", "prompt-tuning", GPT2, VirtualPromptStyle.PROMPT_TUNING, List.of(4)),
                new Case("tiny-gpt2", "prompt-tuning-bf16", GPT2, VirtualPromptStyle.PROMPT_TUNING, List.of(2, 2)),
                new Case("tiny-gpt2", "p-tuning", GPT2, VirtualPromptStyle.P_TUNING, List.of(4)),
                new Case("tiny-gpt2", "prefix-tuning", GPT2, VirtualPromptStyle.PREFIX_TUNING, List.of(3)),
                new Case("tiny-llama", "prefix-tuning", LLAMA, VirtualPromptStyle.PREFIX_TUNING, List.of(3)))) {
            AdapterVersion original = toVersion(read(c.model(), c.type()), c.check(), template(c.style(), c.splits()), 3);
            Path exported = dir.resolve(c.model() + "-" + c.type());

            PeftConversion.toPeft(original, Optional.of("models/" + c.model())).write(exported);
            AdapterVersion again = toVersion(PeftAdapter.read(exported), c.check(), template(c.style(), c.splits()), 3);

            assertThat(again.getTable()).as(c.toString()).isEqualTo(original.getTable());
            assertThat(again.getDeepPrompt()).as(c.toString()).isEqualTo(original.getDeepPrompt());
            assertThat(again.getVirtualPromptStyle()).as(c.toString()).isEqualTo(original.getVirtualPromptStyle());
            assertThat(again.getVirtualTokenSplits()).as(c.toString()).isEqualTo(original.getVirtualTokenSplits());
        }
    }

    @Test
    void shouldExportAGroupedQueryPrefixAsPeftConfiguresIt() throws IOException {
        AdapterVersion adapter = toVersion(read("tiny-llama", "prefix-tuning"), LLAMA,
                template(VirtualPromptStyle.PREFIX_TUNING, List.of(3)), 5);

        PeftAdapter peft = PeftConversion.toPeft(adapter, Optional.empty());

        // PEFT's _prepare_prompt_learning_config for num_key_value_heads: heads = kv heads, token_dim = kv heads x head_dim
        assertThat(peft.config()).isEqualTo(new PeftConfig(PeftType.PREFIX_TUNING, 3, 32, OptionalInt.of(2),
                OptionalInt.of(2), Optional.empty()));
        assertThat(peft.metadata()).containsAllEntriesOf(Map.of("format", "pt", "tunestream.task", "squad",
                "tunestream.version", "5", "tunestream.model_fingerprint", "fp-tiny-llama"));
        assertThat(peft.promptEmbeddings().getName()).isEqualTo("prompt_embeddings");
    }

    @Test
    void shouldExportAVersionWithoutStyleAsPTuning() throws IOException {
        AdapterVersion adapter = AdapterVersion.newBuilder(toVersion(read("tiny-gpt2", "prompt-tuning"), GPT2,
                template(VirtualPromptStyle.P_TUNING, List.of(4)), 1)).setVirtualPromptStyle(null).build();

        assertThat(PeftConversion.toPeft(adapter, Optional.empty()).config().peftType()).isEqualTo(PeftType.P_TUNING);
    }

    @Test
    void shouldRefuseAPrefixOfAnotherModel() throws IOException {
        assertRefused(read("tiny-gpt2", "prefix-tuning"), LLAMA, template(VirtualPromptStyle.PREFIX_TUNING, List.of(3)),
                "model", "is a prefix for 2 layers x 4 heads x head size 16 (num_layers, num_attention_heads, token_dim 64), "
                        + "but this model has 2 layers x 2 kv heads x head size 16 (token_dim 32;");
    }

    @Test
    void shouldRefuseAGroupedQueryPrefixSizedForAllAttentionHeads() {
        // what a PEFT without its GQA rule (huggingface/peft#1901) saved: heads 4, token_dim 64 on a 2-kv-head model
        PeftConfig config = new PeftConfig(PeftType.PREFIX_TUNING, 3, 64, OptionalInt.of(2), OptionalInt.of(4),
                Optional.empty());
        PeftAdapter peft = new PeftAdapter(config, TensorCodec.encodeMatrix("prompt_embeddings", new float[3 * 256], 3,
                256, DType.FLOAT32), Map.of());

        assertRefused(peft, LLAMA, template(VirtualPromptStyle.PREFIX_TUNING, List.of(3)), "model",
                "PEFT sets num_attention_heads to the kv heads and token_dim to kv heads x head size for grouped-query "
                        + "attention): an adapter for another base model");
    }

    @Test
    void shouldRefuseATableOfAnotherWidth() throws IOException {
        AdapterCheck wider = new AdapterCheck("fp-demo", 256, new AdapterCheck.Decoder(4, 8, 32));

        assertRefused(read("tiny-gpt2", "prompt-tuning"), wider, template(VirtualPromptStyle.P_TUNING, List.of(4)),
                "model", "has token_dim 64, but this model's hidden size is 256: an adapter for another base model");
    }

    @Test
    void shouldRefuseAnExportOfAnotherModelFingerprint() throws IOException {
        AdapterVersion adapter = toVersion(read("tiny-gpt2", "prompt-tuning"), GPT2,
                template(VirtualPromptStyle.P_TUNING, List.of(4)), 1);
        PeftAdapter exported = PeftConversion.toPeft(adapter, Optional.empty());
        AdapterCheck sameShapeOtherWeights = new AdapterCheck("fp-other", 64, new AdapterCheck.Decoder(2, 4, 16));

        assertRefused(exported, sameShapeOtherWeights, template(VirtualPromptStyle.P_TUNING, List.of(4)), "model",
                "was exported from model fp-tiny-gpt2 (safetensors metadata), but this model is fp-other");
    }

    @Test
    void shouldRefuseAStyleTheTemplateCannotServe() throws IOException {
        assertRefused(read("tiny-gpt2", "prefix-tuning"), GPT2, template(VirtualPromptStyle.P_TUNING, List.of(3)),
                "template", "whose template is P_TUNING: a prefix needs a prefix-tuning template");
        assertRefused(read("tiny-gpt2", "prompt-tuning"), GPT2, template(VirtualPromptStyle.PREFIX_TUNING, List.of(4)),
                "template", "whose template is PREFIX_TUNING: a prefix-tuning template needs a PREFIX_TUNING adapter");
    }

    @Test
    void shouldRefuseAnotherNumberOfVirtualTokens() throws IOException {
        assertRefused(read("tiny-gpt2", "prompt-tuning"), GPT2, template(VirtualPromptStyle.P_TUNING, List.of(10)),
                "template", "has 4 virtual tokens, but task squad's template has 10 (splits [10])");
    }

    @Test
    void shouldRefuseAPrefixForAModelWhoseDecoderIsUnknown() throws IOException {
        assertRefused(read("tiny-gpt2", "prefix-tuning"), new AdapterCheck("fp-tiny-gpt2", 64),
                template(VirtualPromptStyle.PREFIX_TUNING, List.of(3)), "model",
                "this model's layers, kv heads and head size are not known");
    }

    private static PeftAdapter read(String model, String type) throws IOException {
        return PeftAdapter.read(PeftFixtures.dir(model, type));
    }

    private static AdapterVersion toVersion(PeftAdapter peft, AdapterCheck model, TaskTemplate template, int version) {
        return PeftConversion.toAdapterVersion(peft, model, template, "hash", version, "peft-import-test", 1000L);
    }

    private static void assertRefused(PeftAdapter peft, AdapterCheck model, TaskTemplate template, String reason,
                                      String message) {
        assertThatThrownBy(() -> toVersion(peft, model, template, 1))
                .isInstanceOfSatisfying(PeftFormatException.class, e -> assertThat(e.reason()).isEqualTo(reason))
                .hasMessageContaining(message);
    }

    static TaskTemplate template(VirtualPromptStyle style, List<Integer> splits) {
        StringBuilder prompt = new StringBuilder();
        for (int i = 0; i < splits.size(); i++) {
            prompt.append("<|VIRTUAL_PROMPT_").append(i).append("|>");
        }
        prompt.append(" Question: {question}\nAnswer:{answer}");
        return TaskTemplate.newBuilder().setTask("squad").setPromptTemplate(prompt.toString())
                .setPromptTemplateFields(List.of("question", "answer")).setAnswerField("answer").setAnswerOnlyLoss(true)
                .setVirtualTokenSplits(splits).setTotalVirtualTokens(splits.stream().mapToInt(Integer::intValue).sum())
                .setTuning(TuningSettings.newBuilder().setVirtualPromptStyle(style).build()).build();
    }
}

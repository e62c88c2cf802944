package io.tunestream.schemas.peft;

import static io.tunestream.schemas.peft.PeftFixtures.config;
import static io.tunestream.schemas.peft.PeftFixtures.configWith;
import static io.tunestream.schemas.peft.PeftFixtures.floats;
import static io.tunestream.schemas.peft.PeftFixtures.safetensors;
import static io.tunestream.schemas.peft.PeftFixtures.weights;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.tunestream.schemas.DType;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Reading PEFT adapter directories: the hand-written fixtures of {@code models/&#42;/peft/} (see
 * {@code tools/references/make_peft_fixtures.py} for the PEFT code they follow) and bad inputs refused with reasons.
 */
class PeftAdapterTest {

    @Test
    void shouldReadAPromptTuningAdapterWithTheFileBytesAsValues() throws IOException {
        PeftAdapter adapter = PeftAdapter.read(PeftFixtures.dir("tiny-gpt2", "prompt-tuning"));

        assertThat(adapter.config().peftType()).isEqualTo(PeftType.PROMPT_TUNING);
        assertThat(adapter.config().numVirtualTokens()).isEqualTo(4);
        assertThat(adapter.config().tokenDim()).isEqualTo(64);
        assertThat(adapter.config().baseModelNameOrPath()).contains("models/tiny-gpt2");
        assertThat(adapter.metadata()).containsEntry("format", "pt");
        assertThat(adapter.promptEmbeddings().getShape()).containsExactly(4, 64);
        assertThat(adapter.values()).containsExactly(rawFloats(weights("tiny-gpt2", "prompt-tuning")));
    }

    @Test
    void shouldReadPTuningAndPrefixTuningAdapters() throws IOException {
        PeftAdapter pTuning = PeftAdapter.read(PeftFixtures.dir("tiny-gpt2", "p-tuning"));
        PeftAdapter prefix = PeftAdapter.read(PeftFixtures.dir("tiny-llama", "prefix-tuning"));

        assertThat(pTuning.config().peftType()).isEqualTo(PeftType.P_TUNING);
        assertThat(pTuning.promptEmbeddings().getShape()).containsExactly(4, 64);
        assertThat(prefix.config().peftType()).isEqualTo(PeftType.PREFIX_TUNING);
        assertThat(prefix.config().numLayers()).hasValue(2);
        assertThat(prefix.config().numAttentionHeads()).hasValue(2);
        // [tokens, 2 x num_layers x token_dim], token_dim = kv heads x head size for GQA
        assertThat(prefix.promptEmbeddings().getShape()).containsExactly(3, 2 * 2 * 32);
    }

    @Test
    void shouldReadBfloat16AsItIs() throws IOException {
        PeftAdapter adapter = PeftAdapter.read(PeftFixtures.dir("tiny-gpt2", "prompt-tuning-bf16"));

        assertThat(adapter.promptEmbeddings().getDtype()).isEqualTo(DType.BFLOAT16);
        ByteBuffer raw = ByteBuffer.wrap(dataOf(weights("tiny-gpt2", "prompt-tuning-bf16"))).order(ByteOrder.LITTLE_ENDIAN);
        float[] values = adapter.values();
        assertThat(values).hasSize(4 * 64);
        for (int i = 0; i < values.length; i++) {
            assertThat(values[i]).isEqualTo(Float.intBitsToFloat((raw.getShort(2 * i) & 0xffff) << 16));
        }
    }

    @Test
    void shouldRefuseAnotherPeftType() {
        byte[] lora = configWith("tiny-gpt2", "prompt-tuning", "peft_type", "\"LORA\"");

        assertRefused(lora, weights("tiny-gpt2", "prompt-tuning"), "peft_type",
                "adapter_config.json: peft_type 'LORA' is not supported; only PROMPT_TUNING, P_TUNING and PREFIX_TUNING");
    }

    @Test
    void shouldRefuseAnEncoderDecoderConfig() {
        assertRefused(configWith("tiny-gpt2", "prompt-tuning", "task_type", "\"SEQ_2_SEQ_LM\""),
                weights("tiny-gpt2", "prompt-tuning"), "config", "task_type is 'SEQ_2_SEQ_LM'; only CAUSAL_LM");
        assertRefused(configWith("tiny-gpt2", "prompt-tuning", "num_transformer_submodules", "2"),
                weights("tiny-gpt2", "prompt-tuning"), "config", "num_transformer_submodules is 2");
    }

    @Test
    void shouldRefuseATensorOfAnotherShapeThanTheConfigSays() {
        assertRefused(configWith("tiny-gpt2", "prompt-tuning", "num_virtual_tokens", "5"),
                weights("tiny-gpt2", "prompt-tuning"), "shape",
                "prompt_embeddings has shape [4, 64], but adapter_config.json describes [5, 64]");
        assertRefused(configWith("tiny-gpt2", "prefix-tuning", "num_layers", "3"),
                weights("tiny-gpt2", "prefix-tuning"), "shape", "describes [3, 384] (PREFIX_TUNING");
    }

    @Test
    void shouldRefuseNonFiniteValues() {
        byte[] data = floats(4 * 64, 0.5f);
        ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN).putFloat(4 * 70, Float.NaN);
        byte[] file = safetensors("{\"prompt_embeddings\":{\"dtype\":\"F32\",\"shape\":[4,64],\"data_offsets\":[0,1024]}}",
                data);

        assertRefused(config("tiny-gpt2", "prompt-tuning"), file, "non_finite",
                "prompt_embeddings holds NaN at row 1, column 6");
    }

    @Test
    void shouldRefuseOtherTensorsThanPromptEmbeddings() {
        byte[] file = safetensors("{\"prompt_embeddings\":{\"dtype\":\"F32\",\"shape\":[4,64],\"data_offsets\":[0,1024]},"
                + "\"classifier.weight\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[1024,1028]}}",
                floats(257, 0.5f));

        assertRefused(config("tiny-gpt2", "prompt-tuning"), file, "safetensors",
                "holds [prompt_embeddings, classifier.weight]; a prompt-learning adapter holds exactly one tensor");
    }

    @Test
    void shouldRefuseTruncatedWeightsAndMalformedConfigs() {
        byte[] file = weights("tiny-gpt2", "prompt-tuning");

        assertRefused(config("tiny-gpt2", "prompt-tuning"), java.util.Arrays.copyOf(file, file.length - 1), "safetensors",
                "outside the 1023 data bytes");
        assertRefused("{\"peft_type\": \"PROMPT_TUNING\"".getBytes(), file, "config", "adapter_config.json: not valid JSON");
        assertRefused(configWith("tiny-gpt2", "prompt-tuning", "token_dim", "\"64\""), file, "config",
                "token_dim is not an integer");
        assertRefused(configWith("tiny-gpt2", "prompt-tuning", "num_virtual_tokens", "0"), file, "config",
                "num_virtual_tokens 0 is not between 1 and 4096");
    }

    @Test
    void shouldRefuseADirectoryWithAPickleInsteadOfSafetensors(@TempDir Path dir) throws IOException {
        Files.write(dir.resolve("adapter_config.json"), config("tiny-gpt2", "prompt-tuning"));
        Files.write(dir.resolve("adapter_model.bin"), new byte[] {(byte) 0x80, 2});

        assertThatThrownBy(() -> PeftAdapter.read(dir))
                .isInstanceOfSatisfying(PeftFormatException.class, e -> assertThat(e.reason()).isEqualTo("safetensors"))
                .hasMessageContaining("holds adapter_model.bin (a pickle, never read here); save the adapter with "
                        + "safe_serialization=True");
    }

    @Test
    void shouldRefuseADirectoryWithoutConfig(@TempDir Path dir) throws IOException {
        Files.write(dir.resolve("adapter_model.safetensors"), weights("tiny-gpt2", "prompt-tuning"));

        assertThatThrownBy(() -> PeftAdapter.read(dir))
                .isInstanceOfSatisfying(PeftFormatException.class, e -> assertThat(e.reason()).isEqualTo("config"))
                .hasMessageContaining("has no adapter_config.json: not a PEFT adapter directory");
    }

    @Test
    void shouldWriteFilesThatReadBackEqual(@TempDir Path dir) throws IOException {
        PeftAdapter adapter = PeftAdapter.read(PeftFixtures.dir("tiny-llama", "prefix-tuning"));

        adapter.write(dir);
        PeftAdapter again = PeftAdapter.read(dir);

        assertThat(again.config()).isEqualTo(adapter.config());
        assertThat(again.promptEmbeddings()).isEqualTo(adapter.promptEmbeddings());
        assertThat(again.metadata()).isEqualTo(adapter.metadata());
        assertThat(new String(again.configJson())).contains("\"inference_mode\" : true", "\"peft_type\" : \"PREFIX_TUNING\"",
                "\"prefix_projection\" : false", "\"task_type\" : \"CAUSAL_LM\"");
    }

    private static void assertRefused(byte[] config, byte[] weights, String reason, String message) {
        assertThatThrownBy(() -> PeftAdapter.read(config, weights))
                .isInstanceOfSatisfying(PeftFormatException.class, e -> assertThat(e.reason()).isEqualTo(reason))
                .hasMessageContaining(message);
    }

    /** The data section of a safetensors file, found from its header length (read here, not by the reader). */
    static byte[] dataOf(byte[] file) {
        int header = (int) ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN).getLong();
        return java.util.Arrays.copyOfRange(file, 8 + header, file.length);
    }

    static float[] rawFloats(byte[] file) {
        ByteBuffer data = ByteBuffer.wrap(dataOf(file)).order(ByteOrder.LITTLE_ENDIAN);
        float[] values = new float[data.remaining() / 4];
        data.asFloatBuffer().get(values);
        return values;
    }
}

package io.tunestream.schemas.peft;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.tunestream.schemas.AdapterVersion;
import io.tunestream.schemas.Tensor;
import io.tunestream.schemas.VirtualPromptStyle;
import io.tunestream.schemas.adapters.AdapterCheck;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Timeout;

/**
 * Fuzz targets of the PEFT reader: a PEFT directory comes from outside (a user's upload to the trainer). Regression
 * mode (the normal suite) replays the inputs under {@code PeftAdapterFuzzTestInputs/<method>/} (seeds: the fixtures
 * of {@code models/&#42;/peft/} and bad variants of them); {@code JAZZER_FUZZ=1} fuzzes (see BENCHMARKS.md, "Fuzzing").
 */
@Timeout(30) // per input; the first one also pays for Jazzer's agent and class loading on a busy machine
class PeftAdapterFuzzTest {

    private static final Set<String> REASONS = Set.of("config", "safetensors", "dtype", "peft_type", "shape", "model",
            "non_finite", "size", "template", "hidden_size", "deep_prompt_shape", "splits", "style", "version",
            "fingerprint");
    private static final AdapterCheck GPT2 = new AdapterCheck("fp-tiny-gpt2", 64, new AdapterCheck.Decoder(2, 4, 16));

    /**
     * Any bytes are a safetensors file whose tensors cover its data exactly, each as long as its shape and dtype
     * say, or are refused with a {@link PeftFormatException} naming the reason; nothing else is thrown.
     */
    @FuzzTest(maxDuration = "3m")
    void anySafetensorsFileIsReadWholeOrRefused(byte[] file) {
        SafeTensors.Contents contents;
        try {
            contents = SafeTensors.read(file);
        } catch (PeftFormatException e) {
            assertThat(e.reason()).isIn("safetensors", "dtype");
            assertThat(e.getMessage()).startsWith("adapter_model.safetensors: ");
            return;
        }
        long headerLength = ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN).getLong();
        long covered = 0;
        for (Tensor tensor : contents.tensors().values()) {
            long elements = tensor.getShape().stream().mapToLong(Integer::longValue).reduce(1, (a, b) -> a * b);
            assertThat((long) tensor.getData().remaining()).as(tensor.getName())
                    .isEqualTo(elements * io.tunestream.schemas.tensor.TensorCodec.elementSize(tensor.getDtype()));
            covered += tensor.getData().remaining();
        }
        assertThat(covered).isEqualTo(file.length - 8 - headerLength);
    }

    /**
     * Input: a 2-byte big-endian config length, the config's bytes, then the safetensors file. Either both are read
     * into an adapter that imports into a tiny-gpt2 task (or is refused for it, with a reason) and exports back to
     * the same tensor, or they are refused with a reason; nothing else is thrown.
     */
    @FuzzTest(maxDuration = "3m")
    void anyAdapterFilesAreImportedOrRefused(byte[] input) {
        if (input.length < 2) {
            return;
        }
        int configLength = Math.min(((input[0] & 0xff) << 8) | (input[1] & 0xff), input.length - 2);
        byte[] config = Arrays.copyOfRange(input, 2, 2 + configLength);
        byte[] weights = Arrays.copyOfRange(input, 2 + configLength, input.length);
        PeftAdapter adapter;
        try {
            adapter = PeftAdapter.read(config, weights);
        } catch (PeftFormatException e) {
            assertThat(e.reason()).isIn(REASONS);
            return;
        }
        VirtualPromptStyle style = adapter.config().peftType().style();
        AdapterVersion version;
        try {
            version = PeftConversion.toAdapterVersion(adapter, GPT2, PeftConversionTest.template(style,
                    List.of(adapter.config().numVirtualTokens())), "hash", 1, "fuzz", 0L);
        } catch (PeftFormatException e) {
            assertThat(e.reason()).isIn(REASONS);
            return;
        }
        assertThat(GPT2.refusal(version)).isEmpty();
        PeftAdapter exported = PeftConversion.toPeft(version, adapter.config().baseModelNameOrPath());
        assertThat(PeftAdapter.read(exported.configJson(), exported.safetensors()).promptEmbeddings())
                .isEqualTo(adapter.promptEmbeddings());
    }
}

package io.tunestream.schemas.peft;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Arrays;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;
import org.junit.jupiter.api.Test;

class PeftArchiveTest {

    private static byte[] zip(String... namesAndContents) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ZipOutputStream out = new ZipOutputStream(bytes)) {
            for (int i = 0; i < namesAndContents.length; i += 2) {
                out.putNextEntry(new ZipEntry(namesAndContents[i]));
                out.write(namesAndContents[i + 1].getBytes(java.nio.charset.StandardCharsets.ISO_8859_1));
                out.closeEntry();
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bytes.toByteArray();
    }

    private static String latin1(byte[] bytes) {
        return new String(bytes, java.nio.charset.StandardCharsets.ISO_8859_1);
    }

    private static final String CONFIG = latin1(PeftFixtures.config("tiny-gpt2", "prefix-tuning"));
    private static final String WEIGHTS = latin1(PeftFixtures.weights("tiny-gpt2", "prefix-tuning"));

    @Test
    void shouldReadTheTwoFilesAtTheTopOrInOneFolderSkippingOthers() {
        PeftAdapter top = PeftArchive.read(zip("adapter_config.json", CONFIG, "adapter_model.safetensors", WEIGHTS));
        PeftAdapter folder = PeftArchive.read(zip("deep/", "", "deep/README.md", "# notes",
                "deep/adapter_model.safetensors", WEIGHTS, "deep/adapter_config.json", CONFIG));

        assertThat(top.config().peftType()).isEqualTo(PeftType.PREFIX_TUNING);
        assertThat(top.safetensors()).isEqualTo(PeftFixtures.weights("tiny-gpt2", "prefix-tuning"));
        assertThat(folder.promptEmbeddings()).isEqualTo(top.promptEmbeddings());
    }

    @Test
    void shouldWriteWhatItReads() {
        PeftAdapter adapter = PeftArchive.read(zip("adapter_config.json", CONFIG, "adapter_model.safetensors", WEIGHTS));

        PeftAdapter back = PeftArchive.read(PeftArchive.write(adapter));

        assertThat(back).isEqualTo(adapter);
    }

    @Test
    void shouldRefuseWhatIsNotAnAdapterArchiveWithItsReason() {
        assertThat(reason(new byte[] {1, 2, 3})).isEqualTo("archive");
        assertThat(reason(zip("adapter_model.safetensors", WEIGHTS))).isEqualTo("config");
        assertThat(reason(zip("adapter_config.json", CONFIG, "adapter_model.bin", "pickle"))).isEqualTo("safetensors");
        assertThat(reason(zip("a/b/adapter_config.json", CONFIG, "adapter_model.safetensors", WEIGHTS)))
                .isEqualTo("archive");
        assertThat(reason(zip("adapter_config.json", CONFIG, "x/adapter_config.json", CONFIG,
                "adapter_model.safetensors", WEIGHTS))).isEqualTo("archive");
        assertThat(reason(zip("adapter_config.json", CONFIG, "adapter_model.safetensors",
                WEIGHTS.substring(0, WEIGHTS.length() - 7)))).isEqualTo("safetensors");
    }

    @Test
    void shouldStopInflatingAFileAtItsLimit() {
        char[] big = new char[PeftConfig.MAX_BYTES + 1];
        Arrays.fill(big, ' ');
        byte[] bomb = zip("adapter_config.json", new String(big), "adapter_model.safetensors", WEIGHTS);

        PeftFormatException refused = catchThrowableOfType(() -> PeftArchive.read(bomb), PeftFormatException.class);

        assertThat(bomb.length).isLessThan(PeftConfig.MAX_BYTES / 100);
        assertThat(refused.reason()).isEqualTo("size");
        assertThat(refused.getMessage()).isEqualTo("adapter_config.json inflates to more than 1048576 bytes");
    }

    private static String reason(byte[] zip) {
        return catchThrowableOfType(() -> PeftArchive.read(zip), PeftFormatException.class).reason();
    }
}

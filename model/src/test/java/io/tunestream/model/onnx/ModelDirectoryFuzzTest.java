package io.tunestream.model.onnx;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.tunestream.model.tokenize.HuggingFaceTextTokenizer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Timeout;

/**
 * Fuzz target of the model-directory loader: a {@code config.json}, a {@code tokenizer.json} and a
 * {@code model.onnx} (a small graph: the tiny models' structure with an 8 × 4 embedding table and
 * 16-byte stand-ins for the other weights) are read and checked as {@link DecoderModel#load} does
 * before it creates a session ({@link DecoderModel#parse}), and the tokenizer is loaded. The outcome
 * is a parsed model (its embedding table as big as config.json says) and a tokenizer, or an {@link
 * IllegalArgumentException} / {@link UncheckedIOException} that names the model directory or file;
 * nothing else escapes, and memory stays bounded by the input's size.
 *
 * <p>An input holds the three files in that order, split by {@link #MARKER}; seeds
 * ({@code ModelDirectoryFuzzTestInputs/}) are tiny-gpt2 and tiny-llama made small. ONNX Runtime's
 * own parsing of the graph (session creation) is not fuzzed here: it is native code.
 */
@Timeout(30) // per input; the first one also pays for Jazzer's agent and class loading on a busy machine
class ModelDirectoryFuzzTest {

    static final byte[] MARKER = "\n--tunestream-model-part--\n".getBytes(StandardCharsets.US_ASCII);

    private static Path dir;

    @BeforeAll
    static void createDirectory() throws IOException {
        dir = Files.createTempDirectory("fuzz-model");
    }

    @AfterAll
    static void deleteDirectory() throws IOException {
        for (String file : new String[] {"config.json", "tokenizer.json", "model.onnx"}) {
            Files.deleteIfExists(dir.resolve(file));
        }
        Files.deleteIfExists(dir);
    }

    @FuzzTest(maxDuration = "3m")
    void modelDirectoryLoadsOrFailsClearly(byte[] input) throws IOException {
        byte[][] files = split(input);
        Files.write(dir.resolve("config.json"), files[0]);
        Files.write(dir.resolve("tokenizer.json"), files[1]);
        Files.write(dir.resolve("model.onnx"), files[2]);

        try {
            DecoderModel.Parsed parsed = DecoderModel.parse(dir);
            ModelConfig config = parsed.weights().config();
            assertThat(parsed.weights().tokenEmbeddings())
                    .hasSize(config.vocabSize() * config.hiddenSize());
            assertThat(parsed.weights().fingerprint()).hasSize(64);
        } catch (IllegalArgumentException | UncheckedIOException e) {
            assertThat(e.getMessage()).as("a refused model directory is named").contains(dir.toString());
        }

        try (HuggingFaceTextTokenizer tokenizer = HuggingFaceTextTokenizer.load(dir)) {
            assertThat(tokenizer.decode(tokenizer.encode("Where does Kamiro live?"))).isNotNull();
        } catch (IllegalArgumentException | UncheckedIOException e) {
            assertThat(e.getMessage()).as("a refused tokenizer is named").contains(dir.toString());
        }
    }

    /** The three files of an input: the parts before, between and after the first two markers. */
    static byte[][] split(byte[] input) {
        byte[][] parts = new byte[3][];
        int from = 0;
        for (int part = 0; part < 2; part++) {
            int at = indexOf(input, MARKER, from);
            if (at < 0) {
                parts[part] = Arrays.copyOfRange(input, from, input.length);
                from = input.length;
            } else {
                parts[part] = Arrays.copyOfRange(input, from, at);
                from = at + MARKER.length;
            }
        }
        parts[2] = Arrays.copyOfRange(input, from, input.length);
        return parts;
    }

    private static int indexOf(byte[] data, byte[] pattern, int from) {
        outer:
        for (int i = from; i <= data.length - pattern.length; i++) {
            for (int j = 0; j < pattern.length; j++) {
                if (data[i + j] != pattern[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }
}

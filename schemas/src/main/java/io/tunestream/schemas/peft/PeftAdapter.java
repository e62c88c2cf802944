package io.tunestream.schemas.peft;

import io.tunestream.schemas.Tensor;
import io.tunestream.schemas.tensor.TensorCodec;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A prompt-learning adapter in PEFT's format: {@code adapter_config.json} and {@code adapter_model.safetensors}
 * holding one tensor, {@code prompt_embeddings} ({@code BasePromptEncoder._get_adapter_state_dict} in
 * huggingface/peft 5d602fdbff04c33c1c4de55cda9d4ae1d7cb7e40, src/peft/tuners/tuners_utils.py; file names from
 * src/peft/utils/constants.py), {@code [num_virtual_tokens, width]} with the width of {@link PeftConfig#tensorWidth}.
 *
 * <p>A value: the tensor agrees with the config (checked on construction). Whether it fits a model and a task is
 * {@link PeftConversion}'s business.
 *
 * @param config           what the config says
 * @param promptEmbeddings the tensor, F32, F16 or BF16 (as our {@code DType}), only finite values
 * @param metadata         the safetensors {@code __metadata__} ({@code format: pt} from PEFT; our exports add the
 *                         task, version and model fingerprint, see {@link PeftConversion})
 */
public record PeftAdapter(PeftConfig config, Tensor promptEmbeddings, Map<String, String> metadata) {

    /** The file PEFT saves the weights in ({@code SAFETENSORS_WEIGHTS_NAME}). */
    public static final String WEIGHTS_FILE = "adapter_model.safetensors";
    /** The one tensor of a prompt-learning adapter. */
    public static final String TENSOR = "prompt_embeddings";
    /** Largest weights file read: four times the adapters topic's 16 MiB records (a float32 file is then halved). */
    public static final int MAX_WEIGHTS_BYTES = 64 << 20;

    public PeftAdapter {
        Objects.requireNonNull(config, "config");
        Objects.requireNonNull(promptEmbeddings, "promptEmbeddings");
        metadata = Map.copyOf(metadata);
        List<Integer> shape = promptEmbeddings.getShape();
        if (shape.size() != 2 || shape.get(0) != config.numVirtualTokens() || shape.get(1) != config.tensorWidth()) {
            throw new PeftFormatException("shape", TENSOR + " has shape " + shape + ", but " + PeftConfig.FILE_NAME
                    + " describes [" + config.numVirtualTokens() + ", " + config.tensorWidth() + "] ("
                    + config.peftType() + ": num_virtual_tokens x "
                    + (config.peftType() == PeftType.PREFIX_TUNING ? "2 x num_layers x token_dim)" : "token_dim)"));
        }
        float[] values;
        try {
            values = TensorCodec.decode(promptEmbeddings);
        } catch (IllegalArgumentException e) {
            throw new PeftFormatException("shape", TENSOR + ": " + e.getMessage(), e);
        }
        int width = shape.get(1);
        for (int i = 0; i < values.length; i++) {
            if (!Float.isFinite(values[i])) {
                throw new PeftFormatException("non_finite", TENSOR + " holds " + values[i] + " at row " + i / width
                        + ", column " + i % width + "; only finite values can be served");
            }
        }
    }

    /** The tensor's values, row-major, as floats. */
    public float[] values() {
        return TensorCodec.decode(promptEmbeddings);
    }

    /**
     * The adapter in {@code directory} ({@code adapter_config.json} and {@code adapter_model.safetensors}).
     *
     * @throws PeftFormatException when a file is missing, too big or not a valid adapter
     * @throws IOException         when a file cannot be read
     */
    public static PeftAdapter read(Path directory) throws IOException {
        Path weights = directory.resolve(WEIGHTS_FILE);
        if (!Files.exists(weights) && Files.exists(directory.resolve("adapter_model.bin"))) {
            throw new PeftFormatException("safetensors", directory + " holds adapter_model.bin (a pickle, never read "
                    + "here); save the adapter with safe_serialization=True to get " + WEIGHTS_FILE);
        }
        return read(readBounded(directory.resolve(PeftConfig.FILE_NAME), PeftConfig.MAX_BYTES),
                readBounded(weights, MAX_WEIGHTS_BYTES));
    }

    /**
     * The adapter of these two files' bytes, as a request body brings them.
     *
     * @throws PeftFormatException when they are not a valid adapter (the reason and the file named)
     */
    public static PeftAdapter read(byte[] configJson, byte[] safetensors) {
        PeftConfig config = PeftConfig.parse(configJson);
        if (safetensors.length > MAX_WEIGHTS_BYTES) {
            throw new PeftFormatException("size", WEIGHTS_FILE + " has " + safetensors.length + " bytes, more than "
                    + MAX_WEIGHTS_BYTES);
        }
        SafeTensors.Contents contents = SafeTensors.read(safetensors);
        Tensor tensor = contents.tensors().get(TENSOR);
        if (tensor == null || contents.tensors().size() != 1) {
            throw new PeftFormatException("safetensors", WEIGHTS_FILE + " holds " + contents.tensors().keySet()
                    + "; a prompt-learning adapter holds exactly one tensor, " + TENSOR);
        }
        return new PeftAdapter(config, tensor, contents.metadata());
    }

    /** The bytes of {@code adapter_config.json}. */
    public byte[] configJson() {
        return config.toJson();
    }

    /** The bytes of {@code adapter_model.safetensors}. */
    public byte[] safetensors() {
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        tensors.put(TENSOR, promptEmbeddings);
        return SafeTensors.write(tensors, metadata);
    }

    /** Writes the two files into {@code directory} (created if needed; files there are replaced). */
    public void write(Path directory) throws IOException {
        Files.createDirectories(directory);
        Files.write(directory.resolve(PeftConfig.FILE_NAME), configJson());
        Files.write(directory.resolve(WEIGHTS_FILE), safetensors());
    }

    private static byte[] readBounded(Path file, int maxBytes) throws IOException {
        try (InputStream in = Files.newInputStream(file)) {
            byte[] bytes = in.readNBytes(maxBytes + 1);
            if (bytes.length > maxBytes) {
                throw new PeftFormatException("size", file + " has more than " + maxBytes + " bytes");
            }
            return bytes;
        } catch (NoSuchFileException e) {
            throw new PeftFormatException(file.getFileName().toString().equals(PeftConfig.FILE_NAME) ? "config"
                    : "safetensors", file.getParent() + " has no " + file.getFileName() + ": not a PEFT adapter directory");
        }
    }
}

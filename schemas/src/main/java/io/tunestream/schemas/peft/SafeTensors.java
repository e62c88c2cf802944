package io.tunestream.schemas.peft;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.tunestream.schemas.DType;
import io.tunestream.schemas.Tensor;
import io.tunestream.schemas.tensor.TensorCodec;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Reads and writes the safetensors format (https://github.com/huggingface/safetensors, format as described in its
 * README): an 8-byte little-endian unsigned header length N, N bytes of UTF-8 JSON header, then the data. The header
 * maps each tensor name to {@code {"dtype", "shape", "data_offsets": [begin, end]}} (offsets into the data, after the
 * header) and may hold {@code "__metadata__"}, a map of strings to strings.
 *
 * <p>Strict, because an adapter file comes from outside: the header must be at most {@link #MAX_HEADER_BYTES}, valid
 * UTF-8 JSON without duplicate keys, each entry exactly those three fields; the tensors must cover the data
 * contiguously in order of their offsets, without holes, overlaps or trailing bytes (the format's own rule), and each
 * tensor's byte length must be its shape's element count times its element size. Only F32, F16 and BF16 are read
 * (as our {@link DType}s, bytes copied unchanged); any other dtype is refused by name. Every problem is a
 * {@link PeftFormatException} (reason {@code safetensors}, or {@code dtype}) naming the tensor.
 *
 * <p>DJL's {@code NDList} reads safetensors too, but into engine arrays (an {@code NDManager}), which
 * {@code schemas} does not have; hence this small reader.
 */
public final class SafeTensors {

    /** Largest header read: PEFT adapters hold one tensor; 1 MiB leaves room for long metadata. */
    public static final int MAX_HEADER_BYTES = 1 << 20;
    /** Name of the optional metadata entry of the header. */
    public static final String METADATA = "__metadata__";

    private static final ObjectMapper JSON = JsonMapper.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .disable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS)
            .build();
    private static final StreamReadConstraints LIMITS = StreamReadConstraints.builder()
            .maxNestingDepth(8).maxNumberLength(32).maxStringLength(MAX_HEADER_BYTES).build();

    static {
        JSON.getFactory().setStreamReadConstraints(LIMITS);
    }

    private SafeTensors() {
    }

    /** What a safetensors file holds: its tensors in the order of their data, and its metadata. */
    public record Contents(Map<String, Tensor> tensors, Map<String, String> metadata) {
        public Contents {
            tensors = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(tensors));
            metadata = Map.copyOf(metadata);
        }
    }

    /**
     * The tensors and metadata of {@code file}, a whole safetensors file.
     *
     * @throws PeftFormatException when the bytes are not a valid safetensors file of F32, F16 or BF16 tensors
     */
    public static Contents read(byte[] file) {
        Objects.requireNonNull(file, "file");
        if (file.length < 8) {
            throw problem("the file has " + file.length + " bytes, fewer than the 8 of the header length");
        }
        long headerLength = ByteBuffer.wrap(file, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        if (headerLength < 2 || headerLength > MAX_HEADER_BYTES) {
            throw problem("header length " + Long.toUnsignedString(headerLength) + " is not between 2 and "
                    + MAX_HEADER_BYTES + " bytes");
        }
        if (headerLength > file.length - 8L) {
            throw problem("header length " + headerLength + " runs past the end of the file (" + file.length
                    + " bytes): the file is truncated");
        }
        int dataStart = 8 + (int) headerLength;
        JsonNode header = parseHeader(file, (int) headerLength);
        long dataLength = file.length - (long) dataStart;

        Map<String, String> metadata = Map.of();
        List<Entry> entries = new ArrayList<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = header.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> field = it.next();
            if (field.getKey().equals(METADATA)) {
                metadata = metadata(field.getValue());
            } else {
                entries.add(entry(field.getKey(), field.getValue(), dataLength));
            }
        }
        entries.sort(Comparator.comparingLong(Entry::begin));
        long expectedBegin = 0;
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        for (Entry e : entries) {
            if (e.begin() != expectedBegin) {
                throw problem("tensor '" + e.name() + "' starts at data offset " + e.begin() + ", expected "
                        + expectedBegin + (e.begin() > expectedBegin ? " (a hole in the data)" : " (overlapping data)"));
            }
            expectedBegin = e.end();
            ByteBuffer data = ByteBuffer.wrap(java.util.Arrays.copyOfRange(file, dataStart + (int) e.begin(),
                    dataStart + (int) e.end()));
            tensors.put(e.name(), Tensor.newBuilder().setName(e.name()).setDtype(e.dtype()).setShape(e.shape())
                    .setData(data).build());
        }
        if (expectedBegin != dataLength) {
            throw problem("the tensors cover " + expectedBegin + " of the " + dataLength
                    + " data bytes: the file has trailing bytes");
        }
        return new Contents(tensors, metadata);
    }

    /**
     * A safetensors file of {@code tensors} (in this order) and {@code metadata}; the header is padded with spaces
     * to a multiple of 8 bytes, as the reference implementation does.
     */
    public static byte[] write(Map<String, Tensor> tensors, Map<String, String> metadata) {
        ObjectNode header = JSON.createObjectNode();
        if (!metadata.isEmpty()) {
            ObjectNode meta = header.putObject(METADATA);
            new java.util.TreeMap<>(metadata).forEach(meta::put);
        }
        long offset = 0;
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
            if (e.getKey().equals(METADATA)) {
                throw new IllegalArgumentException("a tensor may not be named " + METADATA);
            }
            Tensor tensor = e.getValue();
            int length = tensor.getData().remaining();
            TensorCodec.decode(tensor); // checks that shape, dtype and bytes agree
            ObjectNode entry = header.putObject(e.getKey());
            entry.put("dtype", name(tensor.getDtype()));
            ArrayNode shape = entry.putArray("shape");
            tensor.getShape().forEach(shape::add);
            entry.putArray("data_offsets").add(offset).add(offset + length);
            offset += length;
        }
        byte[] json;
        try {
            json = JSON.writeValueAsBytes(header);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write a safetensors header: " + e.getMessage(), e);
        }
        int padded = (json.length + 7) / 8 * 8;
        ByteBuffer out = ByteBuffer.allocate(8 + padded + (int) offset).order(ByteOrder.LITTLE_ENDIAN);
        out.putLong(padded).put(json);
        for (int i = json.length; i < padded; i++) {
            out.put((byte) ' ');
        }
        for (Tensor tensor : tensors.values()) {
            out.put(tensor.getData().duplicate());
        }
        return out.array();
    }

    /** The safetensors name of {@code dtype}. */
    public static String name(DType dtype) {
        return switch (dtype) {
            case FLOAT32 -> "F32";
            case FLOAT16 -> "F16";
            case BFLOAT16 -> "BF16";
        };
    }

    private record Entry(String name, DType dtype, List<Integer> shape, long begin, long end) {
    }

    private static JsonNode parseHeader(byte[] file, int length) {
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(file, 8, length)).toString();
        } catch (CharacterCodingException e) {
            throw problem("the header is not UTF-8");
        }
        JsonNode header;
        try (JsonParser parser = JSON.createParser(text)) {
            header = JSON.readTree(parser);
            if (parser.nextToken() != null) {
                throw problem("the header has more after its JSON object");
            }
        } catch (PeftFormatException e) {
            throw e;
        } catch (java.io.IOException | RuntimeException e) {
            throw problem("the header is not valid JSON: " + firstLine(e.getMessage()));
        }
        if (header == null || !header.isObject()) {
            throw problem("the header is not a JSON object");
        }
        return header;
    }

    private static Map<String, String> metadata(JsonNode node) {
        if (!node.isObject()) {
            throw problem(METADATA + " is not an object of strings");
        }
        Map<String, String> metadata = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (!e.getValue().isTextual()) {
                throw problem(METADATA + " entry '" + e.getKey() + "' is not a string");
            }
            metadata.put(e.getKey(), e.getValue().textValue());
        }
        return metadata;
    }

    private static Entry entry(String name, JsonNode node, long dataLength) {
        String where = "tensor '" + name + "'";
        if (!node.isObject()) {
            throw problem(where + " is not an object");
        }
        for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
            String key = it.next();
            if (!key.equals("dtype") && !key.equals("shape") && !key.equals("data_offsets")) {
                throw problem(where + " has an unknown field '" + key + "'");
            }
        }
        JsonNode dtypeNode = node.get("dtype");
        if (dtypeNode == null || !dtypeNode.isTextual()) {
            throw problem(where + " has no dtype string");
        }
        DType dtype = switch (dtypeNode.textValue()) {
            case "F32" -> DType.FLOAT32;
            case "F16" -> DType.FLOAT16;
            case "BF16" -> DType.BFLOAT16;
            default -> throw new PeftFormatException("dtype", "adapter_model.safetensors: " + where + " has dtype '" + dtypeNode.textValue()
                    + "'; only F32, F16 and BF16 are read");
        };
        JsonNode shapeNode = node.get("shape");
        if (shapeNode == null || !shapeNode.isArray() || shapeNode.size() > 8) {
            throw problem(where + " has no shape array of at most 8 dimensions");
        }
        List<Integer> shape = new ArrayList<>();
        long elements = 1;
        for (JsonNode d : shapeNode) {
            if (!d.isIntegralNumber() || !d.canConvertToInt() || d.intValue() < 0) {
                throw problem(where + " has shape " + shapeNode + ": dimensions must be integers from 0 to "
                        + Integer.MAX_VALUE);
            }
            shape.add(d.intValue());
            // saturates instead of wrapping: such a count can never match the bytes of a file held in memory
            elements = d.intValue() != 0 && elements > Long.MAX_VALUE / 8 / d.intValue() ? Long.MAX_VALUE / 8
                    : elements * d.intValue();
        }
        JsonNode offsets = node.get("data_offsets");
        if (offsets == null || !offsets.isArray() || offsets.size() != 2
                || !offsets.get(0).isIntegralNumber() || !offsets.get(1).isIntegralNumber()
                || !offsets.get(0).canConvertToLong() || !offsets.get(1).canConvertToLong()) {
            throw problem(where + " has no data_offsets [begin, end]");
        }
        long begin = offsets.get(0).longValue();
        long end = offsets.get(1).longValue();
        if (begin < 0 || end < begin || end > dataLength) {
            throw problem(where + " has data_offsets [" + begin + ", " + end + "] outside the " + dataLength
                    + " data bytes");
        }
        long expected = elements * TensorCodec.elementSize(dtype);
        if (end - begin != expected) {
            throw problem(where + " of shape " + shape + " " + dtypeNode.textValue() + " needs " + expected
                    + " bytes, but its data_offsets [" + begin + ", " + end + "] hold " + (end - begin));
        }
        return new Entry(name, dtype, List.copyOf(shape), begin, end);
    }

    private static String firstLine(String message) {
        if (message == null) {
            return "";
        }
        int newline = message.indexOf('\n');
        return newline < 0 ? message : message.substring(0, newline);
    }

    private static PeftFormatException problem(String message) {
        return new PeftFormatException("safetensors", "adapter_model.safetensors: " + message);
    }
}

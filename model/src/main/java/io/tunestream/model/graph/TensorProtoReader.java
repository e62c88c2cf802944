package io.tunestream.model.graph;

import ai.onnx.proto.OnnxMl;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.OptionalDouble;

/**
 * Reads the values of an ONNX {@code TensorProto} (an initializer or a {@code Constant} node's value),
 * wherever the exporter put them: {@code raw_data} (always little-endian, whatever the machine), the
 * typed fields ({@code float_data}, {@code double_data}, {@code int64_data}, {@code int32_data}), or an
 * external data file next to the model. The one place in Tunestream that decodes tensor bytes; graph
 * rewrites, the autodiff rules and the weights all read through it.
 */
public final class TensorProtoReader {

    private static final int FLOAT = OnnxMl.TensorProto.DataType.FLOAT.getNumber();
    private static final int DOUBLE = OnnxMl.TensorProto.DataType.DOUBLE.getNumber();
    private static final int INT32 = OnnxMl.TensorProto.DataType.INT32.getNumber();
    private static final int INT64 = OnnxMl.TensorProto.DataType.INT64.getNumber();

    private TensorProtoReader() {
    }

    /**
     * Where an external tensor's bytes are.
     *
     * @param location file name relative to the model's directory
     * @param offset   first byte in the file
     * @param length   bytes, or -1 when the entry does not say (the rest of the file)
     */
    public record ExternalData(String location, long offset, long length) {
    }

    /**
     * The values of a float32 tensor, row-major.
     *
     * @param tensor   the tensor
     * @param modelDir directory of the model file, against which external data locations resolve
     * @throws IllegalArgumentException if the tensor is not float32 or its data is incomplete
     * @throws UncheckedIOException     if external data cannot be read
     */
    public static float[] floats(OnnxMl.TensorProto tensor, Path modelDir) {
        if (tensor.getDataType() != FLOAT) {
            throw new IllegalArgumentException("initializer " + tensor.getName() + " has data type "
                    + tensor.getDataType() + ", expected FLOAT (1)");
        }
        long count = 1;
        for (long d : tensor.getDimsList()) {
            count = Math.multiplyExact(count, d);
        }
        int n = Math.toIntExact(count);
        float[] values = new float[n];
        if (tensor.getDataLocation() == OnnxMl.TensorProto.DataLocation.EXTERNAL) {
            externalBytes(tensor, modelDir, (long) n * Float.BYTES).asFloatBuffer().get(values);
        } else if (!tensor.getRawData().isEmpty()) {
            if (tensor.getRawData().size() != n * Float.BYTES) {
                throw new IllegalArgumentException("initializer " + tensor.getName() + " has " + tensor.getRawData().size()
                        + " raw bytes, expected " + (long) n * Float.BYTES + " for dims " + tensor.getDimsList());
            }
            raw(tensor).asFloatBuffer().get(values);
        } else {
            if (tensor.getFloatDataCount() != n) {
                throw new IllegalArgumentException("initializer " + tensor.getName() + " has " + tensor.getFloatDataCount()
                        + " float values, expected " + n + " for dims " + tensor.getDimsList());
            }
            for (int i = 0; i < n; i++) {
                values[i] = tensor.getFloatData(i);
            }
        }
        return values;
    }

    /**
     * The value of a float or double tensor holding exactly one value (in its typed field or its raw
     * data), whatever its dims say; empty for any other type or count. Callers that need a rank check
     * make it on the dims.
     */
    public static OptionalDouble scalar(OnnxMl.TensorProto tensor) {
        if (tensor.getDataType() == FLOAT) {
            if (tensor.getFloatDataCount() == 1) {
                return OptionalDouble.of(tensor.getFloatData(0));
            }
            if (tensor.getRawData().size() == Float.BYTES) {
                return OptionalDouble.of(raw(tensor).getFloat());
            }
        } else if (tensor.getDataType() == DOUBLE) {
            if (tensor.getDoubleDataCount() == 1) {
                return OptionalDouble.of(tensor.getDoubleData(0));
            }
            if (tensor.getRawData().size() == Double.BYTES) {
                return OptionalDouble.of(raw(tensor).getDouble());
            }
        }
        return OptionalDouble.empty();
    }

    /**
     * The values of an inline int64 or int32 tensor (shape arguments: Slice steps, Reshape targets),
     * widened to long.
     *
     * @throws IllegalArgumentException if the tensor is of another type or stored externally
     */
    public static long[] longs(OnnxMl.TensorProto tensor) {
        if (tensor.getDataLocation() == OnnxMl.TensorProto.DataLocation.EXTERNAL) {
            throw new IllegalArgumentException("tensor " + tensor.getName() + " is stored externally; integer tensors are "
                    + "read inline only");
        }
        if (tensor.getDataType() == INT64) {
            if (!tensor.getRawData().isEmpty()) {
                long[] values = new long[tensor.getRawData().size() / Long.BYTES];
                raw(tensor).asLongBuffer().get(values);
                return values;
            }
            return tensor.getInt64DataList().stream().mapToLong(Long::longValue).toArray();
        }
        if (tensor.getDataType() == INT32) {
            if (!tensor.getRawData().isEmpty()) {
                int[] values = new int[tensor.getRawData().size() / Integer.BYTES];
                raw(tensor).asIntBuffer().get(values);
                return Arrays.stream(values).asLongStream().toArray();
            }
            return tensor.getInt32DataList().stream().mapToLong(Integer::longValue).toArray();
        }
        throw new IllegalArgumentException("tensor " + tensor.getName() + " has data type " + tensor.getDataType()
                + ", expected INT64 (7) or INT32 (6)");
    }

    /**
     * Where an external tensor's data is, from its {@code external_data} entries.
     *
     * @throws IllegalArgumentException if the entries name no location
     */
    public static ExternalData externalData(OnnxMl.TensorProto tensor) {
        String location = null;
        long offset = 0;
        long length = -1;
        for (OnnxMl.StringStringEntryProto e : tensor.getExternalDataList()) {
            switch (e.getKey()) {
                case "location" -> location = e.getValue();
                case "offset" -> offset = Long.parseLong(e.getValue());
                case "length" -> length = Long.parseLong(e.getValue());
                default -> { }
            }
        }
        if (location == null) {
            throw new IllegalArgumentException("initializer " + tensor.getName() + " is external but names no location");
        }
        return new ExternalData(location, offset, length);
    }

    /** The raw data, little-endian as ONNX stores it. */
    private static ByteBuffer raw(OnnxMl.TensorProto tensor) {
        return tensor.getRawData().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
    }

    /** {@code expectedLength} external bytes of {@code tensor}, little-endian. */
    private static ByteBuffer externalBytes(OnnxMl.TensorProto tensor, Path modelDir, long expectedLength) {
        ExternalData where = externalData(tensor);
        long length = where.length() < 0 ? expectedLength : where.length();
        if (length != expectedLength) {
            throw new IllegalArgumentException("initializer " + tensor.getName() + " has " + length
                    + " external bytes, expected " + expectedLength + " for dims " + tensor.getDimsList());
        }
        Path file = modelDir.resolve(where.location());
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer buf = ByteBuffer.allocate(Math.toIntExact(length));
            long pos = where.offset();
            while (buf.hasRemaining()) {
                int r = ch.read(buf, pos);
                if (r < 0) {
                    throw new IllegalArgumentException("external data " + file + " ends before initializer "
                            + tensor.getName() + " (offset " + where.offset() + ", length " + length + ")");
                }
                pos += r;
            }
            return buf.flip().order(ByteOrder.LITTLE_ENDIAN);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read external data of initializer " + tensor.getName() + " from " + file, e);
        }
    }
}

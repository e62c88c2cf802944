package io.tunestream.model.onnx;

import ai.onnx.proto.OnnxMl;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Reads the values of ONNX initializers, wherever the exporter put them: {@code raw_data}
 * (little-endian), the typed {@code float_data} field, or an external data file next to the model.
 */
public final class Initializers {

    private Initializers() {
    }

    /**
     * The values of a float32 initializer, row-major.
     *
     * @param tensor   the initializer
     * @param modelDir directory of the model file, against which external data locations resolve
     * @throws IllegalArgumentException if the tensor is not float32 or its data is incomplete
     * @throws UncheckedIOException     if external data cannot be read
     */
    public static float[] floats(OnnxMl.TensorProto tensor, Path modelDir) {
        if (tensor.getDataType() != OnnxMl.TensorProto.DataType.FLOAT.getNumber()) {
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
            ByteBuffer bytes = externalBytes(tensor, modelDir, (long) n * Float.BYTES);
            bytes.order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(values);
        } else if (!tensor.getRawData().isEmpty()) {
            if (tensor.getRawData().size() != n * Float.BYTES) {
                throw new IllegalArgumentException("initializer " + tensor.getName() + " has " + tensor.getRawData().size()
                        + " raw bytes, expected " + (long) n * Float.BYTES + " for dims " + tensor.getDimsList());
            }
            tensor.getRawData().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(values);
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

    private static ByteBuffer externalBytes(OnnxMl.TensorProto tensor, Path modelDir, long expectedLength) {
        String location = null;
        long offset = 0;
        long length = expectedLength;
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
        if (length != expectedLength) {
            throw new IllegalArgumentException("initializer " + tensor.getName() + " has " + length
                    + " external bytes, expected " + expectedLength + " for dims " + tensor.getDimsList());
        }
        Path file = modelDir.resolve(location);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer buf = ByteBuffer.allocate(Math.toIntExact(length));
            long pos = offset;
            while (buf.hasRemaining()) {
                int r = ch.read(buf, pos);
                if (r < 0) {
                    throw new IllegalArgumentException("external data " + file + " ends before initializer "
                            + tensor.getName() + " (offset " + offset + ", length " + length + ")");
                }
                pos += r;
            }
            return buf.flip();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read external data of initializer " + tensor.getName() + " from " + file, e);
        }
    }
}

package io.tunestream.model.graph;

import ai.onnx.proto.OnnxMl;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Comparator;
import java.util.HexFormat;

/**
 * Hex SHA-256 over a model's weights: every initializer, in name order, as name, type, dims and
 * data bytes (inline or external). Graph structure and metadata do not count, so re-exporting the
 * same weights keeps the fingerprint, and any changed weight changes it. Adapters record the
 * fingerprint of the model they were tuned on.
 */
public final class WeightsFingerprint {

    private WeightsFingerprint() {
    }

    public static String of(OnnxMl.ModelProto model, Path modelDir) {
        MessageDigest sha;
        try {
            sha = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JVM has no SHA-256", e);
        }
        var initializers = model.getGraph().getInitializerList().stream()
                .sorted(Comparator.comparing(OnnxMl.TensorProto::getName)).toList();
        for (OnnxMl.TensorProto t : initializers) {
            sha.update(t.getName().getBytes(StandardCharsets.UTF_8));
            ByteBuffer header = ByteBuffer.allocate(8 + 8 * t.getDimsCount()).order(ByteOrder.LITTLE_ENDIAN);
            header.putInt(t.getDataType()).putInt(t.getDimsCount());
            t.getDimsList().forEach(header::putLong);
            sha.update(header.array());
            if (t.getDataLocation() == OnnxMl.TensorProto.DataLocation.EXTERNAL) {
                updateExternal(sha, t, modelDir);
            } else if (!t.getRawData().isEmpty()) {
                sha.update(t.getRawData().asReadOnlyByteBuffer());
            } else {
                // typed fields (float_data, int64_data, ...): their serialized form is deterministic
                sha.update(t.toBuilder().clearName().clearDims().clearDataType().clearDocString().build().toByteArray());
            }
        }
        return HexFormat.of().formatHex(sha.digest());
    }

    private static void updateExternal(MessageDigest sha, OnnxMl.TensorProto t, Path modelDir) {
        TensorProtoReader.ExternalData where = TensorProtoReader.externalData(t);
        Path file = modelDir.resolve(where.location());
        try (InputStream in = Files.newInputStream(file)) {
            in.skipNBytes(where.offset());
            byte[] buf = new byte[1 << 20];
            long left = where.length() < 0 ? Long.MAX_VALUE : where.length();
            while (left > 0) {
                int r = in.read(buf, 0, (int) Math.min(buf.length, left));
                if (r < 0) {
                    break;
                }
                sha.update(buf, 0, r);
                left -= r;
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read external data of initializer " + t.getName() + " from " + file, e);
        }
    }
}

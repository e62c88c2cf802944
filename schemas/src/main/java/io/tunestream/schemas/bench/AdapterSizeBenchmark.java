package io.tunestream.schemas.bench;

import io.tunestream.schemas.AdapterVersion;
import io.tunestream.schemas.DType;
import io.tunestream.schemas.Tensor;
import io.tunestream.schemas.Topics;
import io.tunestream.schemas.tensor.TensorCodec;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.Random;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.EncoderFactory;
import org.apache.avro.specific.SpecificDatumWriter;

/**
 * Prints, for a virtual-token table of ROWS × HIDDEN, the Avro size of an {@link AdapterVersion}
 * and the time to encode and decode its table in each dtype, with ratios to FLOAT32 measured in
 * the same run, plus the largest error FLOAT16/BFLOAT16 introduce:
 * <pre>./mvnw -B -q -pl schemas compile exec:java -Dexec.mainClass=io.tunestream.schemas.bench.AdapterSizeBenchmark -Dexec.args="100 4096"</pre>
 */
public final class AdapterSizeBenchmark {

    private static final int REPEATS = 20;

    private AdapterSizeBenchmark() {
    }

    public static void main(String[] args) {
        int rows = args.length > 0 ? Integer.parseInt(args[0]) : 100;
        int hidden = args.length > 1 ? Integer.parseInt(args[1]) : 4096;
        float[] table = new float[rows * hidden];
        Random random = new Random(1);
        for (int i = 0; i < table.length; i++) {
            table[i] = (float) random.nextGaussian() * 0.02f;
        }
        System.out.printf("table %d x %d; topic limit %d bytes (Kafka's default 1048588)%n", rows, hidden,
                Topics.LARGE_MESSAGE_BYTES);
        System.out.printf("%-9s %12s %9s %12s %12s %14s%n", "dtype", "avro bytes", "size", "encode ms", "decode ms",
                "max abs error");
        double baseBytes = 0;
        double baseEncode = 0;
        double baseDecode = 0;
        for (int i = 0; i < REPEATS; i++) { // warm up every path before measuring any
            for (DType dtype : DType.values()) {
                TensorCodec.decode(TensorCodec.encodeMatrix("table", table, rows, hidden, dtype));
            }
        }
        for (DType dtype : DType.values()) {
            Tensor tensor = TensorCodec.encodeMatrix("table", table, rows, hidden, dtype);
            long start = System.nanoTime();
            for (int i = 0; i < REPEATS; i++) {
                tensor = TensorCodec.encodeMatrix("table", table, rows, hidden, dtype);
            }
            double encodeMs = (System.nanoTime() - start) / 1e6 / REPEATS;
            float[] decoded = null;
            start = System.nanoTime();
            for (int i = 0; i < REPEATS; i++) {
                decoded = TensorCodec.decode(tensor);
            }
            double decodeMs = (System.nanoTime() - start) / 1e6 / REPEATS;
            double maxError = 0;
            for (int i = 0; i < table.length; i++) {
                maxError = Math.max(maxError, Math.abs(decoded[i] - table[i]));
            }
            int bytes = avroSize(AdapterVersion.newBuilder().setTask("squad").setVersion(1)
                    .setModelFingerprint("sha256:0").setHiddenSize(hidden).setTable(tensor)
                    .setVirtualTokenSplits(List.of(rows)).build());
            if (dtype == DType.FLOAT32) {
                baseBytes = bytes;
                baseEncode = encodeMs;
                baseDecode = decodeMs;
            }
            System.out.printf("%-9s %12d %8.2fx %7.2f (%.2fx) %7.2f (%.2fx) %14.3g%n", dtype, bytes, bytes / baseBytes,
                    encodeMs, encodeMs / baseEncode, decodeMs, decodeMs / baseDecode, maxError);
        }
    }

    private static int avroSize(AdapterVersion adapter) {
        try {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            BinaryEncoder encoder = EncoderFactory.get().binaryEncoder(out, null);
            new SpecificDatumWriter<>(AdapterVersion.class).write(adapter, encoder);
            encoder.flush();
            return out.size();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}

package io.tunestream.model.bench;

import ai.onnx.proto.OnnxMl;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import io.tunestream.model.onnx.ModelConfig;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * The fastest this machine can do the two things batched generation is made of, and the least time a
 * generation can take at those speeds: a lower bound on time, so an upper bound on what batching can
 * gain.
 *
 * <p>Peaks: {@code gflops}, ONNX Runtime's best matrix product on the model's largest weight shape
 * (4096 rows, so at full efficiency), on {@code threads} threads; {@code gbps}, the best streaming read
 * of 256 MB from {@code threads} Java threads at once (what reading a KV cache that does not fit in the
 * caches costs). Both are bests of several runs.
 *
 * @param gflops  peak matrix-product rate, 10^9 floating-point operations a second
 * @param gbps    peak memory read rate, 10^9 bytes a second
 * @param threads threads both were measured with
 */
record Roofline(double gflops, double gbps, int threads) {

    /** Measures both peaks for a model of hidden size {@code hidden} and MLP width {@code inner}. */
    static Roofline measure(int hidden, int inner, int threads) {
        return new Roofline(matMulGflops(4096, hidden, inner, threads), readGbps(threads), threads);
    }

    /**
     * The work of generating {@code newTokens} tokens after {@code promptTokens}-token prompts for
     * {@code rows} rows with a KV cache: the floating-point operations of the prefill and of every
     * decoding step (weights, causal attention, output head at each sampled position), and the KV-cache
     * bytes each decoding step reads. Weights are assumed to stay in the caches (they are read once a
     * step for all rows), which only lowers the bound.
     */
    record Work(double flops, double kvBytes) {

        static Work of(ModelWeights weights, ModelConfig config, int rows, int promptTokens, int newTokens) {
            double perToken = 2.0 * weights.matrixWeights();
            double head = 2.0 * config.vocabSize() * config.hiddenSize();
            double attentionWidth = (double) config.heads() * config.headDim();
            double kvWidth = 2.0 * config.kvHeads() * config.headDim();
            double flops = rows * (promptTokens * perToken + head
                    // QK^T and PV over the causal triangle: 2 products x 2 flops x width x P(P+1)/2, every layer
                    + config.layers() * 2.0 * attentionWidth * promptTokens * (promptTokens + 1.0));
            double bytes = 0;
            for (int step = 1; step < newTokens; step++) {
                int length = promptTokens + step;
                flops += rows * (perToken + head + config.layers() * 4.0 * attentionWidth * length);
                bytes += rows * config.layers() * kvWidth * length * Float.BYTES;
            }
            return new Work(flops, bytes);
        }

        /** Seconds at the peaks if computing and reading never overlap (an op-by-op runtime). */
        double serialSeconds(Roofline peak) {
            return flops / (peak.gflops * 1e9) + kvBytes / (peak.gbps * 1e9);
        }

        /** Seconds at the peaks if reading were entirely hidden behind computing, or the reverse. */
        double overlappedSeconds(Roofline peak) {
            return Math.max(flops / (peak.gflops * 1e9), kvBytes / (peak.gbps * 1e9));
        }
    }

    /**
     * The weights a token is multiplied by in the decoder layers: rank-2 float initializers read by a
     * {@code MatMul} or {@code Gemm}, except the output head (the node writing {@code logits}), which
     * only sampled positions need; embedding tables are read by {@code Gather}.
     */
    record ModelWeights(long matrixWeights, int mlpWidth) {

        static ModelWeights read(Path modelDir, ModelConfig config) {
            OnnxMl.ModelProto model;
            try (var in = Files.newInputStream(modelDir.resolve("model.onnx"))) {
                var coded = com.google.protobuf.CodedInputStream.newInstance(in);
                coded.setSizeLimit(Integer.MAX_VALUE);
                model = OnnxMl.ModelProto.parseFrom(coded);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read " + modelDir.resolve("model.onnx"), e);
            }
            java.util.Set<String> multiplied = new java.util.HashSet<>();
            for (OnnxMl.NodeProto n : model.getGraph().getNodeList()) {
                boolean head = n.getOutputList().contains("logits");
                if ((n.getOpType().equals("MatMul") || n.getOpType().equals("Gemm")) && n.getInputCount() > 1 && !head) {
                    multiplied.add(n.getInput(1));
                }
            }
            long total = 0;
            long widest = config.hiddenSize();
            for (OnnxMl.TensorProto t : model.getGraph().getInitializerList()) {
                if (t.getDimsCount() == 2 && multiplied.contains(t.getName())) {
                    total += t.getDims(0) * t.getDims(1);
                    widest = Math.max(widest, Math.max(t.getDims(0), t.getDims(1)));
                }
            }
            return new ModelWeights(total, Math.toIntExact(widest));
        }
    }

    private static double matMulGflops(int rows, int k, int n, int threads) {
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        Random random = new Random(7);
        OnnxMl.TensorProto.Builder w = OnnxMl.TensorProto.newBuilder().setName("w")
                .setDataType(OnnxMl.TensorProto.DataType.FLOAT.getNumber()).addDims(k).addDims(n);
        for (int i = 0; i < k * n; i++) {
            w.addFloatData((float) random.nextGaussian());
        }
        OnnxMl.GraphProto graph = OnnxMl.GraphProto.newBuilder().setName("roofline")
                .addInput(floatInput("x", rows, k)).addOutput(floatInput("y", rows, n)).addInitializer(w)
                .addNode(OnnxMl.NodeProto.newBuilder().setOpType("MatMul").addInput("x").addInput("w").addOutput("y"))
                .build();
        byte[] bytes = OnnxMl.ModelProto.newBuilder().setIrVersion(8)
                .addOpsetImport(OnnxMl.OperatorSetIdProto.newBuilder().setDomain("").setVersion(17))
                .setGraph(graph).build().toByteArray();
        float[] x = new float[rows * k];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) random.nextGaussian();
        }
        try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
            options.setIntraOpNumThreads(threads);
            options.addConfigEntry("session.intra_op.allow_spinning", "0");
            try (OrtSession session = env.createSession(bytes, options);
                 OnnxTensor input = OnnxTensor.createTensor(env, FloatBuffer.wrap(x), new long[]{rows, k})) {
                double best = Double.MAX_VALUE;
                for (int r = 0; r < 12; r++) {
                    long start = System.nanoTime();
                    session.run(Map.of("x", input)).close();
                    best = Math.min(best, (System.nanoTime() - start) / 1e9);
                }
                return 2.0 * rows * k * n / best / 1e9;
            }
        } catch (OrtException e) {
            throw new IllegalStateException("cannot measure the matrix-product peak: " + e.getMessage(), e);
        }
    }

    private static double readGbps(int threads) {
        float[] data = new float[64 << 20];
        for (int i = 0; i < data.length; i++) {
            data[i] = i & 1023;
        }
        float[] sink = new float[threads];
        double best = Double.MAX_VALUE;
        for (int r = 0; r < 8; r++) {
            List<Thread> workers = new ArrayList<>();
            long start = System.nanoTime();
            for (int t = 0; t < threads; t++) {
                int id = t;
                Thread worker = new Thread(() -> sink[id] = sum(data, id * (data.length / threads), (id + 1) * (data.length / threads)));
                workers.add(worker);
                worker.start();
            }
            for (Thread worker : workers) {
                try {
                    worker.join();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException("interrupted while measuring memory bandwidth", e);
                }
            }
            best = Math.min(best, (System.nanoTime() - start) / 1e9);
        }
        return (double) data.length * Float.BYTES / best / 1e9;
    }

    /** Four independent sums, so that the loop is bound by loads, not by one addition chain. */
    private static float sum(float[] data, int from, int to) {
        float a = 0;
        float b = 0;
        float c = 0;
        float d = 0;
        for (int i = from; i + 3 < to; i += 4) {
            a += data[i];
            b += data[i + 1];
            c += data[i + 2];
            d += data[i + 3];
        }
        return a + b + c + d;
    }

    private static OnnxMl.ValueInfoProto floatInput(String name, long rows, long cols) {
        return OnnxMl.ValueInfoProto.newBuilder().setName(name).setType(OnnxMl.TypeProto.newBuilder().setTensorType(
                OnnxMl.TypeProto.Tensor.newBuilder().setElemType(OnnxMl.TensorProto.DataType.FLOAT.getNumber())
                        .setShape(OnnxMl.TensorShapeProto.newBuilder()
                                .addDim(OnnxMl.TensorShapeProto.Dimension.newBuilder().setDimValue(rows))
                                .addDim(OnnxMl.TensorShapeProto.Dimension.newBuilder().setDimValue(cols))))).build();
    }
}

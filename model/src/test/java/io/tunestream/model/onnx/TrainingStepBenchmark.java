package io.tunestream.model.onnx;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/**
 * Prints the cost of one training step (forward + backward, {@link TrainingSession#lossAndGradient})
 * against the forward pass alone ({@link TrainingSession#loss}, same graph up to the loss), measured
 * in the same run and interleaved so that machine load hits both alike, plus the process's peak
 * resident memory. Not a test: timings do not belong in tests.
 *
 * <p>Arguments: [model name (demo-gpt2)] [batch (8)] [tokens a row (128)] [timed steps (10)].
 * Reads models from {@code -Dtunestream.home} (default: the working directory).
 */
public final class TrainingStepBenchmark {

    private static final int VIRTUAL_TOKENS = 10;

    private TrainingStepBenchmark() {
    }

    public static void main(String[] args) throws IOException {
        String model = args.length > 0 ? args[0] : "demo-gpt2";
        int batch = args.length > 1 ? Integer.parseInt(args[1]) : 8;
        int tokens = args.length > 2 ? Integer.parseInt(args[2]) : 128;
        int steps = args.length > 3 ? Integer.parseInt(args[3]) : 10;
        Path dir = Path.of(System.getProperty("tunestream.home", ".")).resolve("models").resolve(model);

        long rssStart = status("VmRSS");
        try (TrainingSession session = TrainingSession.open(dir, RuntimeConfig.cpu())) {
            int hidden = session.hiddenSize();
            Random random = new Random(42);
            float[] table = new float[VIRTUAL_TOKENS * hidden];
            for (int i = 0; i < table.length; i++) {
                table[i] = (float) (random.nextGaussian() * 0.02);
            }
            List<TrainingRow> rows = new ArrayList<>();
            for (int r = 0; r < batch; r++) {
                int promptLength = tokens - VIRTUAL_TOKENS - 16;
                long[] prompt = random.longs(promptLength, 1, 1024).toArray();
                long[] answer = random.longs(16, 1, 1024).toArray();
                rows.add(TrainingRow.virtualPromptAnswer(VIRTUAL_TOKENS, prompt, answer, true));
            }
            TrainingBatch data = TrainingBatch.pack(rows, TrainingBatch.Padding.RIGHT);
            long rssLoaded = status("VmRSS");

            for (int i = 0; i < 3; i++) {
                session.loss(table, VIRTUAL_TOKENS, data);
            }
            long[] forward = new long[steps];
            for (int i = 0; i < steps; i++) {
                long t0 = System.nanoTime();
                session.loss(table, VIRTUAL_TOKENS, data);
                forward[i] = System.nanoTime() - t0;
            }
            long peakForward = status("VmHWM");
            for (int i = 0; i < 3; i++) {
                session.lossAndGradient(table, VIRTUAL_TOKENS, data);
            }
            long[] train = new long[steps];
            long[] forwardInterleaved = new long[steps];
            long[] exportInterleaved = new long[steps];
            double[] ratios = new double[steps];
            double[] exportRatios = new double[steps];
            try (PlainForward plain = new PlainForward(dir, data)) {
                plain.run();
                for (int i = 0; i < steps; i++) {
                    long t0 = System.nanoTime();
                    session.loss(table, VIRTUAL_TOKENS, data);
                    long t1 = System.nanoTime();
                    session.lossAndGradient(table, VIRTUAL_TOKENS, data);
                    long t2 = System.nanoTime();
                    plain.run();
                    long t3 = System.nanoTime();
                    forwardInterleaved[i] = t1 - t0;
                    train[i] = t2 - t1;
                    exportInterleaved[i] = t3 - t2;
                    ratios[i] = (double) train[i] / forwardInterleaved[i];
                    exportRatios[i] = (double) train[i] / exportInterleaved[i];
                }
            }
            long peakTraining = status("VmHWM");

            System.out.printf("model %s, batch %d x %d tokens (%d virtual), %d timed steps, %s, %d cores%n", model, batch,
                    tokens, VIRTUAL_TOKENS, steps, session.provider(), Runtime.getRuntime().availableProcessors());
            System.out.printf("forward alone (loss graph):        median %8.1f ms%n", median(forwardInterleaved) / 1e6);
            System.out.printf("training step (forward+backward):  median %8.1f ms%n", median(train) / 1e6);
            System.out.printf("training step / forward:           median of paired ratios %.2f x (ratio of medians %.2f x)%n",
                    median(ratios), (double) median(train) / median(forwardInterleaved));
            System.out.printf("plain export forward (input_ids -> full logits, no loss): median %.1f ms;"
                    + " training step / it: median of paired ratios %.2f x%n", median(exportInterleaved) / 1e6,
                    median(exportRatios));
            System.out.printf("forward-only phase median %.1f ms (before any training step)%n", median(forward) / 1e6);
            System.out.printf("resident memory: start %d MB, sessions loaded %d MB, peak after forward-only phase %d MB,"
                    + " peak after training steps %d MB%n", rssStart >> 10, rssLoaded >> 10, peakForward >> 10,
                    peakTraining >> 10);
        }
    }

    /** The unmodified export on the same ids (zero-length pasts), fetching only the logits, which stay native. */
    private static final class PlainForward implements AutoCloseable {
        private final ai.onnxruntime.OrtSession session;
        private final java.util.Map<String, ai.onnxruntime.OnnxTensor> feed = new java.util.HashMap<>();

        PlainForward(Path dir, TrainingBatch data) throws IOException {
            var env = ai.onnxruntime.OrtEnvironment.getEnvironment();
            try (var options = new ai.onnxruntime.OrtSession.SessionOptions()) {
                options.setOptimizationLevel(ai.onnxruntime.OrtSession.SessionOptions.OptLevel.ALL_OPT);
                session = env.createSession(Files.readAllBytes(dir.resolve("model.onnx")), options);
                long[] shape = {data.batchSize(), data.sequenceLength()};
                feed.put("input_ids", ai.onnxruntime.OnnxTensor.createTensor(env,
                        java.nio.LongBuffer.wrap(data.inputIds()), shape));
                feed.put("attention_mask", ai.onnxruntime.OnnxTensor.createTensor(env,
                        java.nio.LongBuffer.wrap(data.attentionMask()), shape));
                feed.put("position_ids", ai.onnxruntime.OnnxTensor.createTensor(env,
                        java.nio.LongBuffer.wrap(data.positionIds()), shape));
                for (var input : session.getInputInfo().entrySet()) {
                    if (input.getKey().startsWith("past_key_values.")) {
                        long[] dims = ((ai.onnxruntime.TensorInfo) input.getValue().getInfo()).getShape();
                        long[] empty = {data.batchSize(), dims[1], 0, dims[3]};
                        feed.put(input.getKey(), ai.onnxruntime.OnnxTensor.createTensor(env,
                                java.nio.FloatBuffer.allocate(0), empty));
                    }
                }
            } catch (ai.onnxruntime.OrtException e) {
                throw new IllegalStateException("cannot open " + dir + ": " + e.getMessage(), e);
            }
        }

        void run() {
            try (var result = session.run(feed, java.util.Set.of("logits"))) {
                result.get(0);
            } catch (ai.onnxruntime.OrtException e) {
                throw new IllegalStateException(e);
            }
        }

        @Override
        public void close() {
            feed.values().forEach(ai.onnxruntime.OnnxTensor::close);
            try {
                session.close();
            } catch (ai.onnxruntime.OrtException e) {
                throw new IllegalStateException(e);
            }
        }
    }

    private static long median(long[] values) {
        long[] sorted = values.clone();
        Arrays.sort(sorted);
        return sorted[sorted.length / 2];
    }

    private static double median(double[] values) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        return sorted[sorted.length / 2];
    }

    /** A "kB" field of /proc/self/status (Linux), or -1 elsewhere. */
    private static long status(String field) throws IOException {
        Path status = Path.of("/proc/self/status");
        if (!Files.exists(status)) {
            return -1;
        }
        for (String line : Files.readAllLines(status)) {
            if (line.startsWith(field + ":")) {
                return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        return -1;
    }
}

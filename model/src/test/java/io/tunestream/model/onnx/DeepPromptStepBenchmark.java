package io.tunestream.model.onnx;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/**
 * Issue 10 point 7: prints the cost of one deep-prompt training step (forward + backward with respect to
 * the prefix, {@link DeepPromptTrainingSession#lossAndGradient}) against the loss-only forward of the same
 * graph ({@link DeepPromptTrainingSession#loss}), measured in pairs, interleaved, so that machine load hits
 * both alike. Not a test: timings do not belong in tests.
 *
 * <p>Arguments: [model name (demo-gpt2)] [batch (8)] [tokens a row (128), after the prefix]
 * [virtual tokens (10)] [timed steps (10)]. Reads models from {@code -Dtunestream.home}.
 */
public final class DeepPromptStepBenchmark {

    private DeepPromptStepBenchmark() {
    }

    public static void main(String[] args) {
        String model = args.length > 0 ? args[0] : "demo-gpt2";
        int batch = args.length > 1 ? Integer.parseInt(args[1]) : 8;
        int tokens = args.length > 2 ? Integer.parseInt(args[2]) : 128;
        int virtualTokens = args.length > 3 ? Integer.parseInt(args[3]) : 10;
        int steps = args.length > 4 ? Integer.parseInt(args[4]) : 10;
        Path dir = Path.of(System.getProperty("tunestream.home", ".")).resolve("models").resolve(model);

        try (DeepPromptTrainingSession session = DeepPromptTrainingSession.open(dir, RuntimeConfig.cpu())) {
            Random random = new Random(42);
            float[] prefix = new float[virtualTokens * session.rowWidth()];
            for (int i = 0; i < prefix.length; i++) {
                prefix[i] = (float) random.nextGaussian();
            }
            List<TrainingRow> rows = new ArrayList<>();
            for (int r = 0; r < batch; r++) {
                long[] prompt = random.longs(tokens - 16, 1, 1024).toArray();
                long[] answer = random.longs(16, 1, 1024).toArray();
                rows.add(TrainingRow.virtualPromptAnswer(0, prompt, answer, true));
            }
            TrainingBatch data = TrainingBatch.pack(rows, TrainingBatch.Padding.RIGHT);
            for (int i = 0; i < 3; i++) {
                session.loss(prefix, virtualTokens, data);
                session.lossAndGradient(prefix, virtualTokens, data);
            }
            long[] forward = new long[steps];
            long[] train = new long[steps];
            double[] ratios = new double[steps];
            for (int i = 0; i < steps; i++) {
                long t0 = System.nanoTime();
                session.loss(prefix, virtualTokens, data);
                long t1 = System.nanoTime();
                session.lossAndGradient(prefix, virtualTokens, data);
                long t2 = System.nanoTime();
                forward[i] = t1 - t0;
                train[i] = t2 - t1;
                ratios[i] = (double) train[i] / forward[i];
            }
            double[] sorted = ratios.clone();
            Arrays.sort(sorted);
            System.out.printf("model %s, batch %d x %d tokens after a deep prompt of %d virtual tokens, %d timed steps, "
                    + "%s, %d cores%n", model, batch, tokens, virtualTokens, steps, session.provider(),
                    Runtime.getRuntime().availableProcessors());
            System.out.printf("forward alone (loss graph):                  median %8.1f ms%n", median(forward) / 1e6);
            System.out.printf("deep-prompt training step (forward+backward): median %8.1f ms%n", median(train) / 1e6);
            System.out.printf("step / forward: median of paired ratios %.2f x (min %.2f, max %.2f; ratio of medians "
                    + "%.2f x)%n", sorted[steps / 2], sorted[0], sorted[steps - 1],
                    (double) median(train) / median(forward));
        }
    }

    private static long median(long[] values) {
        long[] sorted = values.clone();
        Arrays.sort(sorted);
        return sorted[sorted.length / 2];
    }
}

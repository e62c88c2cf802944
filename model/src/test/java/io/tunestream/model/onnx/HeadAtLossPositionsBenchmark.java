package io.tunestream.model.onnx;

import io.tunestream.model.autodiff.HeadPositions;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/**
 * Prints the training step time (forward + backward) with the final norm and LM head at every
 * position ({@link HeadPositions#ALL}, before issue 12 point 3) and only at the positions carrying loss
 * ({@link HeadPositions#LOSS_ONLY}, now), soft prompt and deep prompt, measured in interleaved pairs
 * so that machine load hits both alike. Not a test: timings do not belong in tests.
 *
 * <p>Arguments: [model name (demo-gpt2)] [batch (8)] [tokens a row (128)] [answer tokens a row (16)]
 * [timed pairs (10)]. Reads models from {@code -Dtunestream.home} (default: the working directory).
 */
public final class HeadAtLossPositionsBenchmark {

    private static final int VIRTUAL_TOKENS = 10;

    private HeadAtLossPositionsBenchmark() {
    }

    public static void main(String[] args) throws IOException {
        String model = args.length > 0 ? args[0] : "demo-gpt2";
        int batch = args.length > 1 ? Integer.parseInt(args[1]) : 8;
        int tokens = args.length > 2 ? Integer.parseInt(args[2]) : 128;
        int answer = args.length > 3 ? Integer.parseInt(args[3]) : 16;
        int pairs = args.length > 4 ? Integer.parseInt(args[4]) : 10;
        Path dir = Path.of(System.getProperty("tunestream.home", ".")).resolve("models").resolve(model);
        Random random = new Random(42);

        // soft prompt: 10 virtual slots + prompt + answer = tokens a row, loss on the answer only
        List<TrainingRow> softRows = new ArrayList<>();
        List<TrainingRow> deepRows = new ArrayList<>();
        for (int r = 0; r < batch; r++) {
            long[] answerIds = random.longs(answer, 1, 1024).toArray();
            softRows.add(TrainingRow.virtualPromptAnswer(VIRTUAL_TOKENS,
                    random.longs(tokens - VIRTUAL_TOKENS - answer, 1, 1024).toArray(), answerIds, true));
            deepRows.add(TrainingRow.virtualPromptAnswer(0, random.longs(tokens - answer, 1, 1024).toArray(),
                    answerIds, true));
        }
        TrainingBatch soft = TrainingBatch.pack(softRows, TrainingBatch.Padding.RIGHT);
        TrainingBatch deep = TrainingBatch.pack(deepRows, TrainingBatch.Padding.RIGHT);

        System.out.printf("model %s, batch %d x %d tokens, %d answer tokens a row (loss positions), %d pairs, %d cores,"
                + " load average at start %s%n", model, batch, tokens, answer, pairs,
                Runtime.getRuntime().availableProcessors(), loadAverage());
        try (TrainingSession all = TrainingSession.open(dir, RuntimeConfig.cpu(), HeadPositions.ALL);
             TrainingSession lossOnly = TrainingSession.open(dir, RuntimeConfig.cpu(), HeadPositions.LOSS_ONLY)) {
            float[] table = gaussian(random, VIRTUAL_TOKENS * all.hiddenSize());
            report("soft prompt", pairs,
                    () -> all.lossAndGradient(table, VIRTUAL_TOKENS, soft),
                    () -> lossOnly.lossAndGradient(table, VIRTUAL_TOKENS, soft));
        }
        try (DeepPromptTrainingSession all = DeepPromptTrainingSession.open(dir, RuntimeConfig.cpu(), HeadPositions.ALL);
             DeepPromptTrainingSession lossOnly = DeepPromptTrainingSession.open(dir, RuntimeConfig.cpu(),
                     HeadPositions.LOSS_ONLY)) {
            float[] prefix = gaussian(random, VIRTUAL_TOKENS * all.rowWidth());
            report("deep prompt", pairs,
                    () -> all.lossAndGradient(prefix, VIRTUAL_TOKENS, deep),
                    () -> lossOnly.lossAndGradient(prefix, VIRTUAL_TOKENS, deep));
        }
        System.out.printf("load average at end %s%n", loadAverage());
    }

    private static void report(String what, int pairs, Step before, Step after) {
        TrainingSession.Result b = null;
        TrainingSession.Result a = null;
        for (int i = 0; i < 3; i++) {
            b = before.run();
            a = after.run();
        }
        long[] tb = new long[pairs];
        long[] ta = new long[pairs];
        double[] ratios = new double[pairs];
        for (int i = 0; i < pairs; i++) {
            // alternate which goes first, so that neither always runs on a warmer cache
            if (i % 2 == 0) {
                tb[i] = time(before);
                ta[i] = time(after);
            } else {
                ta[i] = time(after);
                tb[i] = time(before);
            }
            ratios[i] = (double) tb[i] / ta[i];
        }
        System.out.printf("%s: training step, head at every position: median %.1f ms (min %.1f)%n", what,
                median(tb) / 1e6, Arrays.stream(tb).min().orElse(0) / 1e6);
        System.out.printf("%s: training step, head at loss positions:  median %.1f ms (min %.1f)%n", what,
                median(ta) / 1e6, Arrays.stream(ta).min().orElse(0) / 1e6);
        System.out.printf("%s: before / after: median of paired ratios %.2f x (ratio of medians %.2f x);"
                + " loss %.6f vs %.6f%n", what, median(ratios), (double) median(tb) / median(ta), b.loss(), a.loss());
    }

    private interface Step {
        TrainingSession.Result run();
    }

    private static long time(Step step) {
        long t0 = System.nanoTime();
        step.run();
        return System.nanoTime() - t0;
    }

    private static float[] gaussian(Random random, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) (random.nextGaussian() * 0.02);
        }
        return v;
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

    private static String loadAverage() throws IOException {
        Path loadavg = Path.of("/proc/loadavg");
        return Files.exists(loadavg) ? Files.readString(loadavg).trim() : "unknown";
    }
}

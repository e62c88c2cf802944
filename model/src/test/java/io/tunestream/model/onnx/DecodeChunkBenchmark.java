package io.tunestream.model.onnx;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/**
 * Issue 11 point 4: the time of K greedy tokens a row decoded by K in-place steps (argmax in Java), by one unrolled
 * decode chunk ({@link io.tunestream.model.graph.UnrolledDecodeChunk}) and by one chunk in a Loop that reads its past,
 * from the same prefilled prompts, alternating in one process so that machine load hits them alike; wall and thread
 * CPU time, medians. The decode states alone, without the generator around them. Not a test: timings do not belong in
 * tests.
 *
 * <p>Arguments: [model name (demo-gpt2)] [prompt tokens (128)] [steps a chunk (16)] [timed rounds (15)]. Reads models
 * from {@code -Dtunestream.home}.
 */
public final class DecodeChunkBenchmark {

    private DecodeChunkBenchmark() {
    }

    public static void main(String[] args) {
        String name = args.length > 0 ? args[0] : "demo-gpt2";
        int tokens = args.length > 1 ? Integer.parseInt(args[1]) : 128;
        int k = args.length > 2 ? Integer.parseInt(args[2]) : 16;
        int rounds = args.length > 3 ? Integer.parseInt(args[3]) : 15;
        Path dir = Path.of(System.getProperty("tunestream.home", ".")).resolve("models").resolve(name);
        RuntimeConfig runtime = RuntimeConfig.cpu();
        ThreadMXBean cpu = ManagementFactory.getThreadMXBean();
        try (DecoderModel steps = DecoderModel.load(dir, runtime);
             DecoderModel unrolled = DecoderModel.load(dir, runtime.withDecodeChunkSteps(k));
             // few rows run in the model's one-thread session, which is the loop where the large one is unrolled: the
             // unrolled chunk on one thread is a model of its own
             DecoderModel unrolledOneThread = DecoderModel.load(dir, RuntimeConfig.cpu(1).withDecodeChunkSteps(k));
             DecoderModel looped = DecoderModel.loadWithLoopChunks(dir, runtime.withDecodeChunkSteps(k))) {
            if (!unrolled.chunksUnrolled() || !unrolledOneThread.chunksUnrolled() || !looped.chunksReadPast()) {
                throw new IllegalStateException("the chunks did not load as unrolled and loop: " + unrolled.decoding());
            }
            int vocab = steps.config().vocabSize();
            Random random = new Random(7);
            System.out.printf("%s, prompts of %d tokens, %d tokens a row, median of %d alternating rounds (load %s)%n", name,
                    tokens, k, rounds, loadAverage());
            for (int batch : new int[]{1, 32}) {
                List<float[]> prompts = new ArrayList<>();
                for (int b = 0; b < batch; b++) {
                    prompts.add(steps.embedTokens(random.ints(tokens, 0, vocab).toArray()));
                }
                double[][] wall = new double[3][rounds];
                double[][] cpuTime = new double[3][rounds];
                for (int r = -2; r < rounds; r++) {
                    for (int form = 0; form < 3; form++) {
                        DecoderModel model = form == 0 ? steps : form == 2 ? looped
                                : batch < RuntimeConfig.DEFAULT_PARALLEL_DECODE_ROWS ? unrolledOneThread : unrolled;
                        try (DecodeState state = model.newDecodeState(tokens + k + 1, true)) {
                            float[] logits = state.prefill(prompts);
                            int[] fed = new int[batch];
                            for (int b = 0; b < batch; b++) {
                                fed[b] = argmax(logits, b * vocab, vocab);
                            }
                            long c0 = cpu.getCurrentThreadCpuTime();
                            long t0 = System.nanoTime();
                            if (form == 0) {
                                for (int s = 0; s < k; s++) {
                                    logits = state.step(fed);
                                    for (int b = 0; b < batch; b++) {
                                        fed[b] = argmax(logits, b * vocab, vocab);
                                    }
                                }
                            } else {
                                int[] remaining = new int[batch];
                                Arrays.fill(remaining, k);
                                state.generateChunk(ChunkRows.greedy(k, fed, remaining, new int[batch], remaining));
                            }
                            long t1 = System.nanoTime();
                            long c1 = cpu.getCurrentThreadCpuTime();
                            if (r >= 0) {
                                wall[form][r] = (t1 - t0) / 1e6;
                                cpuTime[form][r] = (c1 - c0) / 1e6;
                            }
                        }
                    }
                }
                double[] w = Arrays.stream(wall).mapToDouble(DecodeChunkBenchmark::median).toArray();
                double[] c = Arrays.stream(cpuTime).mapToDouble(DecodeChunkBenchmark::median).toArray();
                System.out.printf("batch %2d: %d steps %.2f ms (calling thread's CPU %.2f ms), unrolled chunk %.2f ms (%.2f), "
                                + "loop chunk %.2f ms (%.2f): steps / unrolled %.2fx, steps / loop %.2fx wall%n", batch, k,
                        w[0], c[0], w[1], c[1], w[2], c[2], w[0] / w[1], w[0] / w[2]);
            }
            System.out.println("load average at the end: " + loadAverage());
        }
    }

    private static int argmax(float[] logits, int offset, int length) {
        int best = 0;
        for (int i = 1; i < length; i++) {
            best = logits[offset + i] > logits[offset + best] ? i : best;
        }
        return best;
    }

    private static double median(double[] values) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        return sorted[sorted.length / 2];
    }

    private static String loadAverage() {
        return String.format("%.1f", ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage());
    }
}

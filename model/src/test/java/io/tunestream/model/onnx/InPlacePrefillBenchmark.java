package io.tunestream.model.onnx;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/**
 * Issue 12 point 7: prints the time of an in-place decode state's prefill, prompts written straight into the KV
 * buffers ({@link InPlacePrefill}) against the export's attention then a copy into the buffers (the model loaded
 * with the in-place prefill graph refused), alternating in one process so that machine load hits both alike. Not a
 * test: timings do not belong in tests.
 *
 * <p>Arguments: [model name (demo-gpt2)] [prompt tokens (128)] [capacity (192)] [timed rounds (15)]. Reads models from
 * {@code -Dtunestream.home}.
 */
public final class InPlacePrefillBenchmark {

    private InPlacePrefillBenchmark() {
    }

    public static void main(String[] args) {
        String name = args.length > 0 ? args[0] : "demo-gpt2";
        int tokens = args.length > 1 ? Integer.parseInt(args[1]) : 128;
        int capacity = args.length > 2 ? Integer.parseInt(args[2]) : 192;
        int rounds = args.length > 3 ? Integer.parseInt(args[3]) : 15;
        Path dir = Path.of(System.getProperty("tunestream.home", ".")).resolve("models").resolve(name);
        try (DecoderModel direct = DecoderModel.load(dir, RuntimeConfig.cpu());
             DecoderModel copied = DecoderModel.load(dir, RuntimeConfig.cpu(), graph -> {
                 throw new IllegalArgumentException("refused by the benchmark");
             })) {
            Random random = new Random(7);
            System.out.printf("%s, prompts of %d tokens, capacity %d, median of %d alternating rounds%n", name, tokens,
                    capacity, rounds);
            for (int batch : new int[]{1, 8, 32}) {
                List<float[]> prompts = new ArrayList<>();
                for (int b = 0; b < batch; b++) {
                    prompts.add(direct.embedTokens(random.ints(tokens, 0, direct.config().vocabSize()).toArray()));
                }
                for (int i = 0; i < 3; i++) {
                    time(direct, prompts, capacity);
                    time(copied, prompts, capacity);
                }
                double[] d = new double[rounds];
                double[] c = new double[rounds];
                for (int i = 0; i < rounds; i++) {
                    d[i] = time(direct, prompts, capacity);
                    c[i] = time(copied, prompts, capacity);
                }
                Arrays.sort(d);
                Arrays.sort(c);
                System.out.printf("batch %2d: copied prefill %7.2f ms, straight into the buffers %7.2f ms (%.2fx)%n", batch,
                        c[rounds / 2], d[rounds / 2], c[rounds / 2] / d[rounds / 2]);
            }
            // one row after a cached prompt start (the prefix cache's case): the prefix is copied into the buffers, the
            // prompt runs as GroupQueryAttention's subsequent prompt
            int startLength = Math.min(64, capacity - tokens);
            if (startLength > 0) {
                KvPrefix start = ComputedPrefix.compute(direct, direct.embedTokens(random.ints(startLength, 0,
                        direct.config().vocabSize()).toArray()), java.util.Optional.empty(), null);
                List<float[]> prompt = List.of(direct.embedTokens(random.ints(tokens, 0, direct.config().vocabSize())
                        .toArray()));
                List<java.util.Optional<? extends KvPrefix>> prefixes = List.of(java.util.Optional.of(start));
                double[] d = new double[rounds];
                double[] c = new double[rounds];
                for (int i = -3; i < rounds; i++) {
                    double x = time(direct, prompt, prefixes, capacity);
                    double y = time(copied, prompt, prefixes, capacity);
                    if (i >= 0) {
                        d[i] = x;
                        c[i] = y;
                    }
                }
                Arrays.sort(d);
                Arrays.sort(c);
                System.out.printf("batch  1 after a %d-position prompt start: copied prefill %7.2f ms, straight into the "
                        + "buffers %7.2f ms (%.2fx)%n", startLength, c[rounds / 2], d[rounds / 2], c[rounds / 2] / d[rounds / 2]);
            }
            System.out.printf("system load average at the end: %.1f%n",
                    java.lang.management.ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage());
        }
    }

    /** Milliseconds of one prefill of an in-place decode state. */
    private static double time(DecoderModel model, List<float[]> prompts, int capacity) {
        return time(model, prompts, java.util.Collections.nCopies(prompts.size(), java.util.Optional.empty()), capacity);
    }

    private static double time(DecoderModel model, List<float[]> prompts,
                               List<java.util.Optional<? extends KvPrefix>> prefixes, int capacity) {
        long t0 = System.nanoTime();
        try (DecodeState state = model.newDecodeState(capacity, true)) {
            state.prefill(prompts, prefixes);
        }
        return (System.nanoTime() - t0) / 1e6;
    }
}

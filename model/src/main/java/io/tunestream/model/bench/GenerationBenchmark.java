package io.tunestream.model.bench;

import io.tunestream.model.generate.GenerationOptions;
import io.tunestream.model.generate.GenerationRequest;
import io.tunestream.model.generate.GenerationResult;
import io.tunestream.model.generate.Generator;
import io.tunestream.model.generate.GeneratorConfig;
import io.tunestream.model.generate.TokenAgreement;
import io.tunestream.model.generate.PromptLookup;
import io.tunestream.model.generate.PromptLookupCounts;
import io.tunestream.model.onnx.DecoderModel;
import io.tunestream.model.onnx.RuntimeConfig;
import io.tunestream.model.prompt.TaskTemplate;
import io.tunestream.model.tokenize.HuggingFaceTextTokenizer;

import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Prints generation throughput on one model: tokens/s at batch 1, 8 and 32 with the KV cache, and
 * the KV cache's speed-up over recomputing the whole sequence at every step, measured in the same
 * run (ratios stay meaningful on a shared machine).
 *
 * <p>Usage: {@code GenerationBenchmark [modelDir=models/demo-gpt2] [promptTokens=128] [newTokens=64]
 * [intraOpThreads=0] [rounds=3] [chunkSteps=16] [chunked|lookup]}, the last to run the chunked comparison or the
 * prompt-lookup comparison alone; relative paths resolve against the system property
 * {@code tunestream.home} or the working directory. Prompts are SQuAD validation contexts truncated
 * to {@code promptTokens}; EOS is suppressed so every row generates exactly {@code newTokens}.
 * Each figure is the best of {@code rounds} runs.
 *
 * <p>Also printed, from the same run: the in-place KV cache against the export's attention (which
 * copies the cache at every step), and the most batch 32 could gain over batch 1 on this machine
 * ({@link Roofline}): batch 32's work at the machine's peak matrix-product and memory-read rates,
 * against batch 1 as measured. Last, the same in-place against export-attention ratio at batch 32 on
 * tiny-llama (rotary embeddings, grouped key/value heads). Then decoding in chunks of {@code chunkSteps} steps a
 * session run against the in-place step path: bytes crossing Java/ONNX Runtime per token, tokens/s at batch 1 and 32.
 *
 * <p>Batch 1 decodes as serving does, with prompt-lookup drafts ({@link PromptLookup#DEFAULT}); the line "without prompt
 * lookup" is the same row decoded step by step, measured in the same alternating rounds, and the ratio of the two is
 * printed with the tokens a verification pass chose. {@code lookup} compares several draft lengths and n-gram sizes.
 */
public final class GenerationBenchmark {

    /** The model with rotary embeddings and grouped KV heads measured in place against the export's attention. */
    private static final String LLAMA = "models/tiny-llama";
    private static final int TINY_ROUNDS_PER_ROUND = 5;
    /** Steps a decode-chunk run takes unless the sixth argument says otherwise. */
    private static final int DEFAULT_CHUNK_STEPS = 16;

    private GenerationBenchmark() {
    }

    public static void main(String[] args) throws IOException {
        Path home = Path.of(System.getProperty("tunestream.home", "."));
        Path modelDir = home.resolve(args.length > 0 ? args[0] : "models/demo-gpt2");
        int promptTokens = args.length > 1 ? Integer.parseInt(args[1]) : 128;
        int newTokens = args.length > 2 ? Integer.parseInt(args[2]) : 64;
        int threads = args.length > 3 ? Integer.parseInt(args[3]) : 0;
        int rounds = args.length > 4 ? Integer.parseInt(args[4]) : 3;
        int chunkSteps = args.length > 5 ? Integer.parseInt(args[5]) : DEFAULT_CHUNK_STEPS;
        boolean chunkedOnly = args.length > 6 && args[6].equals("chunked");
        boolean lookupOnly = args.length > 6 && args[6].equals("lookup");

        List<String> texts = new ArrayList<>();
        ObjectMapper json = new ObjectMapper();
        List<String> contexts = new ArrayList<>();
        for (String line : Files.readAllLines(home.resolve("data/squad/validation.jsonl"))) {
            contexts.add(json.readTree(line).get("context").asText());
        }
        // several contexts a prompt, so that every prompt is truncated to exactly promptTokens
        for (int i = 0; i < contexts.size(); i++) {
            texts.add(String.join(" ", contexts.get(i), contexts.get((i + 1) % contexts.size()),
                    contexts.get((i + 2) % contexts.size()), contexts.get((i + 3) % contexts.size())));
        }
        TaskTemplate template = new TaskTemplate("bench", "{prompt}{answer}", List.of("prompt", "answer"), false,
                "answer", null, List.of(), 0);
        GenerationOptions options = GenerationOptions.greedy(newTokens).withMinNewTokens(newTokens);

        RuntimeConfig runtime = RuntimeConfig.cpu(threads);
        if (lookupOnly) {
            promptLookup(modelDir, texts, template, options, runtime, promptTokens, newTokens, rounds);
            return;
        }
        if (chunkedOnly) {
            chunked(modelDir, texts, template, options, runtime, promptTokens, newTokens, rounds, chunkSteps);
            return;
        }
        try (DecoderModel model = DecoderModel.load(modelDir, runtime);
             DecoderModel copying = DecoderModel.load(modelDir, runtime.withInPlaceKvCache(false));
             HuggingFaceTextTokenizer tokenizer = HuggingFaceTextTokenizer.load(modelDir)) {
            GeneratorConfig cached = new GeneratorConfig(promptTokens + newTokens, true);
            // as serving decodes: a batch of one greedy row with prompt-lookup drafts
            Generator withCache = new Generator(model, tokenizer, cached.withPromptLookup(PromptLookup.DEFAULT));
            Generator stepsOnly = new Generator(model, tokenizer, cached);
            Generator exportAttention = new Generator(copying, tokenizer, cached);
            Generator recompute = new Generator(model, tokenizer, new GeneratorConfig(promptTokens + newTokens, false));
            List<GenerationRequest> requests = requests(tokenizer, texts, template, options, promptTokens);
            checkLengths(withCache, requests, promptTokens, newTokens);
            System.out.printf("model %s (%s), provider %s, %d intra-op threads (decoding steps below %d rows on one), "
                            + "prompt %d tokens, %d new tokens, best of %d rounds%n", modelDir.getFileName(),
                    model.config().family(), model.provider(), runtime.resolvedIntraOpThreads(), runtime.parallelDecodeRows(),
                    promptTokens, newTokens, rounds);

            // rounds interleave the configurations so that load from other processes hits them alike; the
            // process CPU time (all threads, native ones included) gives a second view that sharing the
            // machine distorts less than wall time
            String[] names = {"KV cache   batch  1", "KV cache   batch  8", "KV cache   batch 32", "recompute  batch  1",
                    "export attention (copies the cache) batch 32", "KV cache   batch  1 without prompt lookup"};
            Generator[] generators = {withCache, withCache, withCache, recompute, exportAttention, stepsOnly};
            int[] sizes = {1, 8, 32, 1, 32, 1};
            double[][] best = new double[names.length][2];
            for (double[] b : best) {
                java.util.Arrays.fill(b, Double.MAX_VALUE);
            }
            recompute.generate(requests.subList(0, 1));
            exportAttention.generate(requests);
            for (int r = 0; r < rounds; r++) {
                for (int c = 0; c < names.length; c++) {
                    min(best[c], measure(generators[c], requests.subList(0, sizes[c])));
                }
            }
            double[] wall = new double[names.length];
            double[] cpu = new double[names.length];
            for (int c = 0; c < names.length; c++) {
                wall[c] = sizes[c] * newTokens / best[c][0];
                cpu[c] = sizes[c] * newTokens / best[c][1];
                System.out.printf("%s: %8.1f tokens/s (wall) %8.1f tokens/CPU-s%n", names[c], wall[c], cpu[c]);
            }
            PromptLookupCounts before = withCache.promptLookupCounts();
            withCache.generate(requests.subList(0, 1));
            PromptLookupCounts counts = withCache.promptLookupCounts().since(before);
            System.out.printf("prompt lookup (K=%d, N=%d) / without (batch 1): %5.2fx wall, %5.2fx CPU; %.2f tokens a "
                            + "verification pass, %d passes for %d tokens (the first from the prefill)%n",
                    PromptLookup.DEFAULT.maxDraft(), PromptLookup.DEFAULT.maxNgram(), wall[0] / wall[5], cpu[0] / cpu[5],
                    counts.tokensPerPass(), counts.passes(), newTokens);
            System.out.printf("batch  8 / batch 1 throughput: %5.2fx wall, %5.2fx CPU%n", wall[1] / wall[0], cpu[1] / cpu[0]);
            System.out.printf("batch 32 / batch 1 throughput: %5.2fx wall, %5.2fx CPU%n", wall[2] / wall[0], cpu[2] / cpu[0]);
            System.out.printf("KV cache / recompute (batch 1): %5.2fx wall, %5.2fx CPU%n", wall[0] / wall[3], cpu[0] / cpu[3]);
            System.out.printf("in-place KV cache / export attention (batch 32): %5.2fx wall, %5.2fx CPU%n",
                    wall[2] / wall[4], cpu[2] / cpu[4]);

            // what batching could gain at most on this machine: batch 32 at peak speed against batch 1 as measured
            Roofline.ModelWeights weights = Roofline.ModelWeights.read(modelDir, model.config());
            Roofline peak = Roofline.measure(model.config().hiddenSize(), weights.mlpWidth(), runtime.resolvedIntraOpThreads());
            Roofline.Work work = Roofline.Work.of(weights, model.config(), 32, promptTokens, newTokens);
            double serial = work.serialSeconds(peak);
            double overlapped = work.overlappedSeconds(peak);
            System.out.printf("machine peaks on %d threads: %.0f GFLOP/s matrix product, %.1f GB/s memory read%n",
                    peak.threads(), peak.gflops(), peak.gbps());
            System.out.printf("batch 32 work: %.1f GFLOP, %.2f GB of KV-cache reads; at the peaks: >= %.0f ms (compute %.0f ms + "
                            + "KV reads %.0f ms), >= %.0f ms even with reads hidden behind compute; measured %.0f ms%n",
                    work.flops() / 1e9, work.kvBytes() / 1e9, serial * 1e3, work.flops() / (peak.gflops() * 1e9) * 1e3,
                    work.kvBytes() / (peak.gbps() * 1e9) * 1e3, overlapped * 1e3, best[2][0] * 1e3);
            double batchOne = wall[0];
            System.out.printf("batch 32 / batch 1 at most: %5.2fx (%5.2fx with perfect overlap) against this run's batch 1; "
                            + "measured %5.2fx = %.0f%% of the bound%n", 32 * newTokens / serial / batchOne,
                    32 * newTokens / overlapped / batchOne, wall[2] / wall[0], 100 * (wall[2] / wall[0]) / (32 * newTokens / serial / batchOne));
            rotaryInPlace(home.resolve(LLAMA), texts, template, options, runtime, promptTokens, newTokens, rounds);
            chunked(modelDir, texts, template, options, runtime, promptTokens, newTokens, rounds, chunkSteps);
            System.out.printf("system load average at the end: %.1f on %d cores%n",
                    java.lang.management.ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage(),
                    Runtime.getRuntime().availableProcessors());
        }
    }

    /**
     * Prints the in-place KV cache against the export's attention at batch 32 on a model with rotary embeddings
     * and grouped key/value heads (tiny-llama; issue 12), interleaved rounds, best of each.
     */
    private static void rotaryInPlace(Path modelDir, List<String> texts, TaskTemplate template, GenerationOptions options,
                                      RuntimeConfig runtime, int promptTokens, int newTokens, int rounds) {
        try (DecoderModel inPlace = DecoderModel.load(modelDir, runtime);
             DecoderModel copying = DecoderModel.load(modelDir, runtime.withInPlaceKvCache(false));
             HuggingFaceTextTokenizer tokenizer = HuggingFaceTextTokenizer.load(modelDir)) {
            if (!inPlace.decodesInPlace()) {
                throw new IllegalStateException("model " + modelDir + " does not decode in place (see the log line at load)");
            }
            GeneratorConfig cached = new GeneratorConfig(promptTokens + newTokens, true);
            Generator appending = new Generator(inPlace, tokenizer, cached);
            Generator copied = new Generator(copying, tokenizer, cached);
            List<GenerationRequest> requests = requests(tokenizer, texts, template, options, promptTokens);
            checkLengths(appending, requests, promptTokens, newTokens);
            copied.generate(requests);
            double[] appendingBest = {Double.MAX_VALUE, Double.MAX_VALUE};
            double[] copiedBest = {Double.MAX_VALUE, Double.MAX_VALUE};
            // a batch takes milliseconds on this model: more rounds, so that a quiet moment is among them
            for (int r = 0; r < TINY_ROUNDS_PER_ROUND * rounds; r++) {
                min(appendingBest, measure(appending, requests));
                min(copiedBest, measure(copied, requests));
            }
            double tokens = 32.0 * newTokens;
            System.out.printf("%s (%s, %d heads over %d KV heads, rotary) batch 32, best of %d rounds: in place %8.1f tokens/s, "
                            + "export attention %8.1f tokens/s (wall)%n", modelDir.getFileName(), inPlace.config().family(),
                    inPlace.config().heads(), inPlace.config().kvHeads(), TINY_ROUNDS_PER_ROUND * rounds,
                    tokens / appendingBest[0], tokens / copiedBest[0]);
            System.out.printf("%s in-place KV cache / export attention (batch 32): %5.2fx wall, %5.2fx CPU%n",
                    modelDir.getFileName(), copiedBest[0] / appendingBest[0], copiedBest[1] / appendingBest[1]);
        }
    }

    /**
     * Prints decoding in chunks of {@code chunkSteps} steps a session run (the decode-chunk Loop graph, tokens chosen
     * inside ONNX Runtime) against the in-place step path: bytes crossing between Java and ONNX Runtime per
     * generated token (also for the copying step path), and tokens/s at batch 1 and 32, rounds alternating between
     * the two so that load from other processes hits them alike.
     */
    private static void chunked(Path modelDir, List<String> texts, TaskTemplate template, GenerationOptions options,
                                RuntimeConfig runtime, int promptTokens, int newTokens, int rounds, int chunkSteps) {
        try (DecoderModel inPlace = DecoderModel.load(modelDir, runtime);
             DecoderModel copying = DecoderModel.load(modelDir, runtime.withInPlaceKvCache(false));
             DecoderModel chunked = DecoderModel.load(modelDir, runtime.withDecodeChunkSteps(chunkSteps));
             DecoderModel looped = DecoderModel.loadWithLoopChunks(modelDir, runtime.withDecodeChunkSteps(chunkSteps));
             HuggingFaceTextTokenizer tokenizer = HuggingFaceTextTokenizer.load(modelDir)) {
            if (chunked.chunkSteps() != chunkSteps) {
                throw new IllegalStateException("model " + modelDir + " has no decode-chunk graph (see the log line at load)");
            }
            GeneratorConfig cached = new GeneratorConfig(promptTokens + newTokens, true);
            Generator steps = new Generator(inPlace, tokenizer, cached);
            Generator copied = new Generator(copying, tokenizer, cached);
            Generator chunks = new Generator(chunked, tokenizer, cached);
            // the chunk as an ONNX Loop (what the model falls back to when the step cannot be unrolled)
            Generator loops = new Generator(looped, tokenizer, cached);
            List<GenerationRequest> requests = requests(tokenizer, texts, template, options, promptTokens);
            checkLengths(chunks, requests, promptTokens, newTokens);
            checkLengths(steps, requests, promptTokens, newTokens);
            List<GenerationResult> expected = steps.generate(requests);
            if (!expected.equals(chunks.generate(requests))) {
                throw new IllegalStateException("chunked decoding gave other tokens than the step path on " + modelDir);
            }
            if (!expected.equals(loops.generate(requests))) {
                throw new IllegalStateException("loop chunks gave other tokens than the step path on " + modelDir);
            }
            System.out.println("chunks: " + chunked.decoding());
            System.out.println("loop chunks: " + looped.decoding());
            System.out.printf("chunked decoding, %s, up to %d steps a run, prompt %d tokens, %d new tokens:%n",
                    modelDir.getFileName(), chunkSteps, promptTokens, newTokens);
            samplingAgreement(steps, chunks, requests, newTokens);
            for (int batch : new int[] {1, 32}) {
                List<GenerationRequest> batchRequests = requests.subList(0, batch);
                double tokens = (double) batch * newTokens;
                double inPlaceBytes = bytesPerToken(inPlace, steps, batchRequests, tokens);
                double copyingBytes = bytesPerToken(copying, copied, batchRequests, tokens);
                double chunkBytes = bytesPerToken(chunked, chunks, batchRequests, tokens);
                System.out.printf("batch %2d bytes a generated token crossing Java/ONNX Runtime: in-place steps %,.0f, copying "
                                + "steps %,.0f, chunks %,.0f: copying steps / chunks %.1fx, in-place steps / chunks %.1fx "
                                + "(target >= %.1fx)%n", batch, inPlaceBytes, copyingBytes, chunkBytes, copyingBytes / chunkBytes,
                        inPlaceBytes / chunkBytes, chunkSteps / 2.0);
            }
            for (int batch : new int[] {1, 32}) {
                List<GenerationRequest> batchRequests = requests.subList(0, batch);
                double[] stepBest = {Double.MAX_VALUE, Double.MAX_VALUE};
                double[] chunkBest = {Double.MAX_VALUE, Double.MAX_VALUE};
                double[] loopBest = {Double.MAX_VALUE, Double.MAX_VALUE};
                double[] ratios = new double[rounds];
                double[] loopRatios = new double[rounds];
                for (int r = 0; r < rounds; r++) {
                    double[] s = measure(steps, batchRequests);
                    double[] c = measure(chunks, batchRequests);
                    double[] l = measure(loops, batchRequests);
                    min(stepBest, s);
                    min(chunkBest, c);
                    min(loopBest, l);
                    ratios[r] = s[0] / c[0];
                    loopRatios[r] = s[0] / l[0];
                }
                double tokens = (double) batch * newTokens;
                System.out.printf("batch %2d: in-place steps %8.1f tokens/s, chunks %8.1f tokens/s (wall, best of %d); "
                                + "chunks / steps %5.2fx wall, %5.2fx CPU; per alternating round %s%n", batch,
                        tokens / stepBest[0], tokens / chunkBest[0], rounds, stepBest[0] / chunkBest[0],
                        stepBest[1] / chunkBest[1], java.util.Arrays.toString(java.util.Arrays.stream(ratios)
                                .mapToObj(x -> String.format("%.2f", x)).toArray()));
                System.out.printf("batch %2d: loop chunks %8.1f tokens/s; loop chunks / steps %5.2fx wall, %5.2fx CPU; "
                                + "per round %s%n", batch, tokens / loopBest[0], stepBest[0] / loopBest[0],
                        stepBest[1] / loopBest[1], java.util.Arrays.toString(java.util.Arrays.stream(loopRatios)
                                .mapToObj(x -> String.format("%.2f", x)).toArray()));
            }
        }
    }

    /** The draft lengths (K) and n-gram sizes (N) of prompt lookup compared with each other and with steps. */
    private static final PromptLookup[] LOOKUPS = {new PromptLookup(3, 2), new PromptLookup(4, 1), new PromptLookup(4, 2),
            new PromptLookup(4, 3), new PromptLookup(6, 2), new PromptLookup(8, 2)};
    /** Rows generated one at a time (batch 1) for each prompt-lookup figure: the first rows of the requests. */
    private static final int LOOKUP_ROWS = 8;

    /**
     * Prints batch-1 generation with prompt lookup ({@link PromptLookup}, several K and N) against steps: tokens/s over
     * {@link #LOOKUP_ROWS} rows generated one at a time, rounds alternating between the configurations, the tokens a
     * verification pass chose on average and the tokens a model run (pass or step, the prefill not counted); after
     * checking every configuration gives the steps' tokens.
     */
    private static void promptLookup(Path modelDir, List<String> texts, TaskTemplate template, GenerationOptions options,
                                     RuntimeConfig runtime, int promptTokens, int newTokens, int rounds) {
        try (DecoderModel model = DecoderModel.load(modelDir, runtime);
             HuggingFaceTextTokenizer tokenizer = HuggingFaceTextTokenizer.load(modelDir)) {
            GeneratorConfig cached = new GeneratorConfig(promptTokens + newTokens, true);
            List<GenerationRequest> rows = requests(tokenizer, texts, template, options, promptTokens).subList(0, LOOKUP_ROWS);
            Generator[] generators = new Generator[LOOKUPS.length + 1];
            generators[0] = new Generator(model, tokenizer, cached);
            for (int i = 0; i < LOOKUPS.length; i++) {
                generators[i + 1] = new Generator(model, tokenizer, cached.withPromptLookup(LOOKUPS[i]));
            }
            List<GenerationResult> expected = one(generators[0], rows);
            double[] tokensPerPass = new double[generators.length];
            double[] tokensPerRun = new double[generators.length];
            for (int g = 0; g < generators.length; g++) {
                PromptLookupCounts before = generators[g].promptLookupCounts();
                var runs = model.transfers();
                if (!one(generators[g], rows).equals(expected)) {
                    throw new IllegalStateException("prompt lookup " + (g == 0 ? "off" : LOOKUPS[g - 1])
                            + " gave other tokens than steps on " + modelDir);
                }
                tokensPerPass[g] = generators[g].promptLookupCounts().since(before).tokensPerPass();
                // the prefill's run chooses the first token of each row
                tokensPerRun[g] = (double) (rows.size() * (newTokens - 1))
                        / (model.transfers().since(runs).runs() - rows.size());
            }
            double[] best = new double[generators.length];
            java.util.Arrays.fill(best, Double.MAX_VALUE);
            double[][] ratios = new double[generators.length][rounds];
            for (int r = 0; r < rounds; r++) {
                double[] seconds = new double[generators.length];
                for (int g = 0; g < generators.length; g++) {
                    long start = System.nanoTime();
                    one(generators[g], rows);
                    seconds[g] = (System.nanoTime() - start) / 1e9;
                    best[g] = Math.min(best[g], seconds[g]);
                }
                for (int g = 0; g < generators.length; g++) {
                    ratios[g][r] = seconds[0] / seconds[g];
                }
            }
            double tokens = (double) rows.size() * newTokens;
            System.out.printf("prompt lookup, %s, batch 1 (%d rows one at a time), prompt %d tokens, %d new tokens, best of %d "
                    + "alternating rounds:%n", modelDir.getFileName(), rows.size(), promptTokens, newTokens, rounds);
            for (int g = 0; g < generators.length; g++) {
                String name = g == 0 ? "steps (lookup off)" : "lookup K=" + LOOKUPS[g - 1].maxDraft() + " N="
                        + LOOKUPS[g - 1].maxNgram();
                System.out.printf("  %-20s %8.1f tokens/s (wall), %5.2fx steps; tokens a verification pass %4.2f, tokens a "
                                + "model run %4.2f; per round %s%n", name, tokens / best[g], best[0] / best[g],
                        tokensPerPass[g], tokensPerRun[g], java.util.Arrays.toString(java.util.Arrays.stream(ratios[g])
                                .mapToObj(x -> String.format("%.2f", x)).toArray()));
            }
        }
    }

    /** Each row generated alone (batch 1), in order. */
    private static List<GenerationResult> one(Generator generator, List<GenerationRequest> rows) {
        List<GenerationResult> results = new ArrayList<>();
        for (GenerationRequest row : rows) {
            GenerationResult result = generator.generate(List.of(row)).get(0);
            if (result.isError()) {
                throw new IllegalStateException("benchmark row failed: " + result.error());
            }
            results.add(result);
        }
        return results;
    }

    /**
     * Prints how often seeded sampling in the chunk graph (float) picks another token than the Java sampler (double)
     * given the same uniforms: each row compared up to and including its first difference.
     */
    private static void samplingAgreement(Generator steps, Generator chunks, List<GenerationRequest> requests, int newTokens) {
        TokenAgreement agreement = new TokenAgreement(0, 0, 0);
        double[][] settings = {{0.7, 0, 1.0, 1.0}, {1.0, 50, 0.9, 1.0}, {1.3, 20, 0.6, 1.2}, {1.0, 0, 0.95, 1.3}};
        for (double[] setting : settings) {
            List<GenerationRequest> sampled = new ArrayList<>();
            for (int i = 0; i < requests.size(); i++) {
                GenerationRequest r = requests.get(i);
                sampled.add(new GenerationRequest(r.id(), r.template(), r.fields(), Optional.empty(), new GenerationOptions(
                        newTokens, newTokens, setting[0], (int) setting[1], setting[2], setting[3], List.of(),
                        java.util.OptionalLong.of(7919L * i + (long) (setting[0] * 100))), false));
            }
            agreement = agreement.plus(TokenAgreement.between(steps.generate(sampled), chunks.generate(sampled)));
        }
        System.out.printf("seeded sampling, graph (float) vs Java sampler (double), same uniforms, %d rows x %d settings: "
                + "%d of %d tokens compared differ (%.3f%%)%n", requests.size(), settings.length, agreement.differing(),
                agreement.compared(), 100.0 * agreement.rate());
    }

    /** Bytes handed to and returned from {@code model}'s session runs per generated token, over one batch. */
    private static double bytesPerToken(DecoderModel model, Generator generator, List<GenerationRequest> batch, double tokens) {
        var before = model.transfers();
        generator.generate(batch);
        return model.transfers().since(before).bytes() / tokens;
    }

    /** 32 requests of exactly {@code promptTokens} tokens each. */
    private static List<GenerationRequest> requests(HuggingFaceTextTokenizer tokenizer, List<String> texts,
                                                    TaskTemplate template, GenerationOptions options, int promptTokens) {
        List<GenerationRequest> requests = new ArrayList<>();
        for (int i = 0; requests.size() < 32 && i < texts.size(); i++) {
            String prompt = exactly(tokenizer, texts.get(i), promptTokens);
            if (prompt != null) {
                requests.add(new GenerationRequest("r" + i, template, Map.of("prompt", prompt), Optional.empty(),
                        options, false));
            }
        }
        if (requests.size() < 32) {
            throw new IllegalStateException("found only " + requests.size() + " texts of " + promptTokens + " tokens");
        }
        return requests;
    }

    /** Runs the requests once (a warm-up) and checks every row ran promptTokens + newTokens tokens. */
    private static void checkLengths(Generator generator, List<GenerationRequest> requests, int promptTokens, int newTokens) {
        for (GenerationResult r : generator.generate(requests)) {
            if (r.promptTokens() != promptTokens || r.completionTokens() != newTokens) {
                throw new IllegalStateException("row " + r.id() + " ran " + r.promptTokens() + " + " + r.completionTokens()
                        + " tokens, not " + promptTokens + " + " + newTokens + (r.isError() ? ": " + r.error() : ""));
            }
        }
    }

    /** A prefix of {@code text} that tokenizes to exactly {@code tokens} tokens, or null. */
    private static String exactly(HuggingFaceTextTokenizer tokenizer, String text, int tokens) {
        int[] ids = tokenizer.encode(text);
        for (int k = tokens; k <= Math.min(ids.length, tokens + 4); k++) {
            String prefix = tokenizer.decode(java.util.Arrays.copyOf(ids, k));
            if (tokenizer.encode(prefix).length == tokens) {
                return prefix;
            }
        }
        return null;
    }

    private static void min(double[] best, double[] measured) {
        best[0] = Math.min(best[0], measured[0]);
        best[1] = Math.min(best[1], measured[1]);
    }

    /** Wall seconds and process CPU seconds of one generate call. */
    private static double[] measure(Generator generator, List<GenerationRequest> batch) {
        var os = (com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory.getOperatingSystemMXBean();
        long cpuStart = os.getProcessCpuTime();
        long start = System.nanoTime();
        List<GenerationResult> results = generator.generate(batch);
        long elapsed = System.nanoTime() - start;
        long cpu = os.getProcessCpuTime() - cpuStart;
        for (GenerationResult result : results) {
            if (result.isError()) {
                throw new IllegalStateException("benchmark row failed: " + result.error());
            }
        }
        return new double[]{elapsed / 1e9, cpu / 1e9};
    }
}

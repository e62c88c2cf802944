package io.tunestream.model.bench;

import io.tunestream.model.generate.GenerationOptions;
import io.tunestream.model.generate.GenerationRequest;
import io.tunestream.model.generate.GenerationResult;
import io.tunestream.model.generate.Generator;
import io.tunestream.model.generate.GeneratorConfig;
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
 * [intraOpThreads=0] [rounds=3]}; relative paths resolve against the system property
 * {@code tunestream.home} or the working directory. Prompts are SQuAD validation contexts truncated
 * to {@code promptTokens}; EOS is suppressed so every row generates exactly {@code newTokens}.
 * Each figure is the best of {@code rounds} runs.
 */
public final class GenerationBenchmark {

    private GenerationBenchmark() {
    }

    public static void main(String[] args) throws IOException {
        Path home = Path.of(System.getProperty("tunestream.home", "."));
        Path modelDir = home.resolve(args.length > 0 ? args[0] : "models/demo-gpt2");
        int promptTokens = args.length > 1 ? Integer.parseInt(args[1]) : 128;
        int newTokens = args.length > 2 ? Integer.parseInt(args[2]) : 64;
        int threads = args.length > 3 ? Integer.parseInt(args[3]) : 0;
        int rounds = args.length > 4 ? Integer.parseInt(args[4]) : 3;

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
                "answer", "prompt", List.of(), 0);
        GenerationOptions options = GenerationOptions.greedy(newTokens).withMinNewTokens(newTokens);

        try (DecoderModel model = DecoderModel.load(modelDir, new RuntimeConfig(
                io.tunestream.model.onnx.ExecutionProvider.CPU, 0, 0, threads, 0));
             HuggingFaceTextTokenizer tokenizer = HuggingFaceTextTokenizer.load(modelDir)) {
            GeneratorConfig cached = new GeneratorConfig(promptTokens + newTokens, true);
            Generator withCache = new Generator(model, tokenizer, cached);
            Generator recompute = new Generator(model, tokenizer, new GeneratorConfig(promptTokens + newTokens, false));
            List<GenerationRequest> requests = new ArrayList<>();
            for (int i = 0; i < 32; i++) {
                requests.add(new GenerationRequest("r" + i, template, Map.of("prompt", texts.get(i % texts.size())),
                        Optional.empty(), options, false));
            }
            System.out.printf("model %s (%s), provider %s, prompt %d tokens (mean actual %.1f), %d new tokens, best of %d%n",
                    modelDir.getFileName(), model.config().family(), model.provider(), promptTokens,
                    withCache.generate(requests.subList(0, 8)).stream().mapToInt(GenerationResult::promptTokens).average()
                            .orElse(0), newTokens, rounds);

            // rounds interleave the configurations so that load from other processes hits them alike
            double[] best = new double[4];
            List<Runnable> warmUps = List.of(() -> withCache.generate(requests.subList(0, 1)),
                    () -> recompute.generate(requests.subList(0, 1)));
            warmUps.forEach(Runnable::run);
            for (int r = 0; r < rounds; r++) {
                best[0] = Math.max(best[0], tokensPerSecond(withCache, requests.subList(0, 1)));
                best[1] = Math.max(best[1], tokensPerSecond(withCache, requests.subList(0, 8)));
                best[2] = Math.max(best[2], tokensPerSecond(withCache, requests.subList(0, 32)));
                best[3] = Math.max(best[3], tokensPerSecond(recompute, requests.subList(0, 1)));
            }
            System.out.printf("KV cache   batch  1: %8.1f tokens/s%n", best[0]);
            System.out.printf("KV cache   batch  8: %8.1f tokens/s  (%.2fx batch 1)%n", best[1], best[1] / best[0]);
            System.out.printf("KV cache   batch 32: %8.1f tokens/s  (%.2fx batch 1)%n", best[2], best[2] / best[0]);
            System.out.printf("recompute  batch  1: %8.1f tokens/s  (KV cache speed-up %.2fx)%n", best[3], best[0] / best[3]);
        }
    }

    private static double tokensPerSecond(Generator generator, List<GenerationRequest> batch) {
        long start = System.nanoTime();
        List<GenerationResult> results = generator.generate(batch);
        long elapsed = System.nanoTime() - start;
        int tokens = 0;
        for (GenerationResult result : results) {
            if (result.isError()) {
                throw new IllegalStateException("benchmark row failed: " + result.error());
            }
            tokens += result.completionTokens();
        }
        return tokens / (elapsed / 1e9);
    }
}

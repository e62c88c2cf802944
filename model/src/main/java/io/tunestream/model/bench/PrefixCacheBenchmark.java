package io.tunestream.model.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tunestream.model.generate.GenerationOptions;
import io.tunestream.model.generate.GenerationRequest;
import io.tunestream.model.generate.GenerationResult;
import io.tunestream.model.generate.Generator;
import io.tunestream.model.generate.GeneratorConfig;
import io.tunestream.model.generate.PrefixCache;
import io.tunestream.model.onnx.DecoderModel;
import io.tunestream.model.onnx.RuntimeConfig;
import io.tunestream.model.prompt.PromptBuilder;
import io.tunestream.model.prompt.TaskTemplate;
import io.tunestream.model.prompt.VirtualTokenTable;
import io.tunestream.model.tokenize.HuggingFaceTextTokenizer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Prints prefill time with and without the prefix cache in one run: a p-tuned task whose template puts
 * {@code virtual} virtual tokens and an instruction before its fields ({@code startTokens} positions in all),
 * then a context and a question (~{@code fieldTokens} tokens) from SQuAD validation, a different one each row.
 * Prefill is timed as a generation of one token (the prompt's prefill and the pick of its first token);
 * a generation of {@code newTokens} tokens is timed too. The cached generator's cache is warm (the start is
 * computed once per adapter version; the cold first batch is printed once). The two generators run
 * alternately, each round in the other order, and the ratio printed is the median of the rounds' ratios
 * (a shared machine's load moves both sides of a round alike). Both give the same tokens (checked).
 *
 * <p>Usage: {@code PrefixCacheBenchmark [modelDir=models/demo-gpt2] [batch=8] [startTokens=150] [fieldTokens=50]
 * [newTokens=16] [rounds=15] [intraOpThreads=0] [virtual=10]}.
 */
public final class PrefixCacheBenchmark {

    private static final String INSTRUCTION = "You are a careful reading assistant. You read a short context and a "
            + "question about it, then answer with the shortest span of the context that answers the question, "
            + "copied exactly as it is written: a name, a place, a date, a number or a few words. Do not explain, do "
            + "not repeat the question, do not add words that are not in the context, and keep the spelling and the "
            + "capital letters of the context. When the context names several candidates, give the one the question "
            + "asks about. Answer in English.";

    private PrefixCacheBenchmark() {
    }

    public static void main(String[] args) throws IOException {
        Path home = Path.of(System.getProperty("tunestream.home", "."));
        Path modelDir = home.resolve(args.length > 0 ? args[0] : "models/demo-gpt2");
        int batch = args.length > 1 ? Integer.parseInt(args[1]) : 8;
        int startTokens = args.length > 2 ? Integer.parseInt(args[2]) : 150;
        int fieldTokens = args.length > 3 ? Integer.parseInt(args[3]) : 50;
        int newTokens = args.length > 4 ? Integer.parseInt(args[4]) : 16;
        int rounds = args.length > 5 ? Integer.parseInt(args[5]) : 15;
        int threads = args.length > 6 ? Integer.parseInt(args[6]) : 0;
        int virtual = args.length > 7 ? Integer.parseInt(args[7]) : 10;

        try (DecoderModel model = DecoderModel.load(modelDir, RuntimeConfig.cpu(threads));
             HuggingFaceTextTokenizer tokenizer = HuggingFaceTextTokenizer.load(modelDir)) {
            PromptBuilder builder = new PromptBuilder(tokenizer, model.config().bosTokenId());
            int instructionTokens = startTokens - virtual;
            TaskTemplate template = template(tokenizer, instructionTokens, virtual);
            // the text after the instruction ("Context:") belongs to the start too
            while (builder.sharedStart(template).length() > startTokens && instructionTokens > 1) {
                template = template(tokenizer, --instructionTokens, virtual);
            }
            int start = builder.sharedStart(template).length();
            VirtualTokenTable table = table(model, virtual);
            List<GenerationRequest> prefills = requests(home, tokenizer, template, table, batch, fieldTokens,
                    GenerationOptions.greedy(1));
            List<GenerationRequest> generations = requests(home, tokenizer, template, table, batch, fieldTokens,
                    GenerationOptions.greedy(newTokens).withMinNewTokens(newTokens));
            int positions = model.config().maxPositions();
            PrefixCache cache = new PrefixCache(64L << 20);
            Generator cached = new Generator(model, tokenizer, new GeneratorConfig(positions, true), cache);
            Generator whole = new Generator(model, tokenizer, new GeneratorConfig(positions, true));

            whole.generate(prefills);
            long coldStart = System.nanoTime();
            List<GenerationResult> first = cached.generate(generations);
            double coldMs = (System.nanoTime() - coldStart) / 1e6;
            List<GenerationResult> reference = whole.generate(generations);
            if (!first.equals(reference)) {
                throw new IllegalStateException("the prefix cache changed the generated tokens: " + first + " vs " + reference);
            }
            int promptTokens = reference.stream().mapToInt(GenerationResult::promptTokens).max().orElseThrow();
            System.out.printf("%s: batch %d, shared start %d positions (%d virtual), prompts up to %d positions, "
                            + "%d new tokens; %d rounds, alternating%n", modelDir.getFileName(), batch, start, virtual,
                    promptTokens, newTokens, rounds);
            System.out.printf("cold cache (computes the start, then generates %d tokens): %.1f ms%n", newTokens, coldMs);

            double[] prefillRatios = new double[rounds];
            double[] generationRatios = new double[rounds];
            double[][] prefillMs = new double[2][rounds];
            double[][] generationMs = new double[2][rounds];
            for (int r = 0; r < rounds; r++) {
                boolean cachedFirst = r % 2 == 0;
                for (int side = 0; side < 2; side++) {
                    boolean useCache = (side == 0) == cachedFirst;
                    Generator g = useCache ? cached : whole;
                    prefillMs[useCache ? 0 : 1][r] = millis(g, prefills);
                    generationMs[useCache ? 0 : 1][r] = millis(g, generations);
                }
                prefillRatios[r] = prefillMs[1][r] / prefillMs[0][r];
                generationRatios[r] = generationMs[1][r] / generationMs[0][r];
            }
            System.out.printf("prefill (1 token):   without cache %.1f ms, with cache %.1f ms (medians); "
                            + "without / with, median of rounds: %.2fx%n", median(prefillMs[1]), median(prefillMs[0]),
                    median(prefillRatios));
            System.out.printf("generation (%d tokens): without cache %.1f ms, with cache %.1f ms (medians); "
                            + "without / with, median of rounds: %.2fx%n", newTokens, median(generationMs[1]),
                    median(generationMs[0]), median(generationRatios));
            System.out.println("cache: " + cache.stats());
        }
    }

    private static double millis(Generator generator, List<GenerationRequest> requests) {
        long t0 = System.nanoTime();
        List<GenerationResult> results = generator.generate(requests);
        double ms = (System.nanoTime() - t0) / 1e6;
        results.stream().filter(GenerationResult::isError).findFirst().ifPresent(e -> {
            throw new IllegalStateException(e.error());
        });
        return ms;
    }

    private static double median(double[] values) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        int n = sorted.length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }

    /** Virtual tokens, then the instruction cut to {@code instructionTokens} tokens, then the fields. */
    private static TaskTemplate template(HuggingFaceTextTokenizer tokenizer, int instructionTokens, int virtual) {
        String instruction = INSTRUCTION;
        while (tokenizer.encode(instruction).length < instructionTokens) {
            instruction = instruction + " " + INSTRUCTION;
        }
        int[] ids = Arrays.copyOf(tokenizer.encode(instruction), instructionTokens);
        String cut = tokenizer.decode(ids).replace("{", "(").replace("}", ")").strip();
        return new TaskTemplate("bench", "<|VIRTUAL_PROMPT_0|> " + cut + "\n\nContext:\n{context}\n\nQuestion:\n"
                + "{question}\n\nAnswer:{answer}", List.of("context", "question", "answer"), false, "answer", null,
                List.of(virtual), virtual);
    }

    private static VirtualTokenTable table(DecoderModel model, int virtual) {
        int hidden = model.config().hiddenSize();
        float[] rows = new float[virtual * hidden];
        for (int i = 0; i < rows.length; i++) {
            rows[i] = (float) Math.sin(0.37 * i) * 0.05f;
        }
        return new VirtualTokenTable("bench", virtual, hidden, rows, model.fingerprint());
    }

    /** {@code batch} requests, each a SQuAD validation context and question cut to ~fieldTokens tokens together. */
    private static List<GenerationRequest> requests(Path home, HuggingFaceTextTokenizer tokenizer, TaskTemplate template,
                                                    VirtualTokenTable table, int batch, int fieldTokens,
                                                    GenerationOptions options) throws IOException {
        ObjectMapper json = new ObjectMapper();
        List<GenerationRequest> out = new ArrayList<>();
        for (String line : Files.readAllLines(home.resolve("data/squad/validation.jsonl"))) {
            if (out.size() == batch) {
                break;
            }
            JsonNode example = json.readTree(line);
            String question = example.get("question").asText();
            int contextTokens = Math.max(1, fieldTokens - tokenizer.encode(question).length);
            int[] context = tokenizer.encode(example.get("context").asText());
            String cut = tokenizer.decode(Arrays.copyOf(context, Math.min(context.length, contextTokens))).strip();
            out.add(new GenerationRequest("r" + out.size(), template, Map.of("context", cut, "question", question),
                    Optional.of(table), options, false));
        }
        return out;
    }
}

package io.tunestream.model.generate;

import io.tunestream.model.TestModels;
import io.tunestream.model.onnx.DecoderModel;
import io.tunestream.model.onnx.RuntimeConfig;
import io.tunestream.model.prompt.DeepPromptTable;
import io.tunestream.model.prompt.TaskTemplate;
import io.tunestream.model.prompt.VirtualTokenTable;
import io.tunestream.model.tokenize.HuggingFaceTextTokenizer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Prefix caching in {@link Generator}: rows prefilled after their task's cached start give the tokens of rows
 * prefilled whole, on every model and both KV caches, in batches mixing soft prompts, deep prompts and base rows.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class PrefixCacheGenerationTest {

    private static final String INSTRUCTION = "You answer questions about a short text. Read the context, then answer "
            + "the question with a few words taken from the context.";
    /** Soft prompt, an instruction, then fields: the start is the virtual tokens and the instruction. */
    private static final TaskTemplate QA = new TaskTemplate("qa", "<|VIRTUAL_PROMPT_0|> " + INSTRUCTION
            + "\n\nContext:\n{context}\n\nQuestion: {question}\n\nAnswer: {answer}", List.of("context", "question", "answer"),
            false, "answer", null, List.of(4), 4);
    /** Another task's template, text only before its field (run as a deep-prompt task). */
    private static final TaskTemplate SUMMARY = new TaskTemplate("summary", "Summarise the text in one word.\nText:\n"
            + "{text}\nWord:{answer}", List.of("text", "answer"), false, "answer", null, List.of(), 0);

    private final Map<String, DecoderModel> models = new HashMap<>();
    private final Map<String, HuggingFaceTextTokenizer> tokenizers = new HashMap<>();

    @BeforeAll
    void load() {
        for (String name : List.of("tiny-gpt2", "tiny-llama", "demo-gpt2")) {
            models.put(name + "/in-place", DecoderModel.load(TestModels.model(name), RuntimeConfig.cpu(1)));
            models.put(name + "/copying", DecoderModel.load(TestModels.model(name),
                    RuntimeConfig.cpu(1).withInPlaceKvCache(false)));
            tokenizers.put(name, HuggingFaceTextTokenizer.load(TestModels.model(name)));
        }
    }

    @AfterAll
    void close() {
        models.values().forEach(DecoderModel::close);
        tokenizers.values().forEach(HuggingFaceTextTokenizer::close);
    }

    Stream<Arguments> modelsAndCaches() {
        List<Arguments> args = new ArrayList<>();
        for (String name : List.of("tiny-gpt2", "tiny-llama", "demo-gpt2")) {
            args.add(Arguments.of(name, "in-place"));
            args.add(Arguments.of(name, "copying"));
        }
        return args.stream();
    }

    private static VirtualTokenTable table(DecoderModel model, String task, double phase) {
        int hidden = model.config().hiddenSize();
        float[] rows = new float[4 * hidden];
        for (int i = 0; i < rows.length; i++) {
            rows[i] = (float) Math.sin(phase + 0.37 * i) * 0.5f;
        }
        return new VirtualTokenTable(task, 4, hidden, rows, model.fingerprint());
    }

    private static GenerationRequest qa(String id, String context, String question, Optional<VirtualTokenTable> table) {
        return new GenerationRequest(id, QA, Map.of("context", context, "question", question), table,
                GenerationOptions.greedy(6), true);
    }

    private static List<GenerationRequest> mixedBatch(DecoderModel model, HuggingFaceTextTokenizer tokenizer) {
        int[] guidance = java.util.Arrays.copyOf(tokenizer.encode("Be brief and exact in every answer."), 5);
        DeepPromptTable deep = DeepPromptTable.ofPeft("summary", 5, model.config(), model.keysAndValues(guidance),
                model.fingerprint());
        VirtualTokenTable qaTable = table(model, "qa", 0.0);
        return List.of(
                qa("soft-1", "Kamiro lives in Talenburg.", "Where does Kamiro live?", Optional.of(qaTable)),
                new GenerationRequest("deep", SUMMARY, Map.of("text", "Rain fell all day on the old town."),
                        Optional.empty(), GenerationOptions.greedy(4), false, Optional.of(deep)),
                qa("base", "Naan has a pet horse.", "What pet does Naan have?", Optional.empty()),
                qa("soft-2", "Naan has a pet horse called Ulf.", "What is the horse called?", Optional.of(qaTable)),
                qa("soft-other-version", "Kamiro lives in Talenburg.", "Where does Kamiro live?",
                        Optional.of(table(model, "qa", 1.0))));
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("modelsAndCaches")
    void shouldGiveTheTokensOfAWholePrefillToEveryRowOfAMixedBatch(String name, String cache) {
        DecoderModel model = models.get(name + "/" + cache);
        HuggingFaceTextTokenizer tokenizer = tokenizers.get(name);
        PrefixCache prefixCache = new PrefixCache(64L << 20);
        Generator cached = new Generator(model, tokenizer, new GeneratorConfig(256, true), prefixCache);
        Generator whole = new Generator(model, tokenizer, new GeneratorConfig(256, true));
        List<GenerationRequest> batch = mixedBatch(model, tokenizer);

        List<GenerationResult> expected = whole.generate(batch);
        List<GenerationResult> first = cached.generate(batch);
        PrefixCache.Stats afterFirst = prefixCache.stats();
        List<GenerationResult> second = cached.generate(batch);
        PrefixCache.Stats afterSecond = prefixCache.stats();

        assertThat(expected).noneMatch(GenerationResult::isError);
        assertThat(first).isEqualTo(expected);
        assertThat(second).isEqualTo(expected);
        // four keys: qa v0, qa without virtual tokens (base), qa v1, summary after its deep prompt
        assertThat(afterFirst.misses()).isEqualTo(4);
        assertThat(afterFirst.hits()).isEqualTo(1);
        assertThat(afterFirst.fallbacks()).isZero();
        assertThat(afterSecond.hits()).isEqualTo(6);
        assertThat(afterSecond.misses()).isEqualTo(4);
        assertThat(afterSecond.entries()).isEqualTo(4);
        assertThat(afterSecond.reusedPositions()).isEqualTo(2 * afterFirst.reusedPositions());
        assertThat(afterSecond.evictions()).isZero();
    }

    /**
     * add_bos: the same rows with and without BOS (soft prompt, base model, deep prompt) give the tokens of a whole
     * prefill, each with one prompt token more than without, and the starts with BOS are other cache entries.
     */
    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("modelsAndCaches")
    void shouldGiveTheTokensOfAWholePrefillToAddBosRowsAndCacheTheirStartsApart(String name, String cache) {
        DecoderModel model = models.get(name + "/" + cache);
        HuggingFaceTextTokenizer tokenizer = tokenizers.get(name);
        PrefixCache prefixCache = new PrefixCache(64L << 20);
        Generator cached = new Generator(model, tokenizer, new GeneratorConfig(256, true), prefixCache);
        Generator whole = new Generator(model, tokenizer, new GeneratorConfig(256, true));
        List<GenerationRequest> plain = mixedBatch(model, tokenizer).subList(0, 3);
        List<GenerationRequest> batch = new ArrayList<>(plain);
        for (GenerationRequest r : plain) {
            batch.add(new GenerationRequest(r.id() + "-bos", r.template().withAddBos(true), r.fields(), r.virtualTokens(),
                    r.options(), r.allowPlainPrompt(), r.deepPrompt()));
        }

        List<GenerationResult> expected = whole.generate(batch);
        List<GenerationResult> first = cached.generate(batch);
        List<GenerationResult> second = cached.generate(batch);

        assertThat(expected).noneMatch(GenerationResult::isError);
        assertThat(first).isEqualTo(expected);
        assertThat(second).isEqualTo(expected);
        for (int i = 0; i < plain.size(); i++) {
            assertThat(expected.get(i + plain.size()).promptTokens()).as(batch.get(i).id())
                    .isEqualTo(expected.get(i).promptTokens() + 1);
        }
        // qa v0, qa base, summary after its deep prompt: each with and without BOS
        assertThat(prefixCache.stats().misses()).isEqualTo(6);
        assertThat(prefixCache.stats().entries()).isEqualTo(6);
        assertThat(prefixCache.stats().hits()).isEqualTo(6);
    }

    /** The instruction's tokens and the row's differ at the boundary when BPE merges across it. */
    @Test
    void shouldReuseOnlyThePositionsARowSharesWithTheCachedStartWhenBpeMergesAcrossTheBoundary() {
        DecoderModel model = models.get("demo-gpt2/in-place");
        HuggingFaceTextTokenizer tokenizer = tokenizers.get("demo-gpt2");
        String start = "Answer from the context. Context: ";
        TaskTemplate merging = new TaskTemplate("merging", start + "{context}{answer}", List.of("context", "answer"), false,
                "answer", null, List.of(), 0);
        String context = "Kamiro lives in Talenburg. Where does Kamiro live?";
        int[] startIds = tokenizer.encode(start);
        int[] rowIds = tokenizer.encode(start + context);
        int common = 0;
        while (common < startIds.length && startIds[common] == rowIds[common]) {
            common++;
        }
        assertThat(common).as("the start's trailing space merges into the field's first token").isEqualTo(startIds.length - 1);
        PrefixCache prefixCache = new PrefixCache(64L << 20);
        Generator cached = new Generator(model, tokenizer, new GeneratorConfig(256, true), prefixCache);
        GenerationRequest request = new GenerationRequest("r", merging, Map.of("context", context), Optional.empty(),
                GenerationOptions.greedy(8), false);

        GenerationResult result = cached.generate(List.of(request)).get(0);

        assertThat(result).isEqualTo(new Generator(model, tokenizer, new GeneratorConfig(256, true)).generate(List.of(request))
                .get(0));
        assertThat(prefixCache.stats().reusedPositions()).isEqualTo(common);
        assertThat(prefixCache.stats().fallbacks()).isZero();
    }

    @Test
    void shouldPrefillARowWholeWhenItSharesNoPositionWithTheCachedStart() {
        DecoderModel model = models.get("demo-gpt2/in-place");
        HuggingFaceTextTokenizer tokenizer = tokenizers.get("demo-gpt2");
        TaskTemplate glued = new TaskTemplate("glued", "A{text}{answer}", List.of("text", "answer"), false, "answer",
                null, List.of(), 0);
        assertThat(tokenizer.encode("Answer from the context.")[0]).as("'A' and the field merge into one token")
                .isNotEqualTo(tokenizer.encode("A")[0]);
        PrefixCache prefixCache = new PrefixCache(64L << 20);
        Generator cached = new Generator(model, tokenizer, new GeneratorConfig(256, true), prefixCache);
        GenerationRequest request = new GenerationRequest("r", glued, Map.of("text", "nswer from the context."),
                Optional.empty(), GenerationOptions.greedy(5), false);

        GenerationResult result = cached.generate(List.of(request)).get(0);

        assertThat(result).isEqualTo(new Generator(model, tokenizer, new GeneratorConfig(256, true)).generate(List.of(request))
                .get(0));
        assertThat(prefixCache.stats().fallbacks()).isEqualTo(1);
        assertThat(prefixCache.stats().reusedPositions()).isZero();
    }

    /** A bound smaller than any entry: every entry is evicted at once, the batch still answers every row. */
    @Test
    void shouldEvictInsteadOfFailingABatchWhenAnEntryExceedsTheBound() {
        DecoderModel model = models.get("tiny-llama/in-place");
        HuggingFaceTextTokenizer tokenizer = tokenizers.get("tiny-llama");
        PrefixCache tiny = new PrefixCache(1024);
        Generator cached = new Generator(model, tokenizer, new GeneratorConfig(256, true), tiny);
        List<GenerationRequest> batch = mixedBatch(model, tokenizer);

        List<GenerationResult> results = cached.generate(batch);

        assertThat(results).isEqualTo(new Generator(model, tokenizer, new GeneratorConfig(256, true)).generate(batch));
        assertThat(tiny.stats().entries()).isZero();
        assertThat(tiny.stats().bytes()).isZero();
        // each of the batch's four starts computed once (soft-1 and soft-2 share one), none kept
        assertThat(tiny.stats().misses()).isEqualTo(4);
        assertThat(tiny.stats().hits()).isEqualTo(1);
        assertThat(tiny.stats().evictions()).isEqualTo(4);
        assertThat(tiny.stats().reusedPositions()).isPositive();
    }

    /**
     * A bound that holds one task's entry: a start used often stays when a start used once needs room (W-TinyLFU, not
     * strict LRU: which entry goes is the cache's choice, the bound and the count of evictions are ours).
     */
    @Test
    void shouldKeepAHotEntryAndStayWithinItsBoundWhenAnotherTaskNeedsRoom() {
        DecoderModel model = models.get("tiny-gpt2/in-place");
        HuggingFaceTextTokenizer tokenizer = tokenizers.get("tiny-gpt2");
        GenerationRequest hot = qa("hot", "Kamiro lives in Talenburg.", "Where does Kamiro live?",
                Optional.of(table(model, "qa", 0.0)));
        GenerationRequest once = qa("once", "Kamiro lives in Talenburg.", "Where does Kamiro live?",
                Optional.of(table(model, "qa", 2.0)));
        PrefixCache probe = new PrefixCache(64L << 20);
        new Generator(model, tokenizer, new GeneratorConfig(256, true), probe).generate(List.of(hot));
        long oneEntry = probe.bytes();
        PrefixCache bounded = new PrefixCache(oneEntry + oneEntry / 2);
        Generator cached = new Generator(model, tokenizer, new GeneratorConfig(256, true), bounded);

        for (int i = 0; i < 3; i++) {
            cached.generate(List.of(hot));
        }
        cached.generate(List.of(once));
        PrefixCache.Stats afterOnce = bounded.stats();
        cached.generate(List.of(hot));

        assertThat(afterOnce.bytes()).isEqualTo(oneEntry).isLessThanOrEqualTo(bounded.maxBytes());
        assertThat(afterOnce.entries()).isEqualTo(1);
        assertThat(afterOnce.evictions()).isEqualTo(1);
        // hot: a miss, then three hits (the last after the other task's start was computed); once: a miss
        assertThat(bounded.stats()).isEqualTo(new PrefixCache.Stats(3, 2, 0, 0, 1,
                5 * probe.stats().reusedPositions(), 1, oneEntry));
    }

    /** A new adapter version is another entry: its rows never take the old version's keys and values. */
    @Test
    void shouldComputeANewEntryForANewAdapterVersion() {
        DecoderModel model = models.get("demo-gpt2/in-place");
        HuggingFaceTextTokenizer tokenizer = tokenizers.get("demo-gpt2");
        PrefixCache prefixCache = new PrefixCache(64L << 20);
        Generator cached = new Generator(model, tokenizer, new GeneratorConfig(256, true), prefixCache);
        Generator whole = new Generator(model, tokenizer, new GeneratorConfig(256, true));
        GenerationRequest v1 = qa("v1", "Kamiro lives in Talenburg.", "Where does Kamiro live?",
                Optional.of(table(model, "qa", 0.0)));
        GenerationRequest v2 = qa("v2", "Kamiro lives in Talenburg.", "Where does Kamiro live?",
                Optional.of(table(model, "qa", 3.0)));

        GenerationResult first = cached.generate(List.of(v1)).get(0);
        GenerationResult second = cached.generate(List.of(v2)).get(0);

        assertThat(first).isEqualTo(whole.generate(List.of(v1)).get(0));
        assertThat(second).isEqualTo(whole.generate(List.of(v2)).get(0));
        assertThat(prefixCache.stats().misses()).isEqualTo(2);
        assertThat(prefixCache.stats().hits()).isZero();
        assertThat(prefixCache.stats().entries()).isEqualTo(2);
    }

    /** A new template for the task is another entry: its rows never take the old template's start. */
    @Test
    void shouldComputeANewEntryWhenTheTaskTemplateChanges() {
        DecoderModel model = models.get("tiny-llama/in-place");
        HuggingFaceTextTokenizer tokenizer = tokenizers.get("tiny-llama");
        PrefixCache prefixCache = new PrefixCache(64L << 20);
        Generator cached = new Generator(model, tokenizer, new GeneratorConfig(256, true), prefixCache);
        Generator whole = new Generator(model, tokenizer, new GeneratorConfig(256, true));
        TaskTemplate changed = new TaskTemplate("qa", QA.promptTemplate().replace("a few words", "one word"),
                QA.promptTemplateFields(), false, "answer", null, List.of(4), 4);
        VirtualTokenTable table = table(model, "qa", 0.0);
        GenerationRequest before = qa("before", "Kamiro lives in Talenburg.", "Where does Kamiro live?", Optional.of(table));
        GenerationRequest after = new GenerationRequest("after", changed, before.fields(), Optional.of(table),
                before.options(), true);

        GenerationResult first = cached.generate(List.of(before)).get(0);
        GenerationResult second = cached.generate(List.of(after)).get(0);

        assertThat(first).isEqualTo(whole.generate(List.of(before)).get(0));
        assertThat(second).isEqualTo(whole.generate(List.of(after)).get(0));
        assertThat(prefixCache.stats().misses()).isEqualTo(2);
        assertThat(prefixCache.stats().hits()).isZero();
    }

    /**
     * A row with a long cached start next to a long row without one: the prefill's past and tokens together are
     * longer than the model's positions, each row's own positions are not.
     */
    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("modelsAndCaches")
    void shouldAnswerABatchWhosePrefillSpansMoreThanTheModelsPositions(String name, String cache) {
        DecoderModel model = models.get(name + "/" + cache);
        HuggingFaceTextTokenizer tokenizer = tokenizers.get(name);
        String instruction = "Answer with one word taken from the text. ".repeat(7);
        TaskTemplate longStart = new TaskTemplate("long", instruction + "\nText:\n{text}{answer}", List.of("text", "answer"),
                false, "answer", null, List.of(), 0);
        TaskTemplate plain = new TaskTemplate("plain", "{prompt}{answer}", List.of("prompt", "answer"), false, "answer",
                null, List.of(), 0);
        String longText = "Kamiro lives in Talenburg and works there as a pilot. ".repeat(10);
        List<GenerationRequest> batch = List.of(
                new GenerationRequest("cached", longStart, Map.of("text", "Rain."), Optional.empty(),
                        GenerationOptions.greedy(4), false),
                new GenerationRequest("long", plain, Map.of("prompt", longText), Optional.empty(), GenerationOptions.greedy(4),
                        false));
        int start = new io.tunestream.model.prompt.PromptBuilder(tokenizer).sharedStart(longStart).length();
        int longRow = tokenizer.encode(longText).length;
        assertThat(start + longRow).as("past + tokens of the prefill").isGreaterThan(model.config().maxPositions());
        assertThat(longRow + 4).isLessThan(model.config().maxPositions());
        PrefixCache prefixCache = new PrefixCache(64L << 20);
        Generator cached = new Generator(model, tokenizer, new GeneratorConfig(256, true), prefixCache);

        List<GenerationResult> results = cached.generate(batch);

        assertThat(results).isEqualTo(new Generator(model, tokenizer, new GeneratorConfig(256, true)).generate(batch));
        assertThat(results).noneMatch(GenerationResult::isError);
        assertThat(prefixCache.stats().reusedPositions()).isEqualTo(start);
    }
}

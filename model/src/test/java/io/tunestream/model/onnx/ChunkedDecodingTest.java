package io.tunestream.model.onnx;

import com.fasterxml.jackson.databind.JsonNode;
import io.tunestream.model.TestModels;
import io.tunestream.model.generate.GenerationOptions;
import io.tunestream.model.generate.GenerationRequest;
import io.tunestream.model.generate.GenerationResult;
import io.tunestream.model.generate.Generator;
import io.tunestream.model.generate.GeneratorConfig;
import io.tunestream.model.generate.RowError;
import io.tunestream.model.generate.TokenAgreement;
import io.tunestream.model.prompt.DeepPromptTable;
import io.tunestream.model.prompt.TaskTemplate;
import io.tunestream.model.prompt.VirtualTokenTable;
import io.tunestream.model.tokenize.HuggingFaceTextTokenizer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Decoding in chunks of steps inside one session run (the decode-chunk Loop graph) against the step-by-step
 * path, on the three models: the same tokens, texts and finish reasons, with fewer bytes crossing to Java.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ChunkedDecodingTest {

    private static final List<String> MODELS = List.of("tiny-gpt2", "tiny-llama", "demo-gpt2");
    /** Small, so that rows finish inside chunks, at their ends and across several of them. */
    private static final int CHUNK = 4;
    private static final TaskTemplate PLAIN = new TaskTemplate("plain", "{prompt}{answer}", List.of("prompt", "answer"),
            false, "answer", null, List.of(), 0);
    private static final String[] PROMPTS = {
        "Context: Kamiro lives in Talenburg. Kamiro works as a pilot.\n\nQuestion: Where does Kamiro live?\n\nAnswer:",
        "play some music in the",
        "The",
        "Naan has a pet horse. What pet does Naan have?",
        "set an alarm for seven tomorrow morning and then",
    };

    private final Map<String, DecoderModel> stepping = new HashMap<>();
    /** Chunks of the in-place step unrolled (the default where the step unrolls). */
    private final Map<String, DecoderModel> chunked = new HashMap<>();
    /** Chunks in a Loop that reads the past in place (what a model falls back to when the step does not unroll). */
    private final Map<String, DecoderModel> looped = new HashMap<>();
    /** Chunks over the export's attention (the copying cache), as on CUDA. */
    private final Map<String, DecoderModel> chunkedCopying = new HashMap<>();
    private final Map<String, HuggingFaceTextTokenizer> tokenizers = new HashMap<>();

    @BeforeAll
    void load() {
        for (String name : MODELS) {
            stepping.put(name, DecoderModel.load(TestModels.model(name), RuntimeConfig.cpu(1)));
            chunked.put(name, DecoderModel.load(TestModels.model(name), RuntimeConfig.cpu(1).withDecodeChunkSteps(CHUNK)));
            looped.put(name, DecoderModel.loadWithLoopChunks(TestModels.model(name),
                    RuntimeConfig.cpu(1).withDecodeChunkSteps(CHUNK)));
            chunkedCopying.put(name, DecoderModel.load(TestModels.model(name), RuntimeConfig.cpu(1).withInPlaceKvCache(false)
                    .withDecodeChunkSteps(CHUNK)));
            tokenizers.put(name, HuggingFaceTextTokenizer.load(TestModels.model(name)));
        }
    }

    @AfterAll
    void close() {
        stepping.values().forEach(DecoderModel::close);
        chunked.values().forEach(DecoderModel::close);
        looped.values().forEach(DecoderModel::close);
        chunkedCopying.values().forEach(DecoderModel::close);
        tokenizers.values().forEach(HuggingFaceTextTokenizer::close);
    }

    private Generator generator(Map<String, DecoderModel> models, String name) {
        return new Generator(models.get(name), tokenizers.get(name), new GeneratorConfig(128, true));
    }

    /**
     * Greedy rows of every kind in one batch: plain prompts of different lengths and lengths to generate (rows
     * finishing inside a chunk, at its end, after several), a soft prompt (virtual tokens), two deep prompts,
     * a stop string (cut mid-chunk), min-new-tokens (end of sequence suppressed in the graph), and a long prompt
     * that leaves the others padded.
     */
    private List<GenerationRequest> mixedBatch(String name) {
        DecoderModel model = stepping.get(name);
        HuggingFaceTextTokenizer tokenizer = tokenizers.get(name);
        int hidden = model.config().hiddenSize();
        float[] softRows = new float[4 * hidden];
        for (int i = 0; i < softRows.length; i++) {
            softRows[i] = (float) Math.cos(0.11 * i) * 0.05f;
        }
        VirtualTokenTable soft = new VirtualTokenTable("squad", 4, hidden, softRows, model.fingerprint());
        List<GenerationRequest> batch = new ArrayList<>();
        int[] lengths = {3, 4, 9, 17, 1};
        for (int i = 0; i < PROMPTS.length; i++) {
            batch.add(new GenerationRequest("plain-" + i, PLAIN, Map.of("prompt", PROMPTS[i]), Optional.empty(),
                    GenerationOptions.greedy(lengths[i]), false));
        }
        batch.add(new GenerationRequest("soft", TaskTemplate.squad("squad", 4), Map.of("context", "Naan has a pet horse.",
                "question", "What pet does Naan have?"), Optional.of(soft), GenerationOptions.greedy(11), false));
        for (String deep : List.of("Context: Kamiro lives in Talenburg.", "Naan has a pet horse.")) {
            int[] ids = tokenizer.encode(deep);
            DeepPromptTable prefix = DeepPromptTable.ofPeft("deep", ids.length, model.config(), model.keysAndValues(ids),
                    model.fingerprint());
            batch.add(new GenerationRequest("deep-" + ids.length, PLAIN, Map.of("prompt", " Where?\n\nAnswer:"),
                    Optional.empty(), GenerationOptions.greedy(6 + ids.length % 5), false, Optional.of(prefix)));
        }
        // the stop string is the text of the row's own second and third tokens, so it is hit inside a chunk
        GenerationRequest probe = new GenerationRequest("probe", PLAIN, Map.of("prompt", PROMPTS[1]), Optional.empty(),
                GenerationOptions.greedy(6), false);
        int[] probeTokens = generator(stepping, name).generate(List.of(probe)).get(0).tokenIds();
        String stop = tokenizer.decode(new int[] {probeTokens[1], probeTokens[2]}).strip();
        if (!stop.isEmpty()) {
            batch.add(new GenerationRequest("stop", PLAIN, Map.of("prompt", PROMPTS[1]), Optional.empty(),
                    GenerationOptions.greedy(12).withStopStrings(List.of(stop)), false));
        }
        batch.add(new GenerationRequest("min-new", PLAIN, Map.of("prompt", PROMPTS[2]), Optional.empty(),
                GenerationOptions.greedy(10).withMinNewTokens(10), false));
        // a long row: every other row is left-padded by dozens of positions
        String longPrompt = String.join(" ", java.util.Collections.nCopies(60, "pilot"));
        batch.add(new GenerationRequest("long", PLAIN, Map.of("prompt", longPrompt), Optional.empty(),
                GenerationOptions.greedy(8), false));
        return batch;
    }

    @ParameterizedTest
    @CsvSource({"tiny-gpt2,unrolled", "tiny-llama,unrolled", "demo-gpt2,unrolled", "tiny-gpt2,loop", "tiny-llama,loop",
            "demo-gpt2,loop"})
    void shouldGiveTheStepByStepTokensForAMixedGreedyBatch(String name, String form) {
        Map<String, DecoderModel> models = chunks(name, form);
        assertThat(models.get(name).chunkSteps()).isEqualTo(CHUNK);
        List<GenerationRequest> batch = mixedBatch(name);

        List<GenerationResult> steps = generator(stepping, name).generate(batch);
        List<GenerationResult> chunks = generator(models, name).generate(batch);

        for (int i = 0; i < batch.size(); i++) {
            assertThat(steps.get(i).isError()).as(steps.get(i).error()).isFalse();
            assertThat(chunks.get(i)).as(name + " " + batch.get(i).id()).isEqualTo(steps.get(i));
        }
        // rows finish at different steps: several completion lengths, some within a chunk
        assertThat(steps.stream().mapToInt(GenerationResult::completionTokens).distinct().count()).isGreaterThan(4);
    }

    @ParameterizedTest
    @ValueSource(strings = {"tiny-gpt2", "tiny-llama", "demo-gpt2"})
    void shouldGiveTheStepByStepTokensWithChunksOverTheCopyingCache(String name) {
        assertThat(chunkedCopying.get(name).chunkSteps()).isEqualTo(CHUNK);
        assertThat(chunkedCopying.get(name).chunksInPlace()).isFalse();
        assertThat(chunked.get(name).chunksInPlace()).isTrue();
        List<GenerationRequest> batch = mixedBatch(name);

        List<GenerationResult> steps = generator(stepping, name).generate(batch);
        List<GenerationResult> chunks = generator(chunkedCopying, name).generate(batch);

        assertThat(chunks).isEqualTo(steps);
    }

    @ParameterizedTest
    @ValueSource(strings = {"tiny-gpt2", "tiny-llama", "demo-gpt2"})
    void shouldGenerateTheReferenceGreedyTokens(String name) {
        JsonNode greedy = TestModels.reference(name).get("greedy");
        String prompt = tokenizers.get(name).decode(TestModels.ints(greedy.get("prompt_ids")));
        GenerationRequest request = new GenerationRequest("g", PLAIN, Map.of("prompt", prompt), Optional.empty(),
                GenerationOptions.greedy(greedy.get("generated_ids").size()), false);

        GenerationResult result = generator(chunked, name).generate(List.of(request)).get(0);

        assertThat(result.tokenIds()).containsExactly(TestModels.ints(greedy.get("generated_ids")));
    }

    @Test
    void shouldPassAtLeastHalfAChunkFewerBytesPerTokenThanSteps() {
        String name = "demo-gpt2";
        List<GenerationRequest> batch = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            batch.add(new GenerationRequest("r" + i, PLAIN, Map.of("prompt", PROMPTS[i % PROMPTS.length]), Optional.empty(),
                    GenerationOptions.greedy(32).withMinNewTokens(32), false));
        }
        DecoderModel copying = DecoderModel.load(TestModels.model(name), RuntimeConfig.cpu(1).withInPlaceKvCache(false));
        try (copying) {
            Map<String, DecoderModel> copyingModels = Map.of(name, copying);
            RunTransfers stepBytes = transfers(copyingModels, name, batch);
            RunTransfers inPlaceBytes = transfers(stepping, name, batch);
            RunTransfers chunkBytes = transfers(chunked, name, batch);

            // one prefill, then 31 fed tokens a row: 31 step runs, or 8 chunks of up to 4
            assertThat(stepBytes.runs()).isEqualTo(1 + 31);
            assertThat(chunkBytes.runs()).isEqualTo(1 + 8);
            assertThat((double) stepBytes.bytes() / chunkBytes.bytes()).isGreaterThanOrEqualTo(CHUNK / 2.0);
            assertThat(inPlaceBytes.bytes()).isGreaterThan(chunkBytes.bytes());
        }
    }

    private RunTransfers transfers(Map<String, DecoderModel> models, String name, List<GenerationRequest> batch) {
        RunTransfers before = models.get(name).transfers();
        List<GenerationResult> results = generator(models, name).generate(batch);
        assertThat(results).allSatisfy(r -> assertThat(r.completionTokens()).isEqualTo(32));
        return models.get(name).transfers().since(before);
    }

    /**
     * The in-place chunk reads the KV buffers from outside its loop and appends the chunk's keys and values after
     * each row: two chunks from rows of three lengths, a row dropped between them (the buffers move), against greedy
     * steps of the step path (end of sequence suppressed on both sides, so every row runs every step).
     */
    @ParameterizedTest
    @CsvSource({"tiny-gpt2,unrolled", "tiny-llama,unrolled", "demo-gpt2,unrolled", "tiny-gpt2,loop", "tiny-llama,loop",
            "demo-gpt2,loop"})
    void shouldStartChunksFromRowsOfDifferentLengthsAndAppendTheirKeysAfterEachRow(String name, String form) {
        DecoderModel model = chunks(name, form).get(name);
        HuggingFaceTextTokenizer tokenizer = tokenizers.get(name);
        List<float[]> prompts = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            prompts.add(model.embedTokens(tokenizer.encode(PROMPTS[i])));
        }
        int vocab = model.config().vocabSize();
        List<Integer> eos = model.config().eosTokenIds();
        int[][] expected = new int[3][2 * CHUNK + 1];
        try (DecodeState state = stepping.get(name).newDecodeState(128, true)) {
            float[] logits = state.prefill(prompts);
            for (int t = 0; t <= 2 * CHUNK; t++) {
                int[] next = new int[3];
                for (int b = 0; b < 3; b++) {
                    next[b] = argmaxWithout(logits, b * vocab, vocab, eos);
                    expected[b][t] = next[b];
                }
                if (t < 2 * CHUNK) {
                    logits = state.step(next);
                }
            }
        }
        int[][] first;
        int[][] second;
        try (DecodeState state = model.newDecodeState(128, true)) {
            float[] logits = state.prefill(prompts);
            int[] fed = new int[3];
            for (int b = 0; b < 3; b++) {
                fed[b] = argmaxWithout(logits, b * vocab, vocab, eos);
            }
            int[] big = {1000, 1000, 1000};
            first = state.generateChunk(ChunkRows.greedy(CHUNK, fed, big, new int[3], big));
            state.keepRows(new int[] {0, 2});
            second = state.generateChunk(ChunkRows.greedy(CHUNK, new int[] {first[0][CHUNK - 1], first[2][CHUNK - 1]},
                    new int[] {1000, 1000}, new int[] {CHUNK, CHUNK}, new int[] {1000, 1000}));
        }

        assertThat(expected[0]).isNotEqualTo(expected[2]);
        for (int b = 0; b < 3; b++) {
            assertThat(first[b]).as(name + " row " + b).containsExactly(java.util.Arrays.copyOfRange(expected[b], 1, CHUNK + 1));
        }
        assertThat(second[0]).as(name + " row 0").containsExactly(java.util.Arrays.copyOfRange(expected[0], CHUNK + 1, 2 * CHUNK + 1));
        assertThat(second[1]).as(name + " row 2").containsExactly(java.util.Arrays.copyOfRange(expected[2], CHUNK + 1, 2 * CHUNK + 1));
    }

    @Test
    void shouldRefuseAChunkThatWouldRunPastTheCapacityAndGoOnStepByStep() {
        DecoderModel model = chunked.get("tiny-gpt2");
        int[] prompt = tokenizers.get("tiny-gpt2").encode(PROMPTS[1]);
        try (DecodeState state = model.newDecodeState(prompt.length + 2, true)) {
            state.prefill(List.of(model.embedTokens(prompt)));

            assertThatThrownBy(() -> state.generateChunk(ChunkRows.greedy(CHUNK, new int[] {prompt[0]},
                    new int[] {CHUNK}, new int[] {0}, new int[] {0})))
                    .isInstanceOf(ChunkFailedException.class)
                    .hasMessageContaining("has no room for " + CHUNK + " more");
            // the state is as it was: its last two positions still take a step each
            assertThat(state.step(new int[] {prompt[0]})).hasSize(model.config().vocabSize());
            assertThat(state.step(new int[] {prompt[0]})).hasSize(model.config().vocabSize());
        }
    }

    /**
     * On two threads, chunks of fewer rows than {@link RuntimeConfig#DEFAULT_PARALLEL_DECODE_ROWS} run in the loop that
     * reads its past (one thread), larger ones in the unrolled step: a batch that starts large and shrinks as rows
     * finish moves from one to the other on the same KV buffers, and both give the step path's tokens.
     */
    @Test
    void shouldChunkFewRowsInTheLoopAndManyInTheUnrolledStepOnTheSameBuffers() {
        String name = "tiny-gpt2";
        try (DecoderModel model = DecoderModel.load(TestModels.model(name), RuntimeConfig.cpu(2).withDecodeChunkSteps(CHUNK))) {
            assertThat(model.chunksUnrolled()).isTrue();
            assertThat(model.decoding()).contains("rows on one thread in a loop reading the KV buffers in place");
            Map<String, DecoderModel> models = Map.of(name, model);
            List<GenerationRequest> few = mixedBatch(name);
            assertThat(few.size()).isLessThan(RuntimeConfig.DEFAULT_PARALLEL_DECODE_ROWS);
            List<GenerationRequest> many = new ArrayList<>();
            for (int copy = 0; copy < 2; copy++) {
                for (GenerationRequest r : few) {
                    many.add(new GenerationRequest(r.id() + "-" + copy, r.template(), r.fields(), r.virtualTokens(),
                            r.options(), r.allowPlainPrompt(), r.deepPrompt()));
                }
            }
            assertThat(many.size()).isGreaterThanOrEqualTo(RuntimeConfig.DEFAULT_PARALLEL_DECODE_ROWS);

            assertThat(generator(models, name).generate(few)).isEqualTo(generator(stepping, name).generate(few));
            assertThat(generator(models, name).generate(many)).isEqualTo(generator(stepping, name).generate(many));
        }
    }

    /** The chunked models of a form, "unrolled" or "loop" (reading the past in place), checked to be that form. */
    private Map<String, DecoderModel> chunks(String name, String form) {
        Map<String, DecoderModel> models = form.equals("unrolled") ? chunked : looped;
        assertThat(models.get(name).chunksUnrolled()).as(name + " " + form).isEqualTo(form.equals("unrolled"));
        assertThat(models.get(name).chunksReadPast()).as(name + " " + form).isEqualTo(form.equals("loop"));
        return models;
    }

    /**
     * Every copy of the unrolled step writes its keys and values into the KV buffers it read its past from: after
     * one chunk run, a step on the buffers gives the logits of the step path fed the same tokens.
     */
    @ParameterizedTest
    @ValueSource(strings = {"tiny-gpt2", "tiny-llama", "demo-gpt2"})
    void shouldLeaveEveryFedTokensKeysInTheBuffersAfterOneUnrolledRun(String name) {
        DecoderModel model = chunks(name, "unrolled").get(name);
        int[] prompt = tokenizers.get(name).encode(PROMPTS[0]);
        int vocab = model.config().vocabSize();
        List<Integer> eos = model.config().eosTokenIds();
        try (DecodeState chunkState = model.newDecodeState(prompt.length + 2 * CHUNK, true);
             DecodeState stepState = stepping.get(name).newDecodeState(prompt.length + 2 * CHUNK, true)) {
            int first = argmaxWithout(chunkState.prefill(List.of(model.embedTokens(prompt))), 0, vocab, eos);
            stepState.prefill(List.of(model.embedTokens(prompt)));
            RunTransfers before = model.transfers();
            int[] big = {1000};
            int[] chosen = chunkState.generateChunk(ChunkRows.greedy(CHUNK, new int[] {first}, big, new int[1], big))[0];
            assertThat(model.transfers().since(before).runs()).isEqualTo(1);

            float[] expected = stepState.step(new int[] {first});
            for (int s = 0; s < CHUNK - 1; s++) {
                expected = stepState.step(new int[] {chosen[s]});
            }
            expected = stepState.step(new int[] {chosen[CHUNK - 1]});
            float[] actual = chunkState.step(new int[] {chosen[CHUNK - 1]});
            for (int i = 0; i < vocab; i++) {
                assertThat(actual[i]).as(name + " logit " + i).isCloseTo(expected[i], org.assertj.core.api.Assertions.within(1e-3f));
            }
        }
    }

    /**
     * A row that finishes at the buffers' capacity inside an unrolled chunk goes on running (garbage) copies: they
     * must stay inside its own buffer rows (past the capacity lies the next head's or row's first position), so the
     * row still going gives the step path's tokens.
     */
    @ParameterizedTest
    @ValueSource(strings = {"tiny-gpt2", "tiny-llama", "demo-gpt2"})
    void shouldKeepAnUnrolledRowFinishedAtTheCapacityInsideItsBuffers(String name) {
        DecoderModel model = chunks(name, "unrolled").get(name);
        HuggingFaceTextTokenizer tokenizer = tokenizers.get(name);
        int[] full = tokenizer.encode(PROMPTS[0]);
        int[] going = tokenizer.encode(PROMPTS[1]);
        int capacity = full.length + 2;
        assertThat(going.length + CHUNK).isLessThanOrEqualTo(capacity);
        int vocab = model.config().vocabSize();
        List<Integer> eos = model.config().eosTokenIds();
        int[] expected = new int[CHUNK + 1];
        try (DecodeState state = stepping.get(name).newDecodeState(capacity, true)) {
            float[] logits = state.prefill(List.of(model.embedTokens(going)));
            for (int t = 0; t <= CHUNK; t++) {
                expected[t] = argmaxWithout(logits, 0, vocab, eos);
                if (t < CHUNK) {
                    logits = state.step(new int[] {expected[t]});
                }
            }
        }
        int[][] chosen;
        try (DecodeState state = model.newDecodeState(capacity, true)) {
            float[] logits = state.prefill(List.of(model.embedTokens(full), model.embedTokens(going)));
            int[] fed = {argmaxWithout(logits, 0, vocab, eos), argmaxWithout(logits, vocab, vocab, eos)};
            // row 0 fills its buffers after 2 steps; row 1 goes on for all 4
            chosen = state.generateChunk(ChunkRows.greedy(CHUNK, fed, new int[] {2, CHUNK}, new int[2],
                    new int[] {1000, 1000}));
        }

        assertThat(chosen[1]).as(name).containsExactly(java.util.Arrays.copyOfRange(expected, 1, CHUNK + 1));
    }

    private static int argmaxWithout(float[] logits, int offset, int length, List<Integer> excluded) {
        int best = -1;
        for (int i = 0; i < length; i++) {
            if (!excluded.contains(i) && (best < 0 || logits[offset + i] > logits[offset + best])) {
                best = i;
            }
        }
        return best;
    }

    @Test
    void shouldAnswerEveryRowStepByStepWhenAChunkFails() {
        String name = "tiny-gpt2";
        List<GenerationRequest> batch = mixedBatch(name);
        List<GenerationResult> steps = generator(stepping, name).generate(batch);
        DecoderModel model = chunked.get(name);
        RunTransfers before = model.transfers();
        model.failChunks(new IllegalStateException("injected: CUDA failure 2: out of memory"));
        List<GenerationResult> fallen;
        try {
            fallen = generator(chunked, name).generate(batch);
        } finally {
            model.failChunks(null);
        }

        assertThat(fallen).isEqualTo(steps);
        // one prefill and then a step a token: the chunk was tried once and never again in this batch
        int longest = steps.stream().mapToInt(GenerationResult::completionTokens).max().orElseThrow();
        assertThat(model.transfers().since(before).runs()).isEqualTo(longest);
    }

    @Test
    void shouldStopAChunkThroughTheTerminateFlagWithoutFallingBackToSteps() {
        DecoderModel model = chunked.get("demo-gpt2");
        int[] prompt = tokenizers.get("demo-gpt2").encode(PROMPTS[0]);
        try (RunControl control = RunControl.create();
             DecodeState state = model.newDecodeState(prompt.length + 40, true, control)) {
            state.prefill(List.of(model.embedTokens(prompt)));
            control.terminate();

            assertThatThrownBy(() -> state.generateChunk(ChunkRows.greedy(CHUNK, new int[] {prompt[0]},
                    new int[] {CHUNK}, new int[] {1}, new int[] {0})))
                    .isInstanceOf(IllegalStateException.class)
                    .isNotInstanceOf(ChunkFailedException.class)
                    .hasMessageContaining("decode chunk");
        }
    }

    /**
     * Seeded sampling (temperature, top-k, top-p, repetition penalty, min-new-tokens) in the graph against the Java
     * sampler, the same uniforms: equal tokens but where float and double rounding fall on either side of a
     * boundary. Counts the tokens compared (each row up to and including its first difference) and the rows that
     * differ; prints the rate.
     */
    @ParameterizedTest
    @ValueSource(strings = {"tiny-gpt2", "tiny-llama", "demo-gpt2"})
    void shouldSampleTheJavaSamplersTokensButForRoundingAtBoundaries(String name) {
        double[] temperatures = {0.7, 1.0, 1.3};
        int[] topKs = {0, 20, 50};
        double[] topPs = {1.0, 0.9, 0.6};
        double[] penalties = {1.0, 1.3};
        List<GenerationRequest> batch = new ArrayList<>();
        for (int i = 0; i < 36; i++) {
            GenerationOptions options = new GenerationOptions(24, i % 4 == 0 ? 6 : 0, temperatures[i % 3], topKs[(i / 3) % 3],
                    topPs[(i / 9) % 3], penalties[(i / 2) % 2], List.of(), java.util.OptionalLong.of(1000 + i));
            batch.add(new GenerationRequest("s" + i, PLAIN, Map.of("prompt", PROMPTS[i % PROMPTS.length]), Optional.empty(),
                    options, false));
        }
        // greedy rows with a repetition penalty: float against double division of the penalized scores
        for (int i = 0; i < 4; i++) {
            batch.add(new GenerationRequest("g" + i, PLAIN, Map.of("prompt", PROMPTS[i]), Optional.empty(),
                    GenerationOptions.greedy(24).withRepetitionPenalty(1.2 + 0.1 * i), false));
        }

        TokenAgreement agreement = TokenAgreement.between(generator(stepping, name).generate(batch),
                generator(chunked, name).generate(batch));

        System.out.printf("%s: sampled in the graph vs the Java sampler, same uniforms: %d of %d tokens compared differ "
                + "(%.2f%%), %d of %d rows%n", name, agreement.differing(), agreement.compared(), 100.0 * agreement.rate(),
                agreement.differing(), agreement.rows());
        assertThat(agreement.compared()).isGreaterThan(batch.size() * 10);
        assertThat(agreement.rate()).as("rate of rounding crossings").isLessThan(0.02);
    }

    /** A step graph the wrapper refuses (here: it already has a tensor with the wrapper's names) keeps the step path. */
    @Test
    void shouldDecodeStepByStepWithTheReasonWhenTheStepCannotBeWrapped(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
            throws java.io.IOException {
        java.nio.file.Path source = TestModels.model("tiny-gpt2");
        for (String file : List.of("config.json", "tokenizer.json")) {
            java.nio.file.Files.copy(source.resolve(file), dir.resolve(file));
        }
        ai.onnx.proto.OnnxMl.ModelProto original = ai.onnx.proto.OnnxMl.ModelProto.parseFrom(
                java.nio.file.Files.readAllBytes(source.resolve("model.onnx")));
        // rename the output of the first layer norm, read by the rest of the layer
        ai.onnx.proto.OnnxMl.GraphProto.Builder g = original.getGraph().toBuilder();
        String renamed = g.getNodeList().stream().filter(n -> n.getOpType().equals("LayerNormalization")).findFirst()
                .orElseThrow().getOutput(0);
        for (int i = 0; i < g.getNodeCount(); i++) {
            ai.onnx.proto.OnnxMl.NodeProto.Builder n = g.getNodeBuilder(i);
            for (int k = 0; k < n.getInputCount(); k++) {
                if (n.getInput(k).equals(renamed)) {
                    n.setInput(k, "chunk.renamed");
                }
            }
            for (int k = 0; k < n.getOutputCount(); k++) {
                if (n.getOutput(k).equals(renamed)) {
                    n.setOutput(k, "chunk.renamed");
                }
            }
        }
        java.nio.file.Files.write(dir.resolve("model.onnx"), original.toBuilder().setGraph(g).build().toByteArray());

        try (DecoderModel model = DecoderModel.load(dir, RuntimeConfig.cpu(1).withDecodeChunkSteps(CHUNK))) {
            assertThat(model.chunkSteps()).isZero();
            assertThat(model.decoding()).contains("chunks of 4 steps a run are off: the step graph cannot be wrapped in a loop "
                    + "(the serving graph already has a tensor named 'chunk.renamed'), one step a run");
            GenerationRequest request = new GenerationRequest("r", PLAIN, Map.of("prompt", PROMPTS[1]), Optional.empty(),
                    GenerationOptions.greedy(6), false);
            GenerationResult result = new Generator(model, tokenizers.get("tiny-gpt2"), new GeneratorConfig(128, true))
                    .generate(List.of(request)).get(0);
            assertThat(result).isEqualTo(generator(stepping, "tiny-gpt2").generate(List.of(request)).get(0));
        }
    }

    /** batch.timeout.ms: the terminate flag set from another thread stops a long chunk half way, with no fallback. */
    @Test
    void shouldStopAChunkInProgressWhenTheTerminateFlagIsSet() throws InterruptedException {
        String name = "demo-gpt2";
        int batch = 32;
        int steps = 120;
        int[] prompt = tokenizers.get(name).encode(PROMPTS[0]);
        List<float[]> prompts = java.util.Collections.nCopies(batch, stepping.get(name).embedTokens(prompt));
        int[] tokens = new int[batch];
        int[] remaining = new int[batch];
        java.util.Arrays.fill(remaining, steps);
        int[] minNew = remaining.clone();
        try (DecoderModel model = DecoderModel.load(TestModels.model(name), RuntimeConfig.cpu(1).withDecodeChunkSteps(steps))) {
            long full;
            try (DecodeState state = model.newDecodeState(prompt.length + steps + 1, true)) {
                state.prefill(prompts);
                long start = System.nanoTime();
                assertThat(state.generateChunk(ChunkRows.greedy(steps, tokens, remaining, new int[batch], minNew))[0])
                        .hasSize(steps);
                full = (System.nanoTime() - start) / 1_000_000;
            }
            assertThat(full).as("the chunk must be long enough to stop half way").isGreaterThan(200);
            java.util.concurrent.ScheduledExecutorService timer = java.util.concurrent.Executors.newSingleThreadScheduledExecutor();
            try (RunControl control = RunControl.create();
                 DecodeState state = model.newDecodeState(prompt.length + steps + 1, true, control)) {
                state.prefill(prompts);
                timer.schedule(control::terminate, full / 10, java.util.concurrent.TimeUnit.MILLISECONDS);
                long start = System.nanoTime();
                assertThatThrownBy(() -> state.generateChunk(ChunkRows.greedy(steps, tokens, remaining, new int[batch], minNew)))
                        .isInstanceOf(IllegalStateException.class)
                        .isNotInstanceOf(ChunkFailedException.class)
                        .hasMessageContaining("terminate");
                assertThat((System.nanoTime() - start) / 1_000_000).isLessThan(full / 2);
            } finally {
                timer.shutdownNow();
            }
        }
    }
}

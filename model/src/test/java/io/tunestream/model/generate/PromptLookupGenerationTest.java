package io.tunestream.model.generate;

import io.tunestream.model.TestModels;
import io.tunestream.model.onnx.DecoderModel;
import io.tunestream.model.onnx.RuntimeConfig;
import io.tunestream.model.prompt.DeepPromptTable;
import io.tunestream.model.prompt.TaskTemplate;
import io.tunestream.model.prompt.VirtualTokenTable;
import io.tunestream.model.tokenize.HuggingFaceTextTokenizer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Prompt-lookup decoding ({@link GeneratorConfig#promptLookup()}, issue 12 point 7) gives the tokens of decoding step by
 * step on every fixture model, whatever the drafts: accepted (prompts that repeat themselves), rejected at their first
 * token, absent, cut by the row's length or the buffers' capacity, with a row that finishes inside an accepted draft;
 * with the per-row options that keep the choices deterministic (repetition penalty, min-new-tokens), soft and deep
 * prompts; and it stays off for sampling rows and batches of several rows. Each case checks from the generator's
 * {@link PromptLookupCounts} that lookup ran (or did not) as the case says, so a test cannot pass with lookup off.
 */
class PromptLookupGenerationTest {

    private static final TaskTemplate PLAIN = new TaskTemplate("plain", "{prompt}{answer}", List.of("prompt", "answer"),
            false, "answer", null, List.of(), 0);
    /** Repeats itself: tiny-gpt2 and tiny-llama continue it with loops that drafts copy. */
    private static final String REPEATING = "The cat sat on the mat and the dog sat on the rug. The bird sang in the tree. "
            + "The cat sat on the mat and the dog sat on the rug. The bird sang in the tree. The cat sat on the mat and the";
    /** demo-gpt2 (trained on such contexts) answers with a word of the context: " Risana Bay", then EOS. */
    private static final String ANSWERED = "Context: Tortave lives in Risana Bay. Tortave works as a driver.\n\n"
            + "Question: Where does Tortave live?\n\nAnswer:";
    /** demo-gpt2 tells more of this story, repeating its names and phrases. */
    private static final String STORY = "Torsavo has a pet horse. The favourite colour of Torsavo is orange. Torsavo works "
            + "as a nurse. Torsavo lives in";
    private static final List<String> PROMPTS = List.of(REPEATING, ANSWERED, STORY, "Seven", "The");
    private static final PromptLookup LOOKUP = new PromptLookup(8, 2);

    private DecoderModel model;
    private HuggingFaceTextTokenizer tokenizer;
    private Generator stepping;
    private Generator lookingUp;

    private void load(String name, int maxSequenceLength) {
        model = DecoderModel.load(TestModels.model(name), RuntimeConfig.cpu(1));
        tokenizer = HuggingFaceTextTokenizer.load(TestModels.model(name));
        GeneratorConfig config = new GeneratorConfig(maxSequenceLength, true);
        stepping = new Generator(model, tokenizer, config);
        lookingUp = new Generator(model, tokenizer, config.withPromptLookup(LOOKUP));
    }

    @AfterEach
    void close() {
        if (model != null) {
            model.close();
            tokenizer.close();
        }
    }

    private static GenerationRequest plain(String id, String prompt, GenerationOptions options) {
        return new GenerationRequest(id, PLAIN, Map.of("prompt", prompt), Optional.empty(), options, false);
    }

    /**
     * Generates the batch with and without lookup, asserts equal results (tokens, text, finish, counts), and returns
     * what lookup did for it.
     */
    private PromptLookupCounts sameAsSteps(List<GenerationRequest> batch) {
        List<GenerationResult> stepped = stepping.generate(batch);
        PromptLookupCounts before = lookingUp.promptLookupCounts();
        List<GenerationResult> lookedUp = lookingUp.generate(batch);
        PromptLookupCounts counts = lookingUp.promptLookupCounts().since(before);
        for (GenerationResult r : stepped) {
            assertThat(r.isError()).as(r.error()).isFalse();
        }
        assertThat(lookedUp).isEqualTo(stepped);
        assertThat(stepping.promptLookupCounts().passes()).as("lookup off").isZero();
        return counts;
    }

    private static PromptLookupCounts plus(PromptLookupCounts a, PromptLookupCounts b) {
        return new PromptLookupCounts(a.passes() + b.passes(), a.draftedTokens() + b.draftedTokens(),
                a.acceptedTokens() + b.acceptedTokens(), a.rejectedPasses() + b.rejectedPasses());
    }

    @ParameterizedTest
    @ValueSource(strings = {"tiny-gpt2", "tiny-llama", "demo-gpt2"})
    void shouldGiveTheStepsTokensWithDraftsAcceptedAndRejected(String name) {
        load(name, 256);
        PromptLookupCounts total = new PromptLookupCounts(0, 0, 0, 0);
        for (GenerationOptions options : List.of(GenerationOptions.greedy(30),
                GenerationOptions.greedy(30).withRepetitionPenalty(1.3),
                GenerationOptions.greedy(30).withMinNewTokens(30))) {
            for (String prompt : PROMPTS) {
                total = plus(total, sameAsSteps(List.of(plain("r", prompt, options))));
            }
        }
        assertThat(total.passes()).as("verification passes").isPositive();
        assertThat(total.acceptedTokens()).as("draft tokens accepted").isPositive();
        assertThat(total.rejectedPasses()).as("drafts rejected at their first token").isPositive();
    }

    /** Every length up to 30 tokens, and a stop string in the middle of the answer, end the row as steps do. */
    @ParameterizedTest
    @ValueSource(strings = {"tiny-gpt2", "tiny-llama", "demo-gpt2"})
    void shouldFinishForItsLengthOrAStopStringAsSteps(String name) {
        load(name, 256);
        PromptLookupCounts total = new PromptLookupCounts(0, 0, 0, 0);
        for (String prompt : List.of(REPEATING, "Seven")) {
            for (int max = 1; max <= 30; max++) {
                total = plus(total, sameAsSteps(List.of(plain("len", prompt, GenerationOptions.greedy(max)))));
            }
        }
        // every model tells a story of 30 tokens after "Seven"
        int[] ids = stepping.generate(List.of(plain("w", "Seven", GenerationOptions.greedy(30)))).get(0).tokenIds();
        assertThat(ids).hasSize(30);
        String stop = tokenizer.decode(Arrays.copyOfRange(ids, 12, 14)).strip();
        assertThat(stop).isNotEmpty();
        GenerationRequest stopped = plain("stop", "Seven", GenerationOptions.greedy(30).withStopStrings(List.of(stop)));
        total = plus(total, sameAsSteps(List.of(stopped)));
        assertThat(stepping.generate(List.of(stopped)).get(0).finishReason()).isEqualTo(FinishReason.STOP);
        assertThat(total.acceptedTokens()).isPositive();
    }

    /**
     * tiny-gpt2 continues the repeating prompt with " the" forever: the first pass drafts eight more (the loop) and
     * accepts them, and the stop string ends the row at its fourth token, in the middle of that pass.
     */
    @ParameterizedTest
    @ValueSource(ints = {0, 1})
    void shouldStopInsideAnAcceptedDraft(int minNewTokens) {
        load("tiny-gpt2", 256);
        GenerationRequest stopped = plain("stop", REPEATING, GenerationOptions.greedy(30).withMinNewTokens(minNewTokens)
                .withStopStrings(List.of("the the the the")));
        PromptLookupCounts counts = sameAsSteps(List.of(stopped));
        GenerationResult result = lookingUp.generate(List.of(stopped)).get(0);
        assertThat(result.finishReason()).isEqualTo(FinishReason.STOP);
        assertThat(result.completionTokens()).isEqualTo(4);
        assertThat(counts.passes()).as("the prefill's token, then three of one pass").isEqualTo(1);
        assertThat(counts.acceptedTokens()).isGreaterThanOrEqualTo(2);
    }

    /**
     * demo-gpt2 answers " Risana Bay" then EOS: one pass feeds " Risana" and the draft " Bay", ".", ...; the row picks
     * " Bay" (the draft's first token, accepted) and then EOS where the draft has ".", and finishes there.
     */
    @org.junit.jupiter.api.Test
    void shouldFinishAtEndOfSequenceInsideAnAcceptedDraft() {
        load("demo-gpt2", 256);
        PromptLookupCounts counts = sameAsSteps(List.of(plain("eos", ANSWERED, GenerationOptions.greedy(30))));
        GenerationResult result = lookingUp.generate(List.of(plain("eos", ANSWERED, GenerationOptions.greedy(30)))).get(0);
        assertThat(result.text()).isEqualTo(" Risana Bay");
        assertThat(result.finishReason()).isEqualTo(FinishReason.EOS);
        assertThat(result.completionTokens()).isEqualTo(3);
        assertThat(counts.passes()).isEqualTo(1);
        assertThat(counts.acceptedTokens()).isEqualTo(1);
    }

    /** Up to the buffer's last position: drafts are cut to the positions left (max_seq_length = prompt + 6). */
    @ParameterizedTest
    @ValueSource(strings = {"tiny-gpt2", "tiny-llama", "demo-gpt2"})
    void shouldCutTheDraftToTheRowsCapacity(String name) {
        PromptLookupCounts total = new PromptLookupCounts(0, 0, 0, 0);
        for (String prompt : List.of(REPEATING, STORY)) {
            load(name, 256);
            int promptLength = stepping.generate(List.of(plain("p", prompt, GenerationOptions.greedy(1)))).get(0)
                    .promptTokens();
            close();
            load(name, promptLength + 6);
            GenerationRequest full = plain("full", prompt, GenerationOptions.greedy(6).withMinNewTokens(6));
            total = plus(total, sameAsSteps(List.of(full)));
            GenerationResult result = stepping.generate(List.of(full)).get(0);
            assertThat(result.completionTokens()).isEqualTo(6);
            assertThat(result.finishReason()).isEqualTo(FinishReason.LENGTH);
            close();
        }
        model = null;
        assertThat(total.passes()).isPositive();
        // a pass after the prefill's token feeds at most the 5 positions left: its token and 4 drafted
        assertThat(total.draftedTokens()).isLessThanOrEqualTo(4L * total.passes());
    }

    @ParameterizedTest
    @ValueSource(strings = {"tiny-gpt2", "tiny-llama", "demo-gpt2"})
    void shouldLookUpForSoftAndDeepPromptRows(String name) {
        load(name, 256);
        int hidden = model.config().hiddenSize();
        float[] softRows = new float[4 * hidden];
        for (int i = 0; i < softRows.length; i++) {
            softRows[i] = (float) Math.cos(0.11 * i) * 0.05f;
        }
        VirtualTokenTable soft = new VirtualTokenTable("squad", 4, hidden, softRows, model.fingerprint());
        long softPasses = 0;
        long deepPasses = 0;
        for (String context : List.of(REPEATING, "Tortave lives in Risana Bay. Tortave works as a driver.")) {
            softPasses += sameAsSteps(List.of(new GenerationRequest("soft", TaskTemplate.squad("squad", 4),
                    Map.of("context", context, "question", "Where does Tortave live?"), Optional.of(soft),
                    GenerationOptions.greedy(30), false))).passes();
        }
        for (String[] split : List.of(new String[] {"The cat sat on the mat.", REPEATING},
                new String[] {"Tortave works as a driver.", ANSWERED})) {
            int[] prefixIds = tokenizer.encode(split[0]);
            DeepPromptTable deep = DeepPromptTable.ofPeft("deep", prefixIds.length, model.config(),
                    model.keysAndValues(prefixIds), model.fingerprint());
            deepPasses += sameAsSteps(List.of(new GenerationRequest("deep", PLAIN, Map.of("prompt", split[1]),
                    Optional.empty(), GenerationOptions.greedy(30), false, Optional.of(deep)))).passes();
        }
        assertThat(softPasses).as("soft prompt rows").isPositive();
        assertThat(deepPasses).as("deep prompt rows").isPositive();
    }

    /** A row after a cached prompt start (its prefix copied into the buffers) looks up as a whole row does. */
    @ParameterizedTest
    @ValueSource(strings = {"tiny-gpt2", "tiny-llama", "demo-gpt2"})
    void shouldLookUpAfterACachedPromptStart(String name) {
        load(name, 256);
        TaskTemplate instructed = new TaskTemplate("instructed", "Answer from the context, in its own words.\n{prompt}{answer}",
                List.of("prompt", "answer"), false, "answer", null, List.of(), 0);
        PrefixCache cache = new PrefixCache(64L << 20);
        Generator cachedLookingUp = new Generator(model, tokenizer, new GeneratorConfig(256, true, LOOKUP), cache);
        PromptLookupCounts total = new PromptLookupCounts(0, 0, 0, 0);
        for (String prompt : List.of(REPEATING, ANSWERED, "Seven")) {
            GenerationRequest request = new GenerationRequest("c", instructed, Map.of("prompt", prompt), Optional.empty(),
                    GenerationOptions.greedy(30), false);
            PromptLookupCounts before = cachedLookingUp.promptLookupCounts();
            GenerationResult result = cachedLookingUp.generate(List.of(request)).get(0);
            assertThat(result.isError()).as(result.error()).isFalse();
            assertThat(result).isEqualTo(stepping.generate(List.of(request)).get(0));
            total = plus(total, cachedLookingUp.promptLookupCounts().since(before));
        }
        assertThat(cache.stats().reusedPositions()).as("positions taken from the cached start").isPositive();
        assertThat(total.passes()).isPositive();
        assertThat(total.draftedTokens()).isPositive();
    }

    /** Batches of two rows step (lookup begins once one row is left); sampling rows never look up. */
    @ParameterizedTest
    @ValueSource(strings = {"tiny-gpt2", "tiny-llama", "demo-gpt2"})
    void shouldStepBatchesAndSamplingRows(String name) {
        load(name, 256);
        assertThat(sameAsSteps(List.of(plain("a", "Seven", GenerationOptions.greedy(20)),
                plain("b", "Seven", GenerationOptions.greedy(20)))).passes()).as("two rows to the end").isZero();
        assertThat(sameAsSteps(List.of(plain("a", "Seven", GenerationOptions.greedy(30)),
                plain("b", REPEATING, GenerationOptions.greedy(3)))).passes()).as("one row left").isPositive();
        assertThat(sameAsSteps(List.of(plain("s", REPEATING, GenerationOptions.sampling(30, 0.8, 0, 1.0, 7))))
                .passes()).as("sampling").isZero();
    }

    /**
     * A row whose first answer token is not in its prompt has no draft for its second token, and its third (its last)
     * takes none: both run through passes of one token. (tiny-gpt2 repeats its prompt's last token: no such prompt
     * among these.)
     */
    @ParameterizedTest
    @ValueSource(strings = {"tiny-llama", "demo-gpt2"})
    void shouldStepWhenThereIsNoDraft(String name) {
        load(name, 256);
        boolean found = false;
        for (String prompt : List.of("Kamiro", "Where does", "A pilot", "Talenburg is far", "music", "Seven", REPEATING)) {
            List<Integer> promptIds = new ArrayList<>();
            for (int id : tokenizer.encode(prompt)) {
                promptIds.add(id);
            }
            model.config().bosTokenId().ifPresent(promptIds::add);
            int[] answer = stepping.generate(List.of(plain("n", prompt, GenerationOptions.greedy(3)))).get(0).tokenIds();
            if (answer.length == 3 && !promptIds.contains(answer[0])) {
                found = true;
                PromptLookupCounts counts = sameAsSteps(List.of(plain("n", prompt, GenerationOptions.greedy(3))));
                assertThat(counts.passes()).as("passes without drafts").isEqualTo(2);
                assertThat(counts.draftedTokens()).as("no draft for '%s'", prompt).isZero();
            }
        }
        assertThat(found).as("a prompt whose first answer token is not in it").isTrue();
    }
}

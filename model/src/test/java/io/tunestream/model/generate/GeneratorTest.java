package io.tunestream.model.generate;

import io.tunestream.model.TestModels;
import io.tunestream.model.onnx.DecoderModel;
import io.tunestream.model.onnx.RuntimeConfig;
import io.tunestream.model.prompt.TaskTemplate;
import io.tunestream.model.prompt.VirtualTokenTable;
import io.tunestream.model.tokenize.HuggingFaceTextTokenizer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;

import static org.assertj.core.api.Assertions.assertThat;

/** Per-row options and bad input on tiny-gpt2 (whose greedy continuation of the reference prompt is token 294 forever). */
class GeneratorTest {

    private static final Map<String, String> SQUAD_FIELDS = Map.of("context", "Kamiro lives in Talenburg.",
            "question", "Where does Kamiro live?");

    private static DecoderModel model;
    private static HuggingFaceTextTokenizer tokenizer;
    private static Generator generator;
    private static String prompt;

    @BeforeAll
    static void load() {
        model = DecoderModel.load(TestModels.model("tiny-gpt2"), RuntimeConfig.cpu(1));
        tokenizer = HuggingFaceTextTokenizer.load(TestModels.model("tiny-gpt2"));
        generator = new Generator(model, tokenizer, new GeneratorConfig(64, true));
        prompt = tokenizer.decode(new int[]{639, 82, 65, 295, 294});
    }

    @AfterAll
    static void close() {
        model.close();
        tokenizer.close();
    }

    private static GenerationRequest plain(String id, GenerationOptions options) {
        return new GenerationRequest(id, new TaskTemplate("plain", "{prompt}{answer}", List.of("prompt", "answer"), false,
                "answer", null, List.of(), 0), Map.of("prompt", prompt), Optional.empty(), options, false);
    }

    private static VirtualTokenTable table(int rows, int hidden, String fingerprint) {
        return new VirtualTokenTable("squad", rows, hidden, new float[rows * hidden], fingerprint);
    }

    private static GenerationRequest squad(String id, Map<String, String> fields, Optional<VirtualTokenTable> table) {
        return new GenerationRequest(id, TaskTemplate.squad("squad", 4), fields, table, GenerationOptions.greedy(3), false);
    }

    @Test
    void shouldAnswerTheGoodRowsAndGiveEachBadRowAnErrorNamingItsTask() {
        GenerationRequest good = plain("good", GenerationOptions.greedy(4));
        List<GenerationRequest> batch = List.of(
                squad("unknown-field", Map.of("context", "c", "question", "q", "title", "t"),
                        Optional.of(table(4, 64, model.fingerprint()))),
                good,
                new GenerationRequest("no-answer", new TaskTemplate("echo", "{text}", List.of("text"), false, null, null,
                        List.of(), 0), Map.of("text", "hi"), Optional.empty(), GenerationOptions.greedy(2), false),
                squad("too-long", Map.of("context", "c", "question", "Where does Kamiro live? ".repeat(20)),
                        Optional.of(table(4, 64, model.fingerprint()))),
                squad("wrong-width", SQUAD_FIELDS, Optional.of(table(4, 32, model.fingerprint()))),
                squad("other-model", SQUAD_FIELDS, Optional.of(table(4, 64, "ab12"))),
                squad("no-adapter", SQUAD_FIELDS, Optional.empty()));

        List<GenerationResult> results = generator.generate(batch);

        assertThat(results).extracting(GenerationResult::id).containsExactly("unknown-field", "good", "no-answer",
                "too-long", "wrong-width", "other-model", "no-adapter");
        assertThat(results.get(1)).isEqualTo(generator.generate(List.of(good)).get(0));
        assertThat(results.get(1).tokenIds()).containsExactly(294, 294, 294, 294);
        // a template without answer_field generates after the whole prompt: as "{prompt}{answer}" with the answer left out
        GenerationRequest hi = new GenerationRequest("hi", new TaskTemplate("plain", "{prompt}{answer}",
                List.of("prompt", "answer"), false, "answer", null, List.of(), 0), Map.of("prompt", "hi"), Optional.empty(),
                GenerationOptions.greedy(2), false);
        assertThat(results.get(2).tokenIds()).hasSize(2).containsExactly(generator.generate(List.of(hi)).get(0).tokenIds());
        assertThat(results).extracting(GenerationResult::error).containsExactly(
                "task 'squad': unknown field 'title' (template fields: [context, question, answer])",
                null,
                null,
                results.get(3).error(),
                "task 'squad': the virtual-token table is 32 wide but the model's hidden size is 64",
                "task 'squad': the adapter was tuned for model ab12, not for the loaded model " + model.fingerprint(),
                "task 'squad': no virtual-token table (adapter) for a template with 4 virtual tokens, and the request does "
                        + "not allow the plain prompt");
        assertThat(results.get(3).error()).startsWith("task 'squad': prompt is ")
                .endsWith(" tokens with truncate_field 'context' emptied, more than the 61 allowed");
        assertThat(results).extracting(GenerationResult::finishReason).containsExactly(FinishReason.ERROR,
                FinishReason.LENGTH, FinishReason.LENGTH, FinishReason.ERROR, FinishReason.ERROR, FinishReason.ERROR,
                FinishReason.ERROR);
        assertThat(results).extracting(GenerationResult::errorKind).containsExactly(RowError.INVALID_INPUT, null,
                null, RowError.PROMPT_TOO_LONG, RowError.ADAPTER_MISMATCH, RowError.ADAPTER_MISMATCH,
                RowError.NO_ADAPTER);
    }

    @Test
    void shouldRunThePlainTemplateWithoutAnAdapterOnlyWhenAllowed() {
        GenerationRequest allowed = new GenerationRequest("plain", TaskTemplate.squad("squad", 4), SQUAD_FIELDS,
                Optional.empty(), GenerationOptions.greedy(3), true);
        GenerationRequest explicitPlain = new GenerationRequest("plain", TaskTemplate.squad("squad", 4).withoutVirtualTokens(),
                SQUAD_FIELDS, Optional.empty(), GenerationOptions.greedy(3), false);

        GenerationResult result = generator.generate(List.of(allowed)).get(0);

        assertThat(result.isError()).isFalse();
        assertThat(result).isEqualTo(generator.generate(List.of(explicitPlain)).get(0));
    }

    @Test
    void shouldStopBeforeTheStopString() {
        assertThat(tokenizer.decode(new int[]{294})).isEqualTo(" in");
        GenerationOptions options = GenerationOptions.greedy(10).withStopStrings(List.of("never", "in in"));

        GenerationResult result = generator.generate(List.of(plain("stop", options))).get(0);

        assertThat(result.finishReason()).isEqualTo(FinishReason.STOP);
        assertThat(result.text()).isEqualTo(" ");
        assertThat(result.tokenIds()).containsExactly(294, 294);
    }

    @Test
    void shouldFinishOnEosAndSuppressItBeforeMinNewTokens(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
            throws java.io.IOException {
        // the same weights, with the greedy token 294 declared end-of-sequence by generation_config.json
        for (String f : List.of("model.onnx", "config.json", "tokenizer.json")) {
            java.nio.file.Files.copy(TestModels.model("tiny-gpt2").resolve(f), dir.resolve(f));
        }
        java.nio.file.Files.writeString(dir.resolve("generation_config.json"), "{\"eos_token_id\": [294, 0]}");
        try (DecoderModel eosModel = DecoderModel.load(dir, RuntimeConfig.cpu(1))) {
            Generator g = new Generator(eosModel, tokenizer, new GeneratorConfig(64, true));

            GenerationResult eos = g.generate(List.of(plain("eos", GenerationOptions.greedy(5)))).get(0);
            GenerationResult min = g.generate(List.of(plain("min", GenerationOptions.greedy(5).withMinNewTokens(2)))).get(0);

            assertThat(eos.finishReason()).isEqualTo(FinishReason.EOS);
            assertThat(eos.tokenIds()).isEmpty();
            assertThat(eos.completionTokens()).isEqualTo(1);
            assertThat(min.tokenIds()).hasSizeGreaterThanOrEqualTo(2).doesNotContain(294, 0);
            assertThat(eosModel.fingerprint()).isEqualTo(model.fingerprint());
        }
    }

    @Test
    void shouldRepeatASeededSampleAndVaryWithTheSeed() {
        GenerationOptions seeded = GenerationOptions.sampling(8, 1.5, 0, 1.0, 7);
        GenerationOptions otherSeed = GenerationOptions.sampling(8, 1.5, 0, 1.0, 8);

        List<GenerationResult> twice = generator.generate(List.of(plain("a", seeded), plain("b", seeded)));
        GenerationResult other = generator.generate(List.of(plain("a", otherSeed))).get(0);

        assertThat(twice.get(0).tokenIds()).containsExactly(twice.get(1).tokenIds());
        assertThat(other.tokenIds()).isNotEqualTo(twice.get(0).tokenIds());
    }

    @Test
    void shouldLeaveTheRepeatedTokenUnderAStrongRepetitionPenalty() {
        GenerationOptions penalized = GenerationOptions.greedy(4).withRepetitionPenalty(100);

        GenerationResult result = generator.generate(List.of(plain("p", penalized))).get(0);

        assertThat(result.tokenIds()).doesNotContain(294).doesNotHaveDuplicates();
    }

    @Test
    void shouldRejectInvalidOptionsAtConstruction() {
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> new GenerationOptions(4, 5, 0, 0, 1, 1, List.of(),
                        OptionalLong.empty()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("minNewTokens must be in [0, maxNewTokens = 4], got 5");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> GenerationOptions.sampling(4, 1, 0, 0, 1))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("topP must be in (0, 1], got 0.0");
    }
}

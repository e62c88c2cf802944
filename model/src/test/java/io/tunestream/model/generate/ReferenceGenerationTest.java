package io.tunestream.model.generate;

import com.fasterxml.jackson.databind.JsonNode;
import io.tunestream.model.TestModels;
import io.tunestream.model.onnx.DecoderModel;
import io.tunestream.model.onnx.RuntimeConfig;
import io.tunestream.model.onnx.StepInput;
import io.tunestream.model.prompt.Prompt;
import io.tunestream.model.prompt.PromptBuilder;
import io.tunestream.model.prompt.PromptMode;
import io.tunestream.model.prompt.TaskTemplate;
import io.tunestream.model.prompt.VirtualTokenTable;
import io.tunestream.model.tokenize.HuggingFaceTextTokenizer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;

/** The runtime against PyTorch's numbers in {@code models/*}/reference.json. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ReferenceGenerationTest {

    private static final List<String> MODELS = List.of("tiny-gpt2", "tiny-llama", "demo-gpt2");
    private static final TaskTemplate PLAIN = new TaskTemplate("plain", "{prompt}{answer}", List.of("prompt", "answer"),
            false, "answer", null, List.of(), 0);
    private static final TaskTemplate ASSISTANT = new TaskTemplate("assistant", "<|VIRTUAL_PROMPT_0|>{utterance}{label}",
            List.of("utterance", "label"), true, "label", "utterance", List.of(10), 10);

    private final Map<String, DecoderModel> models = new HashMap<>();
    private final Map<String, HuggingFaceTextTokenizer> tokenizers = new HashMap<>();

    @BeforeAll
    void load() {
        for (String name : MODELS) {
            models.put(name, DecoderModel.load(TestModels.model(name), RuntimeConfig.cpu(1)));
            tokenizers.put(name, HuggingFaceTextTokenizer.load(TestModels.model(name)));
        }
    }

    @AfterAll
    void close() {
        models.values().forEach(DecoderModel::close);
        tokenizers.values().forEach(HuggingFaceTextTokenizer::close);
    }

    private Generator generator(String name, boolean cache) {
        return new Generator(models.get(name), tokenizers.get(name), new GeneratorConfig(256, cache));
    }

    private GenerationRequest greedyRequest(String name, String id) {
        JsonNode greedy = TestModels.reference(name).get("greedy");
        String prompt = tokenizers.get(name).decode(TestModels.ints(greedy.get("prompt_ids")));
        return new GenerationRequest(id, PLAIN, Map.of("prompt", prompt), Optional.empty(),
                GenerationOptions.greedy(greedy.get("generated_ids").size()), false);
    }

    @ParameterizedTest
    @ValueSource(strings = {"tiny-gpt2", "tiny-llama", "demo-gpt2"})
    void shouldGenerateTheReferenceGreedyTokens(String name) {
        JsonNode greedy = TestModels.reference(name).get("greedy");
        GenerationRequest request = greedyRequest(name, "g");
        assertThat(tokenizers.get(name).encode(request.fields().get("prompt")))
                .containsExactly(TestModels.ints(greedy.get("prompt_ids")));

        GenerationResult result = generator(name, true).generate(List.of(request)).get(0);

        assertThat(result.tokenIds()).containsExactly(TestModels.ints(greedy.get("generated_ids")));
        assertThat(result.finishReason()).isEqualTo(FinishReason.LENGTH);
        assertThat(result.promptTokens()).isEqualTo(greedy.get("prompt_ids").size());
        assertThat(result.completionTokens()).isEqualTo(greedy.get("generated_ids").size());
    }

    @ParameterizedTest
    @ValueSource(strings = {"tiny-gpt2", "tiny-llama", "demo-gpt2"})
    void shouldPredictTheReferenceTop5WithTheVirtualTablePrepended(String name) {
        DecoderModel model = models.get(name);
        PromptBuilder builder = new PromptBuilder(tokenizers.get(name));
        JsonNode cases = TestModels.reference(name).get("cases");
        for (int c = 0; c < cases.size(); c++) {
            JsonNode kase = cases.get(c);
            VirtualTokenTable table = VirtualTokenTable.of("case" + c, TestModels.matrix(kase.get("virtual")), model.fingerprint());
            Prompt prompt = builder.build(templateOf(c), fieldsOf(c, kase), PromptMode.TRAINING, 256);

            int[] expectedIds = IntStream.concat(IntStream.of(TestModels.ints(kase.get("prompt_ids"))),
                    IntStream.of(TestModels.ints(kase.get("answer_ids")))).toArray();
            assertThat(prompt.realTokenIds()).containsExactly(expectedIds);
            assertThat(prompt.virtualRows()).startsWith(IntStream.range(0, 10).toArray());
            assertThat(prompt.answerLength()).isEqualTo(kase.get("answer_ids").size());

            int hidden = model.config().hiddenSize();
            int length = prompt.length();
            float[] embeds = new float[length * hidden];
            long[] mask = new long[length];
            long[] positions = new long[length];
            for (int p = 0; p < length; p++) {
                if (prompt.isVirtual(p)) {
                    table.copyRow(prompt.virtualRows()[p], embeds, p * hidden);
                } else {
                    model.embedToken(prompt.tokenIds()[p], embeds, p * hidden);
                }
                mask[p] = 1;
                positions[p] = p;
            }
            DecoderModel.Step step = model.forward(new StepInput(1, length, embeds, mask, positions), null);
            step.cache().close();
            assertThat(top(step.lastLogits(), 5)).as("%s case %d", name, c)
                    .containsExactly(TestModels.ints(kase.get("last_logits_top5")));
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"tiny-gpt2", "tiny-llama", "demo-gpt2"})
    void shouldGenerateTheSameWithAndWithoutTheKvCache(String name) {
        List<GenerationRequest> batch = mixedBatch(name);

        List<GenerationResult> cached = generator(name, true).generate(batch);
        List<GenerationResult> recomputed = generator(name, false).generate(batch);

        assertThat(cached).allSatisfy(r -> assertThat(r.isError()).as(r.toString()).isFalse());
        assertThat(cached).isEqualTo(recomputed);
    }

    @ParameterizedTest
    @ValueSource(strings = {"tiny-gpt2", "demo-gpt2"})
    void shouldGenerateTheSameAppendingInPlaceAsCopyingTheCache(String name) {
        List<GenerationRequest> batch = mixedBatch(name);

        List<GenerationResult> copying;
        try (DecoderModel export = DecoderModel.load(TestModels.model(name), RuntimeConfig.cpu(1).withInPlaceKvCache(false))) {
            assertThat(export.decodesInPlace()).isFalse();
            copying = new Generator(export, tokenizers.get(name), new GeneratorConfig(256, true)).generate(batch);
        }
        List<GenerationResult> inPlace;
        // two threads from 3 rows up, one below: the batch of 4 runs on both decode sessions as rows finish
        try (DecoderModel model = DecoderModel.load(TestModels.model(name), RuntimeConfig.cpu(2).withParallelDecodeRows(3))) {
            assertThat(model.decodesInPlace()).isTrue();
            inPlace = new Generator(model, tokenizers.get(name), new GeneratorConfig(256, true)).generate(batch);
        }

        assertThat(inPlace).allSatisfy(r -> assertThat(r.isError()).as(r.toString()).isFalse());
        // rows finish at different steps, so the buffer drops rows in place on the way
        assertThat(inPlace.stream().mapToInt(GenerationResult::completionTokens).distinct().count()).isGreaterThan(2);
        assertThat(inPlace).isEqualTo(copying);
    }

    @ParameterizedTest
    @ValueSource(strings = {"tiny-gpt2", "tiny-llama", "demo-gpt2"})
    void shouldGiveARowTheSameOutputAloneAndInAMixedBatch(String name) {
        List<GenerationRequest> batch = mixedBatch(name);
        Generator generator = generator(name, true);

        List<GenerationResult> together = generator.generate(batch);

        for (int i = 0; i < batch.size(); i++) {
            GenerationResult alone = generator.generate(List.of(batch.get(i))).get(0);
            assertThat(together.get(i)).as("row %d of %s", i, name).isEqualTo(alone);
        }
    }

    /** Different tasks, adapters, lengths and stopping points. */
    private List<GenerationRequest> mixedBatch(String name) {
        DecoderModel model = models.get(name);
        JsonNode cases = TestModels.reference(name).get("cases");
        VirtualTokenTable squadTable = VirtualTokenTable.of("squad", TestModels.matrix(cases.get(0).get("virtual")), model.fingerprint());
        VirtualTokenTable assistantTable = VirtualTokenTable.of("assistant", TestModels.matrix(cases.get(1).get("virtual")),
                model.fingerprint());
        List<GenerationRequest> batch = new ArrayList<>();
        batch.add(new GenerationRequest("squad", TaskTemplate.squad("squad", 10),
                Map.of("context", "Kamiro lives in Talenburg. Kamiro works as a pilot.", "question", "Where does Kamiro live?"),
                Optional.of(squadTable), GenerationOptions.greedy(6), false));
        batch.add(greedyRequest(name, "greedy"));
        batch.add(new GenerationRequest("assistant", ASSISTANT, Map.of("utterance", "set an alarm for seven in the morning"),
                Optional.of(assistantTable), GenerationOptions.greedy(9), false));
        batch.add(new GenerationRequest("plain-squad", TaskTemplate.squad("squad", 10),
                Map.of("context", "Naan has a pet horse.", "question", "What pet does Naan have?"),
                Optional.empty(), GenerationOptions.sampling(7, 0.8, 20, 0.9, 42), true));
        return batch;
    }

    private static TaskTemplate templateOf(int caseIndex) {
        return caseIndex == 0 ? TaskTemplate.squad("squad", 10) : ASSISTANT;
    }

    /** The reference cases as template fields: case 0 is the SQuAD template, case 1 the assistant one. */
    private static Map<String, String> fieldsOf(int caseIndex, JsonNode kase) {
        String prompt = kase.get("prompt").asText();
        String answer = kase.get("answer").asText();
        if (caseIndex == 1) {
            return Map.of("utterance", prompt, "label", answer);
        }
        String context = prompt.substring("Context: ".length(), prompt.indexOf("\n\nQuestion: "));
        String question = prompt.substring(prompt.indexOf("\n\nQuestion: ") + "\n\nQuestion: ".length(),
                prompt.indexOf("\n\nAnswer:"));
        return Map.of("context", context, "question", question, "answer", answer);
    }

    private static int[] top(float[] logits, int k) {
        return IntStream.range(0, logits.length).boxed()
                .sorted((a, b) -> Float.compare(logits[b], logits[a]))
                .limit(k).mapToInt(Integer::intValue).toArray();
    }
}

package io.tunestream.model.generate;

import io.tunestream.model.TestModels;
import io.tunestream.model.onnx.DecoderModel;
import io.tunestream.model.onnx.ModelConfig;
import io.tunestream.model.onnx.RuntimeConfig;
import io.tunestream.model.prompt.DeepPromptTable;
import io.tunestream.model.prompt.TaskTemplate;
import io.tunestream.model.prompt.VirtualTokenTable;
import io.tunestream.model.tokenize.HuggingFaceTextTokenizer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;

/** Requests carrying deep prompts on demo-gpt2, batched with soft-prompt and base-model requests. */
class DeepPromptGenerationTest {

    private static final TaskTemplate PLAIN = new TaskTemplate("plain", "{prompt}{answer}", List.of("prompt", "answer"),
            false, "answer", null, List.of(), 0);
    private static final String TEXT = "Context: Kamiro lives in Talenburg. Kamiro works as a pilot.\n\n"
            + "Question: Where does Kamiro live?\n\nAnswer:";

    private static DecoderModel model;
    private static HuggingFaceTextTokenizer tokenizer;
    private static Generator generator;

    @BeforeAll
    static void load() {
        model = DecoderModel.load(TestModels.model("demo-gpt2"), RuntimeConfig.cpu(1));
        tokenizer = HuggingFaceTextTokenizer.load(TestModels.model("demo-gpt2"));
        generator = new Generator(model, tokenizer, new GeneratorConfig(128, true));
    }

    @AfterAll
    static void close() {
        model.close();
        tokenizer.close();
    }

    private static GenerationRequest request(String id, TaskTemplate template, String prompt,
                                             Optional<VirtualTokenTable> soft, Optional<DeepPromptTable> deep) {
        return new GenerationRequest(id, template, Map.of("prompt", prompt), soft, GenerationOptions.greedy(8), false,
                deep);
    }

    private static DeepPromptTable prefixOf(String task, int[] tokens) {
        return DeepPromptTable.ofPeft(task, tokens.length, model.config(), model.keysAndValues(tokens), model.fingerprint());
    }

    /** The first tokens of a prompt as a deep prompt, the rest as the request: the answer of the whole prompt. */
    @Test
    void shouldAnswerAsTheWholePromptWhenTheDeepPromptIsItsFirstTokens() {
        int[] ids = tokenizer.encode(TEXT);
        int split = 12;
        String rest = tokenizer.decode(Arrays.copyOfRange(ids, split, ids.length));
        assertThat(tokenizer.encode(rest)).as("the rest re-encodes to the same tokens")
                .containsExactly(Arrays.copyOfRange(ids, split, ids.length));
        // the template's virtual-token slots give way to the deep prompt
        TaskTemplate withSlots = new TaskTemplate("deep", "<|VIRTUAL_PROMPT_0|>{prompt}{answer}",
                List.of("prompt", "answer"), false, "answer", null, List.of(10), 10);

        GenerationResult whole = generator.generate(List.of(request("whole", PLAIN, TEXT, Optional.empty(),
                Optional.empty()))).get(0);
        GenerationResult deep = generator.generate(List.of(request("deep", withSlots, rest, Optional.empty(),
                Optional.of(prefixOf("deep", Arrays.copyOf(ids, split)))))).get(0);

        assertThat(deep.isError()).as(deep.error()).isFalse();
        assertThat(deep.tokenIds()).containsExactly(whole.tokenIds());
        assertThat(deep.text()).isEqualTo(whole.text());
    }

    @Test
    void shouldGiveEachRowOfABatchMixingDeepSoftAndPlainPromptsItsOwnAnswer() {
        int hidden = model.config().hiddenSize();
        float[] softRows = new float[4 * hidden];
        for (int i = 0; i < softRows.length; i++) {
            softRows[i] = (float) Math.cos(0.11 * i) * 0.05f;
        }
        VirtualTokenTable soft = new VirtualTokenTable("squad", 4, hidden, softRows, model.fingerprint());
        List<GenerationRequest> batch = List.of(
                request("deep-a", PLAIN, " Question: Where does Kamiro live?\n\nAnswer:", Optional.empty(),
                        Optional.of(prefixOf("a", tokenizer.encode("Context: Kamiro lives in Talenburg.")))),
                new GenerationRequest("soft", TaskTemplate.squad("squad", 4), Map.of("context", "Naan has a pet horse.",
                        "question", "What pet does Naan have?"), Optional.of(soft), GenerationOptions.greedy(5), false),
                request("plain", PLAIN, "play some music in the", Optional.empty(), Optional.empty()),
                request("deep-b", PLAIN, " What pet does Naan have?\n\nAnswer:", Optional.empty(),
                        Optional.of(prefixOf("b", tokenizer.encode("Naan has a pet horse.")))));

        List<GenerationResult> together = generator.generate(batch);

        for (int i = 0; i < batch.size(); i++) {
            GenerationResult alone = generator.generate(List.of(batch.get(i))).get(0);
            assertThat(alone.isError()).as(alone.error()).isFalse();
            assertThat(together.get(i)).as(batch.get(i).id()).isEqualTo(alone);
        }
        // the deep prompt is the keys and values of the context: the row answers as the whole text does
        String whole = "Context: Kamiro lives in Talenburg. Question: Where does Kamiro live?\n\nAnswer:";
        int[] wholeIds = tokenizer.encode(whole);
        int[] contextIds = tokenizer.encode("Context: Kamiro lives in Talenburg.");
        assertThat(Arrays.copyOf(wholeIds, contextIds.length)).containsExactly(contextIds);
        assertThat(together.get(0).tokenIds()).containsExactly(generator.generate(List.of(request("whole", PLAIN, whole,
                Optional.empty(), Optional.empty()))).get(0).tokenIds());
    }

    @Test
    void shouldRefuseADeepPromptOfAnotherModelOrShapeAndAnswerTheOtherRows() {
        ModelConfig c = model.config();
        int width = 2 * c.layers() * c.kvHeads() * c.headDim();
        DeepPromptTable otherModel = new DeepPromptTable("x", 2, c.layers(), c.kvHeads(), c.headDim(), new float[2 * width],
                "ab12");
        DeepPromptTable otherShape = new DeepPromptTable("y", 2, c.layers(), c.kvHeads(), c.headDim() / 2,
                new float[width], model.fingerprint());

        List<GenerationResult> results = generator.generate(List.of(
                request("other-model", PLAIN, "hello", Optional.empty(), Optional.of(otherModel)),
                request("other-shape", PLAIN, "hello", Optional.empty(), Optional.of(otherShape)),
                request("good", PLAIN, "hello", Optional.empty(), Optional.empty())));

        assertThat(results).extracting(GenerationResult::errorKind).containsExactly(RowError.ADAPTER_MISMATCH,
                RowError.ADAPTER_MISMATCH, null);
        assertThat(results.get(0).error()).isEqualTo("task 'plain': the deep prompt was tuned for model ab12, not for "
                + "the loaded model " + model.fingerprint());
        assertThat(results.get(1).error()).isEqualTo("task 'y': the deep prompt is for " + c.layers() + " layers x "
                + c.kvHeads() + " kv heads x head size " + c.headDim() / 2 + " but the model has " + c.layers()
                + " layers x " + c.kvHeads() + " kv heads x head size " + c.headDim());
    }
}

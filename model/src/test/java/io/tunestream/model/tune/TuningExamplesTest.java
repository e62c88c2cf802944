package io.tunestream.model.tune;

import io.tunestream.model.prompt.Prompt;
import io.tunestream.model.prompt.PromptBuilder;
import io.tunestream.model.prompt.TaskTemplate;
import io.tunestream.model.tokenize.TextTokenizer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class TuningExamplesTest {

    /** One token a character: lengths are easy to count. */
    static final TextTokenizer CHARS = new TextTokenizer() {
        @Override
        public int[] encode(String text) {
            return text.chars().toArray();
        }

        @Override
        public String decode(int[] ids) {
            return new String(ids, 0, ids.length);
        }
    };

    private static final TaskTemplate QA = new TaskTemplate("qa", "<|VIRTUAL_PROMPT_0|> Q: {question} A:{answer}",
            List.of("question", "answer"), true, "answer", "question", List.of(2), 2);

    @Test
    void shouldSkipAndCountUnusableExamplesByReason() {
        List<String> lines = List.of(
                "{\"taskname\": \"qa\", \"question\": \"why\", \"answer\": \" so\"}",
                "{\"taskname\": \"qa\", \"answer\": \" so\"}",
                "{\"taskname\": \"qa\", \"question\": \"why\", \"answer\": \"  \"}",
                "{\"taskname\": \"qa\", \"question\": \"why\"",
                "{\"taskname\": \"other\", \"utterance\": \"hi\"}",
                "",
                "{\"taskname\": \"qa\", \"question\": \"why\", \"answer\": null}");

        TuningExamples examples = TuningExamples.of(lines, QA, new PromptBuilder(CHARS), 64, OptionalInt.empty());

        assertThat(examples.prompts()).hasSize(1);
        assertThat(examples.fields()).containsExactly(Map.of("question", "why", "answer", " so"));
        assertThat(examples.skipped()).containsExactlyInAnyOrderEntriesOf(Map.of(
                "missing field 'question'", 1L, "empty answer", 1L, "malformed JSON", 1L, "missing field 'answer'", 1L));
        assertThat(examples.skippedCount()).isEqualTo(4);
    }

    @Test
    void shouldAppendTheEndOfSequenceTokenToTheAnswerSpan() {
        List<String> lines = List.of("{\"taskname\": \"qa\", \"question\": \"why\", \"answer\": \" so\"}");

        Prompt p = TuningExamples.of(lines, QA, new PromptBuilder(CHARS), 64, OptionalInt.of(0)).prompts().get(0);

        // 2 virtual, "Q: why A:" (9), " so" (3), EOS
        assertThat(p.length()).isEqualTo(2 + 9 + 3 + 1);
        assertThat(p.answerStart()).isEqualTo(11);
        assertThat(p.tokenIds()[p.length() - 1]).isZero();
        assertThat(p.virtualRows()[p.length() - 1]).isEqualTo(-1);
    }

    @Test
    void shouldCountAPromptThatCannotBeTruncatedToFit() {
        List<String> lines = List.of("{\"taskname\": \"qa\", \"question\": \"why\", \"answer\": \" a very long answer\"}");

        TuningExamples examples = TuningExamples.of(lines, QA, new PromptBuilder(CHARS), 12, OptionalInt.empty());

        assertThat(examples.prompts()).isEmpty();
        assertThat(examples.skipped()).containsExactly(Map.entry("prompt cannot be truncated to fit", 1L));
    }

    @Test
    void shouldFailWhenAFileHasNoUsableExampleNamingTheReasons(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("train.jsonl");
        Files.writeString(file, "{\"taskname\": \"qa\", \"question\": \"why\", \"answer\": \"\"}\n");

        assertThatThrownBy(() -> TuningExamples.read(file, QA, new PromptBuilder(CHARS), 64, OptionalInt.empty()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("task 'qa': no usable example in " + file + " (skipped: {empty answer=1})");
    }

    @Test
    void shouldRejectBadTemplatesWithTheNemoRule() {
        assertThatThrownBy(() -> new TaskTemplate("qa", "<|VIRTUAL_PROMPT_0|> {question}{answer}",
                List.of("question", "answer"), true, "answer", null, List.of(3), 4))
                .hasMessage("task 'qa': virtual_token_splits [3] sum to 3, not total_virtual_tokens 4");
        assertThatThrownBy(() -> new TaskTemplate("qa", "<|VIRTUAL_PROMPT_0|> {question}{answer}",
                List.of("question", "answer"), true, "answer", null, List.of(2, 2), 4))
                .hasMessage("task 'qa': virtual_token_splits has 2 entries but prompt_template has no <|VIRTUAL_PROMPT_1|>");
        assertThatThrownBy(() -> new TaskTemplate("qa", "<|VIRTUAL_PROMPT_0|> {answer} {question}",
                List.of("question", "answer"), true, "answer", null, List.of(4), 4))
                .hasMessage("task 'qa': with answer_only_loss, prompt_template must end with the answer field {answer}");
    }

    private static final List<String> ONE_EXAMPLE =
            List.of("{\"taskname\": \"qa\", \"question\": \"Where does Kamiro live?\", \"answer\": \" Talenburg\"}");

    /** The fixtures' config.json say bos_token_id 0 (GPT-2's and this tokenizer's <|endoftext|>), eos_token_id 0. */
    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(strings = {"tiny-llama", "demo-gpt2"})
    void shouldStartEveryTrainingSequenceWithTheModelsBosForAnAddBosTemplate(String name) {
        Path dir = io.tunestream.model.TestModels.model(name);
        io.tunestream.model.onnx.ModelConfig config = io.tunestream.model.onnx.ModelConfig.read(dir);
        try (var tokenizer = io.tunestream.model.tokenize.HuggingFaceTextTokenizer.load(dir)) {
            PromptBuilder builder = new PromptBuilder(tokenizer, config.bosTokenId());
            OptionalInt eos = OptionalInt.of(config.eosTokenId());

            Prompt plain = TuningExamples.of(ONE_EXAMPLE, QA, builder, 64, eos).prompts().get(0);
            Prompt bos = TuningExamples.of(ONE_EXAMPLE, QA.withAddBos(true), builder, 64, eos).prompts().get(0);

            assertThat(plain.tokenIds()).startsWith(-1, -1).endsWith(0);
            assertThat(bos.tokenIds()).startsWith(0, -1, -1).endsWith(0).hasSize(plain.length() + 1);
            assertThat(java.util.Arrays.copyOfRange(bos.tokenIds(), 1, bos.length())).containsExactly(plain.tokenIds());
            assertThat(bos.answerLength()).isEqualTo(plain.answerLength());
        }
    }

    @Test
    void shouldTakeBosFromBosTokenIdNotFromEos(@TempDir Path dir) throws IOException {
        // a Llama-style config: BOS 1, EOS 2 (the fixtures have BOS = EOS)
        Files.writeString(dir.resolve("config.json"), """
                {"model_type": "llama", "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
                 "vocab_size": 1024, "max_position_embeddings": 256, "bos_token_id": 1, "eos_token_id": 2}
                """);
        io.tunestream.model.onnx.ModelConfig config = io.tunestream.model.onnx.ModelConfig.read(dir);
        PromptBuilder builder = new PromptBuilder(CHARS, config.bosTokenId());

        Prompt p = TuningExamples.of(List.of("{\"taskname\": \"qa\", \"question\": \"why\", \"answer\": \" so\"}"),
                QA.withAddBos(true), builder, 64, OptionalInt.of(config.eosTokenId())).prompts().get(0);

        assertThat(p.tokenIds()).startsWith(1, -1, -1).endsWith(2);
    }
}

package io.tunestream.model.prompt;

import io.tunestream.model.TestModels;
import io.tunestream.model.tokenize.HuggingFaceTextTokenizer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class PromptBuilderTest {

    private static HuggingFaceTextTokenizer tokenizer;
    private static PromptBuilder builder;

    private static final Map<String, String> SQUAD_FIELDS = Map.of("taskname", "squad",
            "context", "Kamiro lives in Talenburg. Kamiro works as a pilot.", "question", "Where does Kamiro live?",
            "answer", " Talenburg");

    @BeforeAll
    static void load() {
        tokenizer = HuggingFaceTextTokenizer.load(TestModels.model("tiny-gpt2"));
        builder = new PromptBuilder(tokenizer);
    }

    @AfterAll
    static void close() {
        tokenizer.close();
    }

    private static int[] concat(int[]... parts) {
        return java.util.Arrays.stream(parts).flatMapToInt(IntStream::of).toArray();
    }

    @Test
    void shouldPutVirtualRowsWhereTheMarkersAreAndLeaveTheAnswerOutAtInference() {
        Prompt p = builder.build(TaskTemplate.squad("squad", 3), SQUAD_FIELDS, PromptMode.INFERENCE, 256);

        int[] text = tokenizer.encode("Context: Kamiro lives in Talenburg. Kamiro works as a pilot.\n\nQuestion: "
                + "Where does Kamiro live?\n\nAnswer:");
        assertThat(p.tokenIds()).containsExactly(concat(new int[]{-1, -1, -1}, text));
        assertThat(p.virtualRows()).startsWith(0, 1, 2).containsOnlyOnce(0, 1, 2);
        assertThat(p.answerLength()).isZero();
        assertThat(p.length()).isEqualTo(3 + text.length);
    }

    @Test
    void shouldGiveTheVirtualTokensAndTheTextBeforeTheFirstFieldAsTheSharedStart() {
        TaskTemplate template = new TaskTemplate("qa", "<|VIRTUAL_PROMPT_0|>  Read this.<|VIRTUAL_PROMPT_1|> Context: "
                + "{context}\nQuestion: {question}\nAnswer: {answer}", List.of("context", "question", "answer"), false,
                "answer", null, List.of(2, 1), 3);

        Prompt start = builder.sharedStart(template);

        // the whitespace touching a marker is dropped, the space before the field kept (build tokenizes it with the field)
        assertThat(start.tokenIds()).containsExactly(concat(new int[] {-1, -1}, tokenizer.encode("Read this."),
                new int[] {-1}, tokenizer.encode("Context: ")));
        assertThat(start.virtualRows()).containsExactly(concat(new int[] {0, 1},
                IntStream.generate(() -> -1).limit(tokenizer.encode("Read this.").length).toArray(), new int[] {2},
                IntStream.generate(() -> -1).limit(tokenizer.encode("Context: ").length).toArray()));
        assertThat(start.answerLength()).isZero();
        // a row's prompt starts with every position of it but the last, the space BPE merges into " Kamiro"
        Prompt row = builder.build(template, SQUAD_FIELDS, PromptMode.INFERENCE, 256);
        int shared = start.length() - 1;
        assertThat(java.util.Arrays.copyOf(row.tokenIds(), shared)).containsExactly(java.util.Arrays.copyOf(start.tokenIds(), shared));
        assertThat(row.tokenIds()[shared]).isNotEqualTo(start.tokenIds()[shared]);
    }

    @Test
    void shouldPutTheModelsBosFirstOnlyForATemplateWithAddBos() {
        PromptBuilder withBosId = new PromptBuilder(tokenizer, java.util.OptionalInt.of(7));
        TaskTemplate squad = TaskTemplate.squad("squad", 3);

        Prompt plain = withBosId.build(squad, SQUAD_FIELDS, PromptMode.INFERENCE, 256);
        Prompt bos = withBosId.build(squad.withAddBos(true), SQUAD_FIELDS, PromptMode.INFERENCE, 256);
        Prompt bosTraining = withBosId.build(squad.withAddBos(true), SQUAD_FIELDS, PromptMode.TRAINING, 256);

        assertThat(plain.tokenIds()).containsExactly(builder.build(squad, SQUAD_FIELDS, PromptMode.INFERENCE, 256).tokenIds());
        assertThat(bos.tokenIds()).containsExactly(concat(new int[] {7}, plain.tokenIds()));
        assertThat(bos.virtualRows()).startsWith(-1, 0, 1, 2);
        assertThat(bosTraining.tokenIds()).startsWith(7, -1, -1, -1);
        assertThat(bosTraining.answerLength())
                .isEqualTo(builder.build(squad, SQUAD_FIELDS, PromptMode.TRAINING, 256).answerLength());
        // the shared start begins with BOS too, so the prefix cache keeps it apart from the template without
        assertThat(withBosId.sharedStart(squad.withAddBos(true)).tokenIds())
                .containsExactly(concat(new int[] {7}, withBosId.sharedStart(squad).tokenIds()));
    }

    @Test
    void shouldRefuseAnAddBosTemplateNamingTheTaskWhenTheModelHasNoBos() {
        TaskTemplate squad = TaskTemplate.squad("squad", 3).withAddBos(true);
        String message = "task 'squad': add_bos is set but the model has no BOS token (no bos_token_id in its "
                + "config.json or generation_config.json)";

        assertThatThrownBy(() -> builder.check(squad)).isInstanceOf(IllegalArgumentException.class).hasMessage(message);
        assertThatThrownBy(() -> builder.build(squad, SQUAD_FIELDS, PromptMode.INFERENCE, 256)).hasMessage(message);
        assertThatThrownBy(() -> builder.sharedStart(squad)).hasMessage(message);
        builder.check(TaskTemplate.squad("squad", 3));
    }

    @Test
    void shouldShareNothingWhenATemplateStartsWithAField() {
        TaskTemplate template = new TaskTemplate("plain", "{prompt}{answer}", List.of("prompt", "answer"), false, "answer",
                null, List.of(), 0);

        assertThat(builder.sharedStart(template).length()).isZero();
    }

    @Test
    void shouldTokenizeTheWholeStringAtTrainingWithTheAnswerLast() {
        Prompt inference = builder.build(TaskTemplate.squad("squad", 3), SQUAD_FIELDS, PromptMode.INFERENCE, 256);
        Prompt training = builder.build(TaskTemplate.squad("squad", 3), SQUAD_FIELDS, PromptMode.TRAINING, 256);

        // "Answer:" then " Talenburg": a pre-tokenizer boundary, so the whole string splits where the parts do
        int[] answer = tokenizer.encode(" Talenburg");
        assertThat(training.tokenIds()).containsExactly(concat(inference.tokenIds(), answer));
        assertThat(training.answerStart()).isEqualTo(inference.length());
        assertThat(training.answerLength()).isEqualTo(answer.length);
    }

    @Test
    void shouldStripTheSpaceBeforeAMissingAnswerAtInference() {
        TaskTemplate spaced = new TaskTemplate("qa", "<|VIRTUAL_PROMPT_0|> Q: {question} A: {answer}",
                List.of("question", "answer"), true, "answer", null, List.of(2), 2);

        Prompt p = builder.build(spaced, Map.of("question", "why?"), PromptMode.INFERENCE, 64);

        // NeMo blanks {answer} and strips the string (gpt_prompt_learning_dataset.py line 250)
        assertThat(p.realTokenIds()).containsExactly(tokenizer.encode("Q: why? A:"));
    }

    @Test
    void shouldBlankAnAnswerInTheMiddleAtInferenceWhenAnswerOnlyLossIsFalse() {
        TaskTemplate middle = new TaskTemplate("qa", "{answer} is the answer to {question}",
                List.of("answer", "question"), false, "answer", null, List.of(), 0);

        Prompt p = builder.build(middle, Map.of("question", "why?"), PromptMode.INFERENCE, 64);

        assertThat(p.realTokenIds()).containsExactly(tokenizer.encode("is the answer to why?"));
    }

    @Test
    void shouldNeverReadPlaceholdersInsideAFieldsValue() {
        TaskTemplate qa = new TaskTemplate("qa", "{context} Q: {question}", List.of("context", "question"), false,
                null, null, List.of(), 0);

        Prompt p = builder.build(qa, Map.of("context", "see {question} <|VIRTUAL_PROMPT_0|>", "question", "why?"),
                PromptMode.INFERENCE, 64);

        assertThat(p.realTokenIds()).containsExactly(tokenizer.encode("see {question} <|VIRTUAL_PROMPT_0|> Q: why?"));
        assertThat(p.virtualRows()).containsOnly(-1);
    }

    @Test
    void shouldGiveEachMarkerTheNextRowsOfItsSplit() {
        TaskTemplate two = new TaskTemplate("two", "<|VIRTUAL_PROMPT_1|> a {x} b <|VIRTUAL_PROMPT_0|>{y}",
                List.of("x", "y"), true, "y", null, List.of(2, 3), 5);

        Prompt p = builder.build(two, Map.of("x", "cat"), PromptMode.INFERENCE, 64);

        int[] text = tokenizer.encode("a cat b");
        assertThat(p.virtualRows()).containsExactly(concat(new int[]{2, 3, 4}, IntStream.generate(() -> -1)
                .limit(text.length).toArray(), new int[]{0, 1}));
        assertThat(p.realTokenIds()).containsExactly(text);
    }

    @Test
    void shouldCutTheTruncateFieldsLastTokensByTheExcess() {
        Prompt full = builder.build(TaskTemplate.squad("squad", 3), SQUAD_FIELDS, PromptMode.INFERENCE, 256);

        Prompt cut = builder.build(TaskTemplate.squad("squad", 3), SQUAD_FIELDS, PromptMode.INFERENCE, full.length() - 5);

        int[] context = tokenizer.encode(" Kamiro lives in Talenburg. Kamiro works as a pilot.");
        int[] question = tokenizer.encode("\n\nQuestion: Where does Kamiro live?\n\nAnswer:");
        int[] head = tokenizer.encode("Context:");
        assertThat(cut.tokenIds()).containsExactly(concat(new int[]{-1, -1, -1}, head,
                java.util.Arrays.copyOf(context, context.length - 5), question));
    }

    @Test
    void shouldNameTheUnknownField() {
        assertThatThrownBy(() -> builder.build(TaskTemplate.squad("squad", 3), Map.of("context", "c", "question", "q",
                "title", "t"), PromptMode.INFERENCE, 256))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("task 'squad': unknown field 'title' (template fields: [context, question, answer])");
    }

    @Test
    void shouldNameTheMissingField() {
        assertThatThrownBy(() -> builder.build(TaskTemplate.squad("squad", 3), Map.of("context", "c"),
                PromptMode.INFERENCE, 256))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("task 'squad': missing field 'question'");
    }

    @Test
    void shouldRequireTheAnswerAtTraining() {
        assertThatThrownBy(() -> builder.build(TaskTemplate.squad("squad", 3), Map.of("context", "c", "question", "q"),
                PromptMode.TRAINING, 256))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("task 'squad': missing field 'answer' (the answer, required for training)");
    }

    @Test
    void shouldFailWhenEvenAnEmptyTruncateFieldDoesNotFit() {
        assertThatThrownBy(() -> builder.build(TaskTemplate.squad("squad", 3), SQUAD_FIELDS, PromptMode.INFERENCE, 8))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("task 'squad': prompt is ")
                .hasMessageEndingWith(" tokens with truncate_field 'context' emptied, more than the 8 allowed");
    }

    @Test
    void shouldFailToTruncateWithoutATruncateField() {
        TaskTemplate noTruncate = new TaskTemplate("echo", "{text}{answer}", List.of("text", "answer"), false, "answer",
                null, List.of(), 0);
        int length = tokenizer.encode("one two three four five six").length;

        assertThatThrownBy(() -> builder.build(noTruncate, Map.of("text", "one two three four five six"),
                PromptMode.INFERENCE, 3))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("task 'echo': prompt is " + length + " tokens, more than the 3 allowed, and the template has no "
                        + "truncate_field");
    }
}

package io.tunestream.model.prompt;

import io.tunestream.model.TestModels;
import io.tunestream.model.tokenize.HuggingFaceTextTokenizer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Token ids of NeMo v1.15.0's prompt-learning dataset for NeMo's own example templates, on
 * models/demo-gpt2's tokenizer (BOS = EOS = {@code <|endoftext|>}, id 0).
 *
 * <p>Pinned release: NVIDIA/NeMo v1.15.0 (8c785ec5d1dadd952535bd0f68c614f935cbe99c). Templates:
 * examples/nlp/language_modeling/conf/megatron_gpt_prompt_learning_config.yaml lines 70-100.
 * Algorithm: nemo/collections/nlp/data/language_modeling/megatron/gpt_prompt_learning_dataset.py,
 * load_data lines 133-188 (the whole assembled string tokenized at line 158; add_bos line 161,
 * add_eos line 163), _insert_text_in_template lines 239-252 (a missing field, the answer at
 * inference, is blanked and the string stripped: no trailing space token before generation),
 * _truncate_input lines 267-287, _find_answer_start lines 289-303, _add_leading_space lines 305-312.
 *
 * <p>The expected ids were produced by tools/references/nemo_prompt_ids.py, which runs that NeMo
 * code on a separate Python implementation of the slow GPT-2 tokenizer NeMo uses (pseudo tokens as
 * special tokens, whitespace stripped around them), not by the Java code. Virtual positions are -1.
 * NeMo appends EOS at training (add_eos, default true); Tunestream's tuning code appends it
 * (TuningExamples), so the training ids here are NeMo's without the final 0, and NeMo's
 * answer_start (which counts the EOS) is the same index.
 */
class PromptBuilderNemoTest {

    private static final int V = -1;
    private static HuggingFaceTextTokenizer tokenizer;
    private static PromptBuilder builder;

    // megatron_gpt_prompt_learning_config.yaml lines 71-100; prompt_template_fields derived as NeMo does
    private static final TaskTemplate BOOLQ = new TaskTemplate("boolq",
            "<|VIRTUAL_PROMPT_0|> Passage: {passage} <|VIRTUAL_PROMPT_1|> \nQuestion: {question} \nAnswer: {answer}",
            List.of("passage", "question", "answer"), true, "answer", "passage", List.of(20, 10), 30);
    private static final TaskTemplate INTENT_AND_SLOT = new TaskTemplate("intent_and_slot",
            "<|VIRTUAL_PROMPT_0|> intent options: {intent_options} <|VIRTUAL_PROMPT_1|> slot options: {slot_options} "
                    + "<|VIRTUAL_PROMPT_2|> {utterance} \nintent: {intent} \nslot: {slot}",
            List.of("intent_options", "slot_options", "utterance", "intent", "slot"), false, null, null,
            List.of(15, 10, 5), 30);
    private static final TaskTemplate RTE = new TaskTemplate("rte",
            "<|VIRTUAL_PROMPT_0|>{premise}\n{hypothesis}\nAnswer: {answer}",
            List.of("premise", "hypothesis", "answer"), true, "answer", null, List.of(9), 9);
    private static final TaskTemplate SQUAD = new TaskTemplate("squad",
            "<|VIRTUAL_PROMPT_0|> context: {context} question: {question} answer: {answer}",
            List.of("context", "question", "answer"), true, "answer", null, List.of(10), 10);

    private static final Map<String, String> BOOLQ_DOC = Map.of("taskname", "boolq",
            "passage", "Kamiro lives in Talenburg. Kamiro works as a pilot.",
            "question", "does Kamiro live in Talenburg?", "answer", "yes");
    private static final Map<String, String> INTENT_DOC = Map.of("taskname", "intent_and_slot",
            "intent_options", "alarm_set, weather_query", "slot_options", "time, place",
            "utterance", "wake me up at 7 am", "intent", "alarm_set", "slot", "time(7 am)");
    private static final Map<String, String> RTE_DOC = Map.of("taskname", "rte", "premise", "Kamiro works as a pilot.",
            "hypothesis", "Kamiro flies planes.", "answer", "entailment");
    private static final Map<String, String> SQUAD_DOC = Map.of("taskname", "squad",
            "context", "Kamiro lives in Talenburg.", "question", "Where does Kamiro live?", "answer", "Talenburg");

    @BeforeAll
    static void load() {
        tokenizer = HuggingFaceTextTokenizer.load(TestModels.model("demo-gpt2"));
        // demo-gpt2's bos_token_id: BOS only for templates with add_bos
        builder = new PromptBuilder(tokenizer, OptionalInt.of(0));
    }

    @AfterAll
    static void close() {
        tokenizer.close();
    }

    private static int[] virtual(int n) {
        return IntStream.generate(() -> V).limit(n).toArray();
    }

    private static int[] ids(int[]... parts) {
        return java.util.Arrays.stream(parts).flatMapToInt(IntStream::of).toArray();
    }

    @Test
    void shouldTokenizeBoolqAtTrainingAsNemo() {
        Prompt p = builder.build(BOOLQ, BOOLQ_DOC, PromptMode.TRAINING, 2048);

        // NeMo: ... 221, 89, 328, 0 with answer_start 73: " yes" is [221, 89, 328] (_add_leading_space,
        // the template has "Answer: {answer}")
        assertThat(p.tokenIds()).containsExactly(ids(virtual(20),
                new int[]{48, 65, 83, 319, 378, 26, 385, 599, 295, 294, 359, 610, 14, 385, 599, 293, 291, 258, 492, 14},
                virtual(10),
                new int[]{49, 85, 328, 84, 73, 79, 78, 26, 329, 385, 599, 279, 294, 359, 610, 31, 221, 199, 624, 83, 87,
                        304, 26, 221, 89, 328}));
        assertThat(p.answerStart()).isEqualTo(73);
        assertThat(p.virtualRows()).startsWith(IntStream.range(0, 20).toArray());
        assertThat(java.util.Arrays.copyOfRange(p.virtualRows(), 40, 50)).containsExactly(IntStream.range(20, 30).toArray());
    }

    @Test
    void shouldEndBoolqAtAnswerColonAtInferenceWithBos() {
        Prompt p = builder.build(BOOLQ.withAddBos(true), BOOLQ_DOC, PromptMode.INFERENCE, 2048);

        // "\nAnswer: {answer}" with the answer left out is stripped to "\nAnswer:" (line 250): ends at 26 (":"),
        // no 221 (" ") token before generation; BOS (0) first, before the virtual tokens (line 162)
        assertThat(p.tokenIds()).containsExactly(ids(new int[]{0}, virtual(20),
                new int[]{48, 65, 83, 319, 378, 26, 385, 599, 295, 294, 359, 610, 14, 385, 599, 293, 291, 258, 492, 14},
                virtual(10),
                new int[]{49, 85, 328, 84, 73, 79, 78, 26, 329, 385, 599, 279, 294, 359, 610, 31, 221, 199, 624, 83, 87,
                        304, 26}));
        assertThat(p.answerLength()).isZero();
        assertThat(p.virtualRows()[0]).isEqualTo(-1);
        assertThat(p.virtualRows()[1]).isZero();
    }

    @Test
    void shouldTrainIntentAndSlotOnTheWholePromptAndGenerateAfterIt() {
        int[] expected = ids(virtual(15),
                new int[]{495, 330, 84, 221, 79, 80, 84, 73, 79, 78, 83, 26, 258, 76, 522, 63, 83, 277, 12, 274, 69, 398,
                        508, 63, 81, 85, 304, 89},
                virtual(10),
                new int[]{83, 413, 84, 221, 79, 80, 84, 73, 79, 78, 83, 26, 347, 464, 69, 12, 265, 404, 69},
                virtual(5),
                new int[]{87, 65, 333, 221, 77, 69, 221, 85, 80, 258, 84, 221, 23, 258, 77, 221, 199, 495, 330, 84, 26, 258,
                        76, 522, 63, 83, 277, 221, 199, 83, 413, 84, 26, 347, 464, 69, 8, 23, 258, 77, 9});

        Prompt training = builder.build(INTENT_AND_SLOT, INTENT_DOC, PromptMode.TRAINING, 2048);
        Prompt inference = builder.build(INTENT_AND_SLOT.withAddBos(true), INTENT_DOC, PromptMode.INFERENCE, 2048);

        // no answer_field, answer_only_loss False: NeMo's answer_start is None (loss on every non-virtual token)
        assertThat(training.tokenIds()).containsExactly(expected);
        assertThat(training.answerLength()).isZero();
        assertThat(inference.tokenIds()).containsExactly(ids(new int[]{0}, expected));
    }

    @Test
    void shouldTokenizeRteAsNemo() {
        Prompt training = builder.build(RTE, RTE_DOC, PromptMode.TRAINING, 2048);
        Prompt inference = builder.build(RTE.withAddBos(true), RTE_DOC, PromptMode.INFERENCE, 2048);

        int[] prompt = {857, 599, 293, 291, 258, 492, 14, 199, 857, 599, 270, 268, 328, 265, 76, 299, 328, 14, 199, 624,
                83, 87, 304, 26};
        assertThat(training.tokenIds()).containsExactly(ids(virtual(9), prompt,
                new int[]{221, 330, 326, 303, 77, 330, 84}));
        assertThat(training.answerStart()).isEqualTo(33);
        assertThat(inference.tokenIds()).containsExactly(ids(new int[]{0}, virtual(9), prompt));
    }

    @Test
    void shouldTokenizeSquadAsNemo() {
        Prompt training = builder.build(SQUAD, SQUAD_DOC, PromptMode.TRAINING, 2048);
        Prompt inference = builder.build(SQUAD.withAddBos(true), SQUAD_DOC, PromptMode.INFERENCE, 2048);

        int[] prompt = {67, 79, 78, 84, 69, 88, 84, 26, 385, 599, 295, 294, 359, 610, 14, 221, 81, 85, 328, 84, 73, 79, 78,
                26, 550, 329, 385, 599, 279, 31, 258, 78, 83, 87, 304, 26};
        assertThat(training.tokenIds()).containsExactly(ids(virtual(10), prompt, new int[]{359, 610}));
        assertThat(training.answerStart()).isEqualTo(46);
        assertThat(inference.tokenIds()).containsExactly(ids(new int[]{0}, virtual(10), prompt));
    }

    @Test
    void shouldTruncateBoolqsPassageAsNemo() {
        // NeMo with max_seq_length 74 and add_eos: the passage's last 3 tokens (258, 492, 14) go; answer_start 70.
        // Tunestream leaves room for the EOS its tuning code appends, so the builder gets 73.
        Prompt p = builder.build(BOOLQ, BOOLQ_DOC, PromptMode.TRAINING, 73);

        assertThat(p.tokenIds()).containsExactly(ids(virtual(20),
                new int[]{48, 65, 83, 319, 378, 26, 385, 599, 295, 294, 359, 610, 14, 385, 599, 293, 291},
                virtual(10),
                new int[]{49, 85, 328, 84, 73, 79, 78, 26, 329, 385, 599, 279, 294, 359, 610, 31, 221, 199, 624, 83, 87,
                        304, 26, 221, 89, 328}));
        assertThat(p.answerStart()).isEqualTo(70);
        assertThat(java.util.Arrays.copyOfRange(p.virtualRows(), 37, 47)).containsExactly(IntStream.range(20, 30).toArray());
    }

    @Test
    void shouldTokenizeTheAnswerTogetherWithThePromptAndCountItsTokensAlone() {
        // A boundary inside a word: NeMo tokenizes "Word: Kamiro" whole, [.., 385 " Kam"..., 599]; the answer
        // "iro" alone is 2 tokens ([73, 314]), so NeMo's answer span is the last 2 tokens of the whole string,
        // [385, 599], which starts in the prompt. Tokenizing the answer apart would give [.., 385, 77, 73, 314].
        TaskTemplate word = new TaskTemplate("word", "<|VIRTUAL_PROMPT_0|> Word: {stem}{answer}",
                List.of("stem", "answer"), true, "answer", null, List.of(1), 1);
        Map<String, String> doc = new HashMap<>(Map.of("stem", "Kam", "answer", "iro"));

        Prompt p = builder.build(word, doc, PromptMode.TRAINING, 64);

        assertThat(p.tokenIds()).containsExactly(V, 55, 257, 68, 26, 385, 599);
        assertThat(p.answerStart()).isEqualTo(5);
    }
}

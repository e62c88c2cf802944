package io.tunestream.trainer.run;

import static org.assertj.core.api.Assertions.assertThat;

import io.tunestream.schemas.TaskTemplate;
import io.tunestream.schemas.template.TemplateRules;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * What the template rule (schemas) accepts, the model's template accepts too: nothing accepted at
 * ingest is refused when the trainer or serving builds prompts. The templates are NeMo v1.15.0's
 * examples (examples/nlp/language_modeling/conf/megatron_gpt_prompt_learning_config.yaml lines
 * 70-100) and the edge cases NeMo allows: an answer in the middle without answer_only_loss, markers
 * out of order, a field repeated.
 */
class TemplateRuleAgreementTest {

    private static TaskTemplate template(String task, String prompt, List<Integer> splits, boolean answerOnlyLoss,
                                         String answer, String truncate) {
        return TaskTemplate.newBuilder().setTask(task).setPromptTemplate(prompt)
                .setPromptTemplateFields(TemplateRules.fields(prompt)).setVirtualTokenSplits(splits)
                .setTotalVirtualTokens(splits.stream().mapToInt(Integer::intValue).sum())
                .setAnswerOnlyLoss(answerOnlyLoss).setAnswerField(answer).setTruncateField(truncate).build();
    }

    static Stream<TaskTemplate> accepted() {
        return Stream.of(
                template("boolq", "<|VIRTUAL_PROMPT_0|> Passage: {passage} <|VIRTUAL_PROMPT_1|> \nQuestion: {question} "
                        + "\nAnswer: {answer}", List.of(20, 10), true, "answer", "passage"),
                template("intent_and_slot", "<|VIRTUAL_PROMPT_0|> intent options: {intent_options} <|VIRTUAL_PROMPT_1|> "
                        + "slot options: {slot_options} <|VIRTUAL_PROMPT_2|> {utterance} \nintent: {intent} \nslot: {slot}",
                        List.of(15, 10, 5), false, null, null),
                template("rte", "<|VIRTUAL_PROMPT_0|>{premise}\n{hypothesis}\nAnswer: {answer}", List.of(9), true,
                        "answer", null),
                template("squad", "<|VIRTUAL_PROMPT_0|> context: {context} question: {question} answer: {answer}",
                        List.of(10), true, "answer", null),
                template("middle", "{answer} is the answer to {question}", List.of(), false, "answer", "question"),
                template("reversed", "<|VIRTUAL_PROMPT_1|> {a} <|VIRTUAL_PROMPT_0|> {b} {a}{c}", List.of(2, 3), true,
                        "c", "a"));
    }

    @ParameterizedTest
    @MethodSource("accepted")
    void shouldBuildTheModelTemplateOfEveryTemplateTheRuleAccepts(TaskTemplate template) {
        assertThat(TemplateRules.problems(template)).isEmpty();

        var model = ModelTaskRunner.modelTemplate(template);

        assertThat(model.promptTemplateFields()).isEqualTo(template.getPromptTemplateFields());
        assertThat(model.totalVirtualTokens()).isEqualTo(template.getTotalVirtualTokens());
        assertThat(model.addBos()).isFalse();
        template.setAddBos(true);
        assertThat(ModelTaskRunner.modelTemplate(template).addBos()).isTrue();
    }
}

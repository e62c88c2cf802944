package io.tunestream.ingest.template;

import static org.assertj.core.api.Assertions.assertThat;

import io.tunestream.schemas.TaskTemplate;
import java.util.List;
import org.junit.jupiter.api.Test;

class TemplateRulesTest {

    private static TaskTemplate.Builder squad() {
        return TaskTemplate.newBuilder().setTask("squad")
                .setPromptTemplate("<|VIRTUAL_PROMPT_0|> Context: {context}\n\nQuestion: {question}\n\nAnswer:{answer}")
                .setPromptTemplateFields(List.of("context", "question", "answer"))
                .setVirtualTokenSplits(List.of(10)).setTotalVirtualTokens(10)
                .setAnswerField("answer").setTruncateField("context");
    }

    @Test
    void shouldAcceptNemosSquadTemplate() {
        assertThat(TemplateRules.problems(squad().build())).isEmpty();
    }

    @Test
    void shouldRefuseATaskNameWithASlashBecauseExampleKeysUseIt() {
        assertThat(TemplateRules.problems(squad().setTask("qa/fr").build())).containsExactly(
                "task 'qa/fr': task name 'qa/fr' must not contain '/' (it separates the task from the example id in "
                        + "the keys of the examples topic)");
    }

    @Test
    void shouldAcceptSeveralMarkersWithOneSplitEach() {
        TaskTemplate template = squad()
                .setPromptTemplate("<|VIRTUAL_PROMPT_0|> {context} <|VIRTUAL_PROMPT_1|> {question} Answer:{answer}")
                .setVirtualTokenSplits(List.of(6, 4)).build();

        assertThat(TemplateRules.problems(template)).isEmpty();
    }

    @Test
    void shouldRequireTheAnswerFieldLastWithAnswerOnlyLoss() {
        TaskTemplate template = squad().setPromptTemplate("<|VIRTUAL_PROMPT_0|> {answer} {context} {question}").build();

        assertThat(TemplateRules.problems(template)).containsExactly(
                "task 'squad': with answer_only_loss, the answer field {answer} must end prompt_template");
        assertThat(TemplateRules.problems(squad().setPromptTemplate("<|VIRTUAL_PROMPT_0|> {answer} {context} {question}")
                .setAnswerOnlyLoss(false).build())).isEmpty();
    }

    @Test
    void shouldRequireMarkersNumberedInOrder() {
        TaskTemplate template = squad()
                .setPromptTemplate("<|VIRTUAL_PROMPT_1|> {context} <|VIRTUAL_PROMPT_0|> {question} Answer:{answer}")
                .setVirtualTokenSplits(List.of(5, 5)).build();

        assertThat(TemplateRules.problems(template)).containsExactly("task 'squad': virtual prompt markers must be "
                + "numbered <|VIRTUAL_PROMPT_0|>, <|VIRTUAL_PROMPT_1|>, … in order, but marker 1 is <|VIRTUAL_PROMPT_1|>");
    }

    @Test
    void shouldReportListedFieldsTheTemplateDoesNotUseAndAnAnswerFieldNotListed() {
        TaskTemplate template = squad().setPromptTemplateFields(List.of("context", "question", "answer", "title"))
                .setAnswerField("label").build();

        assertThat(TemplateRules.problems(template)).containsExactly(
                "task 'squad': prompt_template_fields lists 'title', which prompt_template does not use",
                "task 'squad': answer_field 'label' is not one of prompt_template_fields [context, question, answer, title]");
    }

    @Test
    void shouldRequireAnAnswerFieldWithAnswerOnlyLoss() {
        assertThat(TemplateRules.problems(squad().setAnswerField(null).build()))
                .containsExactly("task 'squad': answer_only_loss is true, but answer_field is not set");
    }
}

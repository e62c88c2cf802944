package io.tunestream.model.prompt;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class TaskTemplateTest {

    @Test
    void shouldAcceptNemosSquadTemplate() {
        TaskTemplate squad = TaskTemplate.squad("squad", 10);
        assertThat(squad.promptTemplate())
                .isEqualTo("<|VIRTUAL_PROMPT_0|> Context: {context}\n\nQuestion: {question}\n\nAnswer:{answer}");
        assertThat(squad.totalVirtualTokens()).isEqualTo(10);
        assertThat(squad.truncateField()).isEqualTo("context");
    }

    @Test
    void shouldRejectAnAnswerFieldThatDoesNotEndTheTemplateWithAnswerOnlyLoss() {
        assertThatThrownBy(() -> new TaskTemplate("qa", "{answer} is the answer to {question}", List.of("answer", "question"),
                true, "answer", null, List.of(), 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("task 'qa': with answer_only_loss, prompt_template must end with the answer field {answer}");
    }

    @Test
    void shouldAcceptAnAnswerFieldAnywhereWithoutAnswerOnlyLossAsNemo() {
        // NeMo v1.15.0 gpt_prompt_learning_dataset.py lines 227-237: the "Answer field must be at prompt end"
        // assert runs only when answer_only_loss is true
        TaskTemplate t = new TaskTemplate("qa", "{answer} is the answer to {question}", List.of("answer", "question"),
                false, "answer", null, List.of(), 0);

        assertThat(t.answerField()).isEqualTo("answer");
    }

    @Test
    void shouldRejectSplitsThatDoNotSumToTheTotal() {
        assertThatThrownBy(() -> new TaskTemplate("qa", "<|VIRTUAL_PROMPT_0|>{q}<|VIRTUAL_PROMPT_1|>{a}", List.of("q", "a"),
                true, "a", null, List.of(4, 4), 10))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("task 'qa': virtual_token_splits [4, 4] sum to 8, not total_virtual_tokens 10");
    }

    @Test
    void shouldRejectAMarkerWithoutASplit() {
        assertThatThrownBy(() -> new TaskTemplate("qa", "<|VIRTUAL_PROMPT_0|>{q}<|VIRTUAL_PROMPT_1|>{a}", List.of("q", "a"),
                true, "a", null, List.of(4), 4))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("task 'qa': prompt_template has <|VIRTUAL_PROMPT_1|> but virtual_token_splits [4] has no entry 1");
    }

    @Test
    void shouldRejectAPlaceholderMissingFromTheFields() {
        assertThatThrownBy(() -> new TaskTemplate("qa", "{context} {question}{answer}", List.of("question", "answer"),
                true, "answer", null, List.of(), 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("task 'qa': prompt_template has placeholder {context} missing from prompt_template_fields "
                        + "[question, answer]");
    }

    @Test
    void shouldRejectTruncatingTheAnswer() {
        assertThatThrownBy(() -> new TaskTemplate("qa", "{q}{a}", List.of("q", "a"), true, "a", "a", List.of(), 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("task 'qa': truncate_field and answer_field are both 'a'");
    }

    @Test
    void shouldRequireAnAnswerFieldForAnswerOnlyLoss() {
        assertThatThrownBy(() -> new TaskTemplate("qa", "{q}", List.of("q"), true, null, null, List.of(), 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("task 'qa': answer_only_loss is set but there is no answer_field");
    }

    @Test
    void shouldDropTheMarkersForThePlainTemplate() {
        TaskTemplate plain = TaskTemplate.squad("squad", 10).withoutVirtualTokens();
        assertThat(plain.promptTemplate()).isEqualTo("Context: {context}\n\nQuestion: {question}\n\nAnswer:{answer}");
        assertThat(plain.virtualTokenSplits()).isEmpty();
        assertThat(plain.totalVirtualTokens()).isZero();
    }
}

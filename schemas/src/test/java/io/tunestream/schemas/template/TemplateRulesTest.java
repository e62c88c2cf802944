package io.tunestream.schemas.template;

import static org.assertj.core.api.Assertions.assertThat;

import io.tunestream.schemas.PromptEncoderType;
import io.tunestream.schemas.TaskTemplate;
import io.tunestream.schemas.TuningSettings;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The template rule, against NeMo v1.15.0 ({@code gpt_prompt_learning_dataset.py}
 * {@code _input_sanity_checks}, lines 194-237; {@code megatron_gpt_prompt_learning_model.py}
 * {@code load_task_templates}, lines 198-224).
 */
class TemplateRulesTest {

    private static TaskTemplate.Builder squad() {
        return TaskTemplate.newBuilder().setTask("squad")
                .setPromptTemplate("<|VIRTUAL_PROMPT_0|> Context: {context}\n\nQuestion: {question}\n\nAnswer:{answer}")
                .setPromptTemplateFields(List.of("context", "question", "answer"))
                .setVirtualTokenSplits(List.of(10)).setTotalVirtualTokens(10)
                .setAnswerOnlyLoss(true).setAnswerField("answer").setTruncateField("context");
    }

    @Test
    void shouldAcceptNemosSquadTemplate() {
        assertThat(TemplateRules.problems(squad().build())).isEmpty();
    }

    @Test
    void shouldDeriveFieldsAsNemoDoesInTemplateOrderEachOnce() {
        // model file line 213: re.findall("\{(.*?)\}", prompt_template)
        assertThat(TemplateRules.fields("<|VIRTUAL_PROMPT_0|> intent options: {intent_options} <|VIRTUAL_PROMPT_1|> "
                + "slot options: {slot_options} <|VIRTUAL_PROMPT_2|> {utterance} \nintent: {intent} \nslot: {slot}"))
                .containsExactly("intent_options", "slot_options", "utterance", "intent", "slot");
        assertThat(TemplateRules.fields("{a} and {b} then {a}")).containsExactly("a", "b");
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
    void shouldRequireTheAnswerFieldLastOnlyWithAnswerOnlyLoss() {
        TaskTemplate template = squad().setPromptTemplate("<|VIRTUAL_PROMPT_0|> {answer} {context} {question}")
                .setPromptTemplateFields(List.of("answer", "context", "question")).build();

        assertThat(TemplateRules.problems(template)).containsExactly(
                "task 'squad': with answer_only_loss, the answer field {answer} must end prompt_template");
        // dataset file lines 227-237: the "Answer field must be at prompt end" assert runs only with answer_only_loss
        assertThat(TemplateRules.problems(TaskTemplate.newBuilder(template).setAnswerOnlyLoss(false).build())).isEmpty();
    }

    @Test
    void shouldAcceptATemplateWithoutAnswerFieldWhenAnswerOnlyLossIsFalse() {
        // NeMo's intent_and_slot example: no answer_field, answer_only_loss False
        TaskTemplate template = squad().setPromptTemplate("<|VIRTUAL_PROMPT_0|> {utterance} \nintent: {intent}")
                .setPromptTemplateFields(List.of("utterance", "intent")).setAnswerOnlyLoss(false).setAnswerField(null)
                .setTruncateField(null).build();

        assertThat(TemplateRules.problems(template)).isEmpty();
    }

    @Test
    void shouldAcceptMarkersInAnyOrderAsNemoReplacesThemByNumber() {
        // dataset file lines 254-265: marker idx takes pseudo tokens split_start..split_end of its own split
        TaskTemplate template = squad()
                .setPromptTemplate("<|VIRTUAL_PROMPT_1|> {context} <|VIRTUAL_PROMPT_0|> {question} Answer:{answer}")
                .setVirtualTokenSplits(List.of(5, 5)).build();

        assertThat(TemplateRules.problems(template)).isEmpty();
    }

    @Test
    void shouldRefuseARepeatedOrMissingMarkerNumber() {
        TaskTemplate template = squad()
                .setPromptTemplate("<|VIRTUAL_PROMPT_0|> {context} <|VIRTUAL_PROMPT_0|> {question} Answer:{answer}")
                .setVirtualTokenSplits(List.of(5, 5)).build();

        assertThat(TemplateRules.problems(template)).containsExactly("task 'squad': virtual prompt markers must be "
                + "<|VIRTUAL_PROMPT_0|> … <|VIRTUAL_PROMPT_1|>, each once, but the template has numbers [0, 0]");
    }

    @Test
    void shouldReportFieldsThatDifferFromTheTemplateAndAnAnswerFieldNotInIt() {
        TaskTemplate template = squad().setPromptTemplateFields(List.of("context", "question", "answer", "title"))
                .setAnswerField("label").build();

        assertThat(TemplateRules.problems(template)).containsExactly(
                "task 'squad': prompt_template_fields [context, question, answer, title] differ from the fields of "
                        + "prompt_template [context, question, answer] (NeMo derives them from the template; leave the key out)",
                "task 'squad': answer_field 'label' is not a field of prompt_template [context, question, answer]");
    }

    @Test
    void shouldRequireAnAnswerFieldWithAnswerOnlyLoss() {
        assertThat(TemplateRules.problems(squad().setAnswerField(null).build()))
                .containsExactly("task 'squad': answer_only_loss is true, but answer_field is not set");
    }

    @Test
    void shouldRefuseEncodersNemoCannotBuild() {
        // NeMo v1.15.0 prompt_encoder.py: an MLP needs 2 layers; dropout is the LSTM's lstm_dropout only
        TaskTemplate template = squad().setTuning(TuningSettings.newBuilder().setEncoderType(PromptEncoderType.MLP)
                .setEncoderLayers(1).setDropout(0.1f).build()).build();

        assertThat(TemplateRules.problems(template)).containsExactly(
                "task 'squad': tuning.encoder_layers of the mlp encoder must be at least 2 (as NeMo), got 1",
                "task 'squad': tuning.dropout applies only between LSTM layers (as NeMo), but the mlp encoder has "
                        + "dropout 0.1");
        assertThat(TemplateRules.problems(squad().setTuning(TuningSettings.newBuilder()
                .setEncoderType(PromptEncoderType.LSTM).setEncoderLayers(1).setDropout(0.1f).build()).build())).isEmpty();
    }

    @Test
    void shouldRefuseVirtualTokensThatFillMaxSeqLength() {
        // dataset file line 207: assert total_virtual_tokens < self.max_seq_length
        assertThat(TemplateRules.problems(squad().setMaxSeqLength(10).build())).containsExactly(
                "task 'squad': max_seq_length 10 leaves no room for the prompt after 10 virtual tokens");
    }

    @Test
    void shouldAcceptPrefixTuningWithARandomStart() {
        var template = squad().setTuning(io.tunestream.schemas.TuningSettings.newBuilder()
                .setVirtualPromptStyle(io.tunestream.schemas.VirtualPromptStyle.PREFIX_TUNING).build()).build();

        assertThat(TemplateRules.problems(template)).isEmpty();
    }

    @Test
    void shouldRefusePrefixTuningStartedFromTokenEmbeddings() {
        var template = squad().setTuning(io.tunestream.schemas.TuningSettings.newBuilder()
                .setVirtualPromptStyle(io.tunestream.schemas.VirtualPromptStyle.PREFIX_TUNING)
                .setInit(io.tunestream.schemas.PromptInit.VOCAB).build()).build();

        assertThat(TemplateRules.problems(template)).containsExactly("task 'squad': tuning.init must be random or text "
                + "with prefix-tuning (the prefix holds keys and values of every layer, not token embeddings), got vocab");
    }

    @Test
    void shouldAcceptPrefixTuningStartedFromTheKeysAndValuesOfAText() {
        var template = squad().setTuning(io.tunestream.schemas.TuningSettings.newBuilder()
                .setVirtualPromptStyle(io.tunestream.schemas.VirtualPromptStyle.PREFIX_TUNING)
                .setInit(io.tunestream.schemas.PromptInit.TEXT).setInitText("Answer with words of the context.").build())
                .build();

        assertThat(TemplateRules.problems(template)).isEmpty();
    }

    @Test
    void shouldRefuseATextInitWithoutTextOrWithThePrefixProjection() {
        var blank = squad().setTuning(io.tunestream.schemas.TuningSettings.newBuilder()
                .setVirtualPromptStyle(io.tunestream.schemas.VirtualPromptStyle.PREFIX_TUNING)
                .setInit(io.tunestream.schemas.PromptInit.TEXT).setInitText(" ").build()).build();
        var projected = squad().setTuning(io.tunestream.schemas.TuningSettings.newBuilder()
                .setVirtualPromptStyle(io.tunestream.schemas.VirtualPromptStyle.PREFIX_TUNING).setPrefixProjection(true)
                .setInit(io.tunestream.schemas.PromptInit.TEXT).setInitText("Answer.").build()).build();

        assertThat(TemplateRules.problems(blank)).containsExactly("task 'squad': tuning.init text needs a non-blank "
                + "init_text (its keys and values start the prefix)");
        assertThat(TemplateRules.problems(projected)).containsExactly("task 'squad': tuning.init text starts the prefix "
                + "itself, so it cannot be used with prefix_projection (whose MLP starts from a random input, as PEFT's)");
    }

    @Test
    void shouldAcceptThePrefixProjectionOnlyForPrefixTuningWithAnMlpOfTwoLayersOrMore() {
        var projected = squad().setTuning(io.tunestream.schemas.TuningSettings.newBuilder()
                .setVirtualPromptStyle(io.tunestream.schemas.VirtualPromptStyle.PREFIX_TUNING).setPrefixProjection(true)
                .setEncoderHidden(256).build()).build();
        var oneLayer = squad().setTuning(io.tunestream.schemas.TuningSettings.newBuilder()
                .setVirtualPromptStyle(io.tunestream.schemas.VirtualPromptStyle.PREFIX_TUNING).setPrefixProjection(true)
                .setEncoderLayers(1).build()).build();
        var pTuning = squad().setTuning(io.tunestream.schemas.TuningSettings.newBuilder()
                .setVirtualPromptStyle(io.tunestream.schemas.VirtualPromptStyle.P_TUNING).setPrefixProjection(true)
                .build()).build();

        assertThat(TemplateRules.problems(projected)).isEmpty();
        assertThat(TemplateRules.problems(oneLayer)).containsExactly("task 'squad': tuning.encoder_layers of the prefix "
                + "projection (an MLP) must be at least 2, got 1");
        assertThat(TemplateRules.problems(pTuning)).containsExactly("task 'squad': tuning.prefix_projection applies to "
                + "prefix-tuning only, but virtual_prompt_style is p-tuning");
    }

    @Test
    void shouldRefuseAddBosOnlyOnAModelWithoutABosToken() {
        TaskTemplate withBos = squad().setAddBos(true).build();

        assertThat(TemplateRules.problems(withBos)).isEmpty();
        assertThat(TemplateRules.problemsOnModel(withBos, true)).isEmpty();
        assertThat(TemplateRules.problemsOnModel(withBos, false)).containsExactly("task 'squad': add_bos is set but the "
                + "model has no BOS token (no bos_token_id in its config.json or generation_config.json)");
        assertThat(TemplateRules.problemsOnModel(squad().build(), false)).isEmpty();
    }
}

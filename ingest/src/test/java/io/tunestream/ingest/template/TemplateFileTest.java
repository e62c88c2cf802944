package io.tunestream.ingest.template;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.tunestream.schemas.PromptEncoderType;
import io.tunestream.schemas.PromptInit;
import io.tunestream.schemas.TaskTemplate;
import io.tunestream.schemas.VirtualPromptStyle;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TemplateFileTest {

    @TempDir
    Path dir;

    private Path write(String name, String text) throws IOException {
        return Files.writeString(dir.resolve(name), text);
    }

    @Test
    void shouldReadTheShippedTemplatesOfBothDatasets() {
        Path file = Path.of(System.getProperty("tunestream.home"), "data", "templates.yaml");

        List<TaskTemplate> templates = TemplateFile.read(file, 1234L);

        assertThat(templates).extracting(TaskTemplate::getTask).containsExactly("squad", "assistant");
        TaskTemplate squad = templates.get(0);
        assertThat(squad.getPromptTemplate())
                .isEqualTo("<|VIRTUAL_PROMPT_0|> Context: {context}\n\nQuestion: {question}\n\nAnswer:{answer}");
        assertThat(squad.getPromptTemplateFields()).containsExactly("context", "question", "answer");
        assertThat(squad.getVirtualTokenSplits()).containsExactly(10);
        assertThat(squad.getTotalVirtualTokens()).isEqualTo(10);
        assertThat(squad.getAnswerField()).isEqualTo("answer");
        assertThat(squad.getTruncateField()).isEqualTo("context");
        assertThat(squad.getAnswerOnlyLoss()).isTrue();
        assertThat(squad.getTuning().getVirtualPromptStyle()).isEqualTo(VirtualPromptStyle.PREFIX_TUNING);
        assertThat(squad.getTuning().getPrefixProjection()).isTrue();
        assertThat(squad.getTuning().getLearningRate()).isEqualTo(3e-3);
        assertThat(squad.getTuning().getEncoderHidden()).isEqualTo(256);
        assertThat(squad.getTuning().getMaxEpochs()).isEqualTo(3);
        assertThat(squad.getAllowBaseModel()).isTrue();
        assertThat(squad.getUpdatedAtMillis()).isEqualTo(1234L);
        TaskTemplate assistant = templates.get(1);
        assertThat(assistant.getAnswerField()).isEqualTo("label");
        assertThat(assistant.getTruncateField()).isNull();
        assertThat(assistant.getMaxSeqLength()).isEqualTo(128);
        assertThat(assistant.getTuning().getVirtualPromptStyle()).isEqualTo(VirtualPromptStyle.PREFIX_TUNING);
        assertThat(assistant.getTuning().getInit()).isEqualTo(PromptInit.TEXT);
        assertThat(assistant.getTuning().getInitText())
                .isEqualTo("Read the context, then answer the question with words from the context.");
        assertThat(assistant.getTuning().getLearningRate()).isEqualTo(1e-1);
        assertThat(assistant.getTuning().getMaxEpochs()).isEqualTo(4);
    }

    @Test
    void shouldReadANemoConfigWithTemplatesUnderModelAndKeepSchemaDefaults() throws IOException {
        Path file = write("config.yaml", """
                name: megatron_virtual_prompt_gpt
                model:
                  virtual_prompt_style: p-tuning
                  task_templates:
                  - taskname: sentiment
                    prompt_template: "<|VIRTUAL_PROMPT_0|> {sentence} sentiment:{label}"
                    total_virtual_tokens: 4
                    virtual_token_splits: [4]
                    truncate_field: sentence
                    answer_only_loss: true
                    answer_field: label
                    prompt_template_fields: [sentence, label]
                    tuning:
                      encoder_type: mlp
                      num_layers: 3
                      learning_rate: 1e-3
                    retraining:
                      min_new_examples: 8
                """);

        TaskTemplate template = TemplateFile.read(file, 0L).get(0);

        assertThat(template.getTask()).isEqualTo("sentiment");
        assertThat(template.getTuning().getEncoderType()).isEqualTo(PromptEncoderType.MLP);
        assertThat(template.getTuning().getEncoderLayers()).isEqualTo(3);
        assertThat(template.getTuning().getLearningRate()).isEqualTo(1e-3);
        assertThat(template.getTuning().getEncoderHidden()).isEqualTo(2048);
        assertThat(template.getRetraining().getMinNewExamples()).isEqualTo(8);
        assertThat(template.getRetraining().getMaxDelayMillis()).isEqualTo(600_000L);
        assertThat(template.getMaxSeqLength()).isEqualTo(256);
    }

    @Test
    void shouldReadPrefixTuningAsTheDeepPromptStyleWithItsInitAndProjectionAndRefuseAVocabInit() throws IOException {
        String entry = """
                - taskname: deep
                  prompt_template: "<|VIRTUAL_PROMPT_0|> {sentence} sentiment:{label}"
                  total_virtual_tokens: 4
                  virtual_token_splits: [4]
                  answer_field: label
                  tuning:
                    virtual_prompt_style: prefix-tuning
                """;

        TaskTemplate template = TemplateFile.read(write("deep.yaml", entry), 0L).get(0);

        assertThat(template.getTuning().getVirtualPromptStyle()).isEqualTo(VirtualPromptStyle.PREFIX_TUNING);
        assertThat(template.getTuning().getPrefixProjection()).isFalse();
        TaskTemplate text = TemplateFile.read(write("deep-text.yaml", entry + "    init: text\n"
                + "    init_text: positive or negative\n"), 0L).get(0);
        assertThat(text.getTuning().getInit()).isEqualTo(PromptInit.TEXT);
        assertThat(text.getTuning().getInitText()).isEqualTo("positive or negative");
        assertThat(TemplateFile.read(write("deep-mlp.yaml", entry + "    prefix_projection: true\n"
                + "    encoder_hidden: 64\n"), 0L).get(0).getTuning().getPrefixProjection()).isTrue();
        assertThatThrownBy(() -> TemplateFile.read(write("deep-vocab.yaml", entry + "    init: vocab\n"), 0L))
                .hasMessageContaining("task 'deep': tuning.init must be random or text with prefix-tuning");
    }

    @Test
    void shouldReadAJsonListOfTemplates() throws IOException {
        Path file = write("templates.json", """
                [{"taskname": "t", "prompt_template": "<|VIRTUAL_PROMPT_0|>{q}{a}", "prompt_template_fields": ["q", "a"],
                  "total_virtual_tokens": 2, "virtual_token_splits": [2], "answer_field": "a"}]
                """);

        assertThat(TemplateFile.read(file, 0L)).extracting(TaskTemplate::getTask).containsExactly("t");
    }

    @Test
    void shouldReportEveryProblemNamingFileEntryAndTask() throws IOException {
        Path file = write("bad.yaml", """
                task_templates:
                  - taskname: squad
                    prompt_template: "<|VIRTUAL_PROMPT_0|> {context} {question} Answer:{answer}"
                    prompt_template_fields: [context, answer]
                    total_virtual_tokens: 10
                    virtual_token_splits: [4, 4]
                    answer_field: answer
                    truncate_field: passage
                  - taskname: typo
                    prompt_template: "<|VIRTUAL_PROMPT_0|> {x}"
                    prompt_template_fields: [x]
                    total_virtual_tokens: 1
                    virtual_token_splits: [1]
                    answer_only_loss: false
                    learning_rate: 0.1
                """);

        assertThatThrownBy(() -> TemplateFile.read(file, 0L))
                .isInstanceOfSatisfying(TemplateFileException.class, e -> assertThat(e.problems()).containsExactly(
                        file + ": task_templates[0] (task 'squad'): task 'squad': prompt_template has 1 "
                                + "<|VIRTUAL_PROMPT_n|> marker(s), but virtual_token_splits has 2 entries [4, 4] "
                                + "(one split per marker)",
                        file + ": task_templates[0] (task 'squad'): task 'squad': virtual_token_splits [4, 4] sum to 8, "
                                + "but total_virtual_tokens is 10",
                        file + ": task_templates[0] (task 'squad'): task 'squad': prompt_template_fields [context, "
                                + "answer] differ from the fields of prompt_template [context, question, answer] (NeMo "
                                + "derives them from the template; leave the key out)",
                        file + ": task_templates[0] (task 'squad'): task 'squad': truncate_field 'passage' is not a "
                                + "field of prompt_template [context, question, answer]",
                        file + ": task_templates[1] (task 'typo'): unknown key 'learning_rate'"));
    }

    @Test
    void shouldNameAnUnknownKeyOfANemoTemplate() throws IOException {
        Path file = write("typo.yaml", """
                task_templates:
                  - taskname: rte
                    prompt_template: "<|VIRTUAL_PROMPT_0|>{premise}\\n{hypothesis}\\nAnswer: {answer}"
                    total_virtual_tokens: 9
                    virtual_token_splits: [9]
                    truncate_field: null
                    answer_only_loss: True
                    answer_feild: "answer"
                """);

        assertThatThrownBy(() -> TemplateFile.read(file, 0L))
                .isInstanceOfSatisfying(TemplateFileException.class, e -> assertThat(e.problems()).containsExactly(
                        file + ": task_templates[0] (task 'rte'): unknown key 'answer_feild'"));
    }

    /**
     * NVIDIA/NeMo v1.15.0 (8c785ec5d1dadd952535bd0f68c614f935cbe99c),
     * examples/nlp/language_modeling/conf/megatron_gpt_prompt_learning_config.yaml, copied whole
     * into src/test/resources/nemo-v1.15.0; its task_templates block is lines 70-100. No entry has
     * prompt_template_fields (NeMo derives them, megatron_gpt_prompt_learning_model.py line 213);
     * intent_and_slot has no answer_field and answer_only_loss False.
     */
    @Test
    void shouldLoadNemosExampleConfigVerbatim() throws Exception {
        Path file = Path.of(TemplateFileTest.class.getResource(
                "/nemo-v1.15.0/megatron_gpt_prompt_learning_config.yaml").toURI());

        List<TaskTemplate> templates = TemplateFile.read(file, 0L);

        assertThat(templates).extracting(TaskTemplate::getTask).containsExactly("boolq", "intent_and_slot", "rte", "squad");
        TaskTemplate boolq = templates.get(0);
        assertThat(boolq.getPromptTemplate()).isEqualTo("<|VIRTUAL_PROMPT_0|> Passage: {passage} <|VIRTUAL_PROMPT_1|> "
                + "\nQuestion: {question} \nAnswer: {answer}");
        assertThat(boolq.getPromptTemplateFields()).containsExactly("passage", "question", "answer");
        assertThat(boolq.getVirtualTokenSplits()).containsExactly(20, 10);
        assertThat(boolq.getTruncateField()).isEqualTo("passage");
        assertThat(boolq.getAnswerOnlyLoss()).isTrue();
        TaskTemplate intentAndSlot = templates.get(1);
        assertThat(intentAndSlot.getPromptTemplateFields())
                .containsExactly("intent_options", "slot_options", "utterance", "intent", "slot");
        assertThat(intentAndSlot.getAnswerField()).isNull();
        assertThat(intentAndSlot.getAnswerOnlyLoss()).isFalse();
        assertThat(intentAndSlot.getTruncateField()).isNull();
        assertThat(templates.get(2).getPromptTemplate()).isEqualTo("<|VIRTUAL_PROMPT_0|>{premise}\n{hypothesis}\nAnswer: {answer}");
        assertThat(templates.get(3).getPromptTemplateFields()).containsExactly("context", "question", "answer");
    }

    @Test
    void shouldDefaultAnswerOnlyLossToFalseAsNemo() throws IOException {
        // megatron_gpt_prompt_learning_model.py line 214: task.get("answer_only_loss", False)
        Path file = write("plain.yaml", """
                task_templates:
                  - taskname: echo
                    prompt_template: "<|VIRTUAL_PROMPT_0|> {text} => {answer}"
                    total_virtual_tokens: 2
                    virtual_token_splits: [2]
                    answer_field: answer
                """);

        assertThat(TemplateFile.read(file, 0L).get(0).getAnswerOnlyLoss()).isFalse();
    }

    @Test
    void shouldReportAMissingTaskTemplatesList() throws IOException {
        Path file = write("empty.yaml", "model:\n  precision: 16\n");

        assertThatThrownBy(() -> TemplateFile.read(file, 0L))
                .hasMessage(file + ": no task_templates list (expected at the top level or under model:, as in a NeMo "
                        + "prompt-learning config)");
    }

    @Test
    void shouldReportMissingKeysAndWrongTypes() throws IOException {
        Path file = write("types.yaml", """
                task_templates:
                  - taskname: t
                    prompt_template: "<|VIRTUAL_PROMPT_0|> {x}"
                    prompt_template_fields: [x]
                    virtual_token_splits: [one]
                    answer_only_loss: "yes"
                """);

        assertThatThrownBy(() -> TemplateFile.read(file, 0L))
                .isInstanceOfSatisfying(TemplateFileException.class, e -> assertThat(e.problems()).containsExactly(
                        file + ": task_templates[0] (task 't'): missing required key 'total_virtual_tokens'",
                        file + ": task_templates[0] (task 't'): 'virtual_token_splits' must be an integer, was \"one\"",
                        file + ": task_templates[0] (task 't'): 'answer_only_loss' must be true or false, was \"yes\""));
    }

    @Test
    void shouldReadAddBosAndDefaultItToFalseAsNemo() throws IOException {
        // NeMo's model.data.add_bos, default false (gpt_prompt_learning_dataset.py lines 161-162)
        Path file = write("bos.yaml", """
                task_templates:
                  - taskname: with_bos
                    prompt_template: "<|VIRTUAL_PROMPT_0|> {text} => {answer}"
                    total_virtual_tokens: 2
                    virtual_token_splits: [2]
                    answer_field: answer
                    add_bos: true
                  - taskname: without
                    prompt_template: "<|VIRTUAL_PROMPT_0|> {text} => {answer}"
                    total_virtual_tokens: 2
                    virtual_token_splits: [2]
                    answer_field: answer
                """);

        List<TaskTemplate> templates = TemplateFile.read(file, 0L);

        assertThat(templates.get(0).getAddBos()).isTrue();
        assertThat(templates.get(1).getAddBos()).isFalse();
    }
}

package io.tunestream.model.tune;

import io.tunestream.model.TestModels;
import io.tunestream.model.generate.GenerationOptions;
import io.tunestream.model.generate.GenerationRequest;
import io.tunestream.model.generate.Generator;
import io.tunestream.model.onnx.DecoderModel;
import io.tunestream.model.onnx.RuntimeConfig;
import io.tunestream.model.prompt.TaskTemplate;
import io.tunestream.model.tokenize.HuggingFaceTextTokenizer;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;

class ExactMatchTest {

    @Test
    void shouldCountACompletionEqualToTheAnswerUpToSurroundingWhitespace() {
        Path dir = TestModels.model("tiny-gpt2");
        TaskTemplate template = TaskTemplate.squad("squad", 4);
        Map<String, String> fields = Map.of("context", "Naan has a pet horse.", "question", "What pet does Naan have?");
        try (HuggingFaceTextTokenizer tokenizer = HuggingFaceTextTokenizer.load(dir);
             DecoderModel model = DecoderModel.load(dir, RuntimeConfig.cpu(1))) {
            Generator generator = Generator.withDefaults(model, tokenizer);
            String said = generator.generate(List.of(new GenerationRequest("0", template.withoutVirtualTokens(), fields,
                    Optional.empty(), GenerationOptions.greedy(3).withStopStrings(List.of("\n")), false))).get(0).text();

            ExactMatch em = ExactMatch.evaluate(generator, template, List.of(
                    withAnswer(fields, "  " + said.strip() + " "),
                    withAnswer(fields, said + " and more")), Optional.empty(), 3, 2);

            assertThat(em.correct()).isEqualTo(1);
            assertThat(em.total()).isEqualTo(2);
            assertThat(em.score()).isEqualTo(0.5);
            assertThat(em.failures()).isEmpty();
            // what each example got, in order: what TuneCommand writes beside the expected answers
            assertThat(em.completions()).containsExactly(said, said);
        }
    }

    @Test
    void shouldNormalizeOnlyWhitespace() {
        assertThat(ExactMatch.normalize("  intent: set_alarm \n slots:  time=noon ")).isEqualTo("intent: set_alarm slots: time=noon");
        assertThat(ExactMatch.normalize("Lenronaburg.")).isNotEqualTo(ExactMatch.normalize("Lenronaburg"));
    }

    private static Map<String, String> withAnswer(Map<String, String> fields, String answer) {
        Map<String, String> m = new java.util.HashMap<>(fields);
        m.put("answer", answer);
        return m;
    }
}

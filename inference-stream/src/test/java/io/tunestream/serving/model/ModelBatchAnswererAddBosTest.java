package io.tunestream.serving.model;

import static org.assertj.core.api.Assertions.assertThat;

import io.tunestream.model.generate.GenerationRequest;
import io.tunestream.model.generate.Generator;
import io.tunestream.model.onnx.RuntimeConfig;
import io.tunestream.model.prompt.PromptBuilder;
import io.tunestream.model.prompt.PromptMode;
import io.tunestream.model.prompt.TaskTemplate;
import io.tunestream.model.prompt.VirtualTokenTable;
import io.tunestream.serving.batch.BatchItem;
import io.tunestream.serving.batch.BatchOutcome;
import io.tunestream.serving.testing.Fixtures;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A template with {@code addBos} is served with the model's BOS token first (the fixtures' {@code bos_token_id} is
 * 0, {@code <|endoftext|>}), through the prefix cache, as the model runtime answers the same prompt built by hand.
 */
class ModelBatchAnswererAddBosTest {

    private static final Map<String, String> FIELDS = Map.of("context", "Ada lives in Paris.",
            "question", "Where does Ada live?");

    @ParameterizedTest
    @ValueSource(strings = {"tiny-llama", "demo-gpt2"})
    void shouldServeAnAddBosTemplateWithTheModelsBosFirst(String name) {
        Path dir = Path.of(System.getProperty("tunestream.home", "../")).resolve("models").resolve(name);
        try (ModelBatchAnswerer answerer = ModelBatchAnswerer.load(dir, RuntimeConfig.cpu(1))) {
            int hidden = answerer.model().hiddenSize();
            var adapter = Fixtures.adapter("squad", 1, answerer.model().fingerprint(), hidden, 4);
            io.tunestream.schemas.TaskTemplate withBos = Fixtures.squad("squad", 4);
            withBos.setAddBos(true);
            var plainItem = new BatchItem(Fixtures.squadRequest("plain", "squad"), Fixtures.squad("squad", 4),
                    Optional.of(adapter));
            var bosItem = new BatchItem(Fixtures.squadRequest("bos", "squad"), withBos, Optional.of(adapter));

            List<BatchOutcome> outcomes = answerer.answer(List.of(plainItem, bosItem));
            // twice: the second run takes the starts from the prefix cache
            List<BatchOutcome> again = answerer.answer(List.of(plainItem, bosItem));

            // the same request written for the model runtime by hand, BOS id 0 given literally
            TaskTemplate handTemplate = new TaskTemplate("squad", Fixtures.SQUAD_TEMPLATE,
                    List.of("context", "question", "answer"), false, "answer", "context", List.of(4), 4, true);
            int[] handIds = new PromptBuilder(answerer.tokenizerForBenchmarks(), OptionalInt.of(0))
                    .build(handTemplate, FIELDS, PromptMode.INFERENCE, 128).tokenIds();
            float[][] rows = new float[4][hidden];
            for (float[] row : rows) {
                java.util.Arrays.fill(row, 0.1f);
            }
            var direct = Generator.withDefaults(answerer.modelForBenchmarks(), answerer.tokenizerForBenchmarks())
                    .generate(List.of(new GenerationRequest("bos", handTemplate, FIELDS,
                            Optional.of(VirtualTokenTable.of("squad", rows, answerer.model().fingerprint())),
                            io.tunestream.model.generate.GenerationOptions.greedy(8), false))).get(0);

            assertThat(answerer.model().hasBos()).isTrue();
            assertThat(outcomes).allSatisfy(o -> assertThat(o).isInstanceOf(BatchOutcome.Generated.class));
            var plain = (BatchOutcome.Generated) outcomes.get(0);
            var bos = (BatchOutcome.Generated) outcomes.get(1);
            assertThat(handIds).startsWith(0, -1, -1, -1, -1);
            assertThat(bos.promptTokens()).isEqualTo(handIds.length).isEqualTo(plain.promptTokens() + 1);
            assertThat(bos.text()).isEqualTo(direct.text());
            assertThat(bos.completionTokens()).isEqualTo(direct.completionTokens());
            assertThat(again).isEqualTo(outcomes);
        }
    }
}

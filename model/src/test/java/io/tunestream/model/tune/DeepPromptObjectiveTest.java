package io.tunestream.model.tune;

import io.tunestream.model.TestModels;
import io.tunestream.model.onnx.DecoderModel;
import io.tunestream.model.onnx.DeepPromptTrainingSession;
import io.tunestream.model.onnx.ModelConfig;
import io.tunestream.model.onnx.RuntimeConfig;
import io.tunestream.model.prompt.Prompt;
import io.tunestream.model.prompt.PromptBuilder;
import io.tunestream.model.prompt.TaskTemplate;
import io.tunestream.model.tokenize.HuggingFaceTextTokenizer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/** Prefix tuning through {@link PromptTuner} on tiny-gpt2 with NeMo's SQuAD template (no virtual-token slots). */
class DeepPromptObjectiveTest {

    private static final int VIRTUAL = 4;
    private static DeepPromptTrainingSession session;
    private static TuningExamples train;
    private static TuningExamples validation;
    private static float[] candidates;
    private static int width;

    @BeforeAll
    static void open() {
        Path dir = TestModels.model("tiny-gpt2");
        ModelConfig config = ModelConfig.read(dir);
        session = DeepPromptTrainingSession.open(dir, RuntimeConfig.cpu(1));
        width = session.rowWidth();
        TaskTemplate template = TaskTemplate.squad("squad", VIRTUAL).withoutVirtualTokens();
        try (HuggingFaceTextTokenizer tokenizer = HuggingFaceTextTokenizer.load(dir);
             DecoderModel model = DecoderModel.load(dir, RuntimeConfig.cpu(1))) {
            PromptBuilder builder = new PromptBuilder(tokenizer);
            Path data = TestModels.home().resolve("data/squad");
            train = TuningExamples.read(data.resolve("train.jsonl"), template, builder, config.maxPositions() - VIRTUAL,
                    OptionalInt.of(config.eosTokenId())).limit(8);
            validation = TuningExamples.read(data.resolve("validation.jsonl"), template, builder,
                    config.maxPositions() - VIRTUAL, OptionalInt.of(config.eosTokenId())).limit(4);
            // starting rows: the keys and values of real tokens
            candidates = model.keysAndValues(tokenizer.encode("Answer the question from the context."));
        }
    }

    @AfterAll
    static void close() {
        session.close();
    }

    private static TaskTuning<Prompt> task(PromptEncoderConfig encoder, List<Prompt> validationPrompts) {
        return new TaskTuning<>("squad", encoder, candidates, width, new int[0], train.prompts(), validationPrompts,
                Map.of(), new DeepPromptObjective(session, VIRTUAL, true));
    }

    private static TuningConfig config(int epochs) {
        return new TuningConfig(3e-2, 1e-3, 1, epochs, 2, 4, AdamW.NEMO_DEFAULTS, GradientClipping.NEMO_DEFAULT, 10, 0.0, 7);
    }

    @Test
    void shouldLowerTheLossOfTheExamplesItTunesOn() {
        PromptEncoderConfig encoder = PromptEncoderConfig.defaults(EncoderType.EMBEDDING, VIRTUAL);

        TaskResult result = new PromptTuner().tune(task(encoder, train.prompts()), config(4));

        List<EpochResult> epochs = result.report().epochs();
        assertThat(epochs).hasSize(4);
        assertThat(epochs.get(3).validationLoss()).isLessThan(epochs.get(0).validationLoss());
        assertThat(result.table()).hasSize(VIRTUAL * width);
    }

    /**
     * An MLP reparameterises the prefix while training (prefix tuning's prefix_projection); the result is the
     * plain prefix, folded: its loss is the best epoch's validation loss.
     */
    @Test
    void shouldFoldTheMlpReparameterisationIntoAPlainPrefix() {
        PromptEncoderConfig encoder = PromptEncoderConfig.defaults(EncoderType.MLP, VIRTUAL).withEncoderHidden(16);

        TaskResult result = new PromptTuner().tune(task(encoder, validation.prompts()), config(2));

        float[] prefix = result.table();
        assertThat(prefix).hasSize(VIRTUAL * width);
        assertThat(result.checkpoint().parameters().length).isGreaterThan(prefix.length);
        double loss = new DeepPromptObjective(session, VIRTUAL, true).loss(prefix, validation.prompts()).loss();
        assertThat(loss).isCloseTo(result.report().bestValidationLoss(), within(1e-5 * loss));
    }

    @Test
    void shouldRefuseAnExampleWithVirtualSlots() {
        Prompt withSlot = new Prompt("squad", new int[] {-1, 5, 6}, new int[] {0, -1, -1}, 2);
        DeepPromptObjective objective = new DeepPromptObjective(session, VIRTUAL, true);

        assertThatThrownBy(() -> objective.loss(new float[VIRTUAL * width], List.of(withSlot)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("task 'squad': a deep-prompt example has a virtual slot at position 0; build it from the "
                        + "template without virtual tokens");
    }
}

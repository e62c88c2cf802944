package io.tunestream.model.tune;

import io.tunestream.model.TestModels;
import io.tunestream.model.onnx.ModelConfig;
import io.tunestream.model.onnx.RuntimeConfig;
import io.tunestream.model.onnx.TrainingSession;
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
import java.util.Optional;
import java.util.OptionalInt;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** The tuner on a real decoder: tiny-gpt2 (random weights, 64 wide) with NeMo's SQuAD template. */
class DecoderTableObjectiveTest {

    private static final int VIRTUAL = 4;
    private static TrainingSession session;
    private static TuningExamples train;
    private static TuningExamples validation;
    private static float[] embeddings;
    private static int hidden;

    @BeforeAll
    static void open() {
        Path dir = TestModels.model("tiny-gpt2");
        ModelConfig config = ModelConfig.read(dir);
        hidden = config.hiddenSize();
        session = TrainingSession.open(dir, RuntimeConfig.cpu(1));
        TaskTemplate template = TaskTemplate.squad("squad", VIRTUAL);
        try (HuggingFaceTextTokenizer tokenizer = HuggingFaceTextTokenizer.load(dir)) {
            PromptBuilder builder = new PromptBuilder(tokenizer);
            Path data = TestModels.home().resolve("data/squad");
            train = TuningExamples.read(data.resolve("train.jsonl"), template, builder, config.maxPositions(),
                    OptionalInt.of(config.eosTokenId())).limit(8);
            validation = TuningExamples.read(data.resolve("validation.jsonl"), template, builder, config.maxPositions(),
                    OptionalInt.of(config.eosTokenId())).limit(4);
        }
        embeddings = new float[config.vocabSize() * hidden];
        SplittableRandom rng = new SplittableRandom(1);
        for (int i = 0; i < embeddings.length; i++) {
            embeddings[i] = (float) (0.02 * PromptEncoder.gaussian(rng));
        }
    }

    @AfterAll
    static void close() {
        session.close();
    }

    private static TaskTuning<Prompt> task(PromptEncoderConfig encoder, List<Prompt> validationPrompts) {
        return new TaskTuning<>("squad", encoder, embeddings, hidden, new int[0], train.prompts(), validationPrompts,
                Map.of(), new DecoderTableObjective(session, VIRTUAL, true));
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
        assertThat(result.report().bestEpoch()).isEqualTo(3);
    }

    @Test
    void shouldResumeOnTheDecoderExactlyAsAnUninterruptedRun() {
        PromptEncoderConfig encoder = PromptEncoderConfig.defaults(EncoderType.TPMLP, VIRTUAL).withEncoderHidden(32);
        PromptTuner tuner = new PromptTuner();

        TaskResult whole = tuner.tune(task(encoder, validation.prompts()), config(2));
        TaskResult first = tuner.tune(task(encoder, validation.prompts()), config(2), 3);
        TaskCheckpoint saved = CheckpointCodec.decode(CheckpointCodec.encode(first.checkpoint()));
        TaskResult rest = tuner.resume(task(encoder, validation.prompts()), saved, Long.MAX_VALUE);

        assertThat(first.report().stopReason()).isEqualTo(StopReason.STEP_BUDGET);
        assertThat(rest.checkpoint().parameters()).containsExactly(whole.checkpoint().parameters());
        assertThat(rest.table()).containsExactly(whole.table());
        assertThat(rest.report().epochs()).isEqualTo(whole.report().epochs());
    }

    @Test
    void shouldGiveEncoderParametersTheDirectionalDerivativeOfTheDecoderLoss() {
        PromptEncoderConfig cfg = new PromptEncoderConfig(EncoderType.LSTM, VIRTUAL, 16, 1, 0.0, 0.023,
                EmbeddingInit.VOCAB, Optional.empty());
        PromptEncoder encoder = PromptEncoder.of(cfg, hidden);
        SplittableRandom rng = new SplittableRandom(3);
        double[] p = encoder.initialParameters(VirtualTokenInit.rows(cfg, embeddings, hidden, new int[0], rng), rng);
        DecoderTableObjective objective = new DecoderTableObjective(session, VIRTUAL, true);
        List<Prompt> batch = train.prompts().subList(0, 2);

        PromptEncoder.EncoderPass pass = encoder.forward(p, null);
        TableObjective.Evaluation ev = objective.lossAndGradient(TableMath.toFloats(pass.table()), batch);
        double[] g = pass.backward(TableMath.toDoubles(ev.tableGradient()));
        double norm = 0;
        for (double v : g) {
            norm += v * v;
        }
        norm = Math.sqrt(norm);
        double h = 1e-2;
        double[] up = p.clone();
        double[] down = p.clone();
        for (int i = 0; i < p.length; i++) {
            up[i] += h * g[i] / norm;
            down[i] -= h * g[i] / norm;
        }
        double lossUp = objective.loss(TableMath.toFloats(encoder.table(up)), batch).loss();
        double lossDown = objective.loss(TableMath.toFloats(encoder.table(down)), batch).loss();

        assertThat(norm).isGreaterThan(1e-3);
        assertThat((lossUp - lossDown) / (2 * h)).isCloseTo(norm, within(0.02 * norm));
    }
}

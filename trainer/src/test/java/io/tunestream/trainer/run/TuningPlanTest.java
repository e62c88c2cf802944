package io.tunestream.trainer.run;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.tunestream.model.tune.EmbeddingInit;
import io.tunestream.model.tune.EncoderType;
import io.tunestream.schemas.PromptEncoderType;
import io.tunestream.schemas.PromptInit;
import io.tunestream.schemas.TaskTemplate;
import io.tunestream.schemas.TuningSettings;
import io.tunestream.schemas.VirtualPromptStyle;
import io.tunestream.trainer.testing.Fixtures;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class TuningPlanTest {

    @Test
    void shouldMapNemoSettingsToTheEncoderAndTheTuningConfig() {
        TaskTemplate template = Fixtures.template("qa").setTuning(TuningSettings.newBuilder()
                .setEncoderType(PromptEncoderType.LSTM).setEncoderHidden(32).setEncoderLayers(1).setDropout(0.1f)
                .setInit(PromptInit.TEXT).setInitText("answer yes").setLearningRate(3e-3).setMinLearningRate(1e-5)
                .setWarmupSteps(5).setWeightDecay(0.02).setMaxEpochs(4).setMicroBatchSize(2).setGlobalBatchSize(6)
                .setPatience(2).setMinDelta(0.01).setSeed(99).build()).build();
        TuningPlan plan = TuningPlan.of(template);
        assertThat(plan.encoder().type()).isEqualTo(EncoderType.LSTM);
        assertThat(plan.encoder().virtualTokens()).isEqualTo(4);
        assertThat(plan.encoder().encoderHidden()).isEqualTo(32);
        assertThat(plan.encoder().numLayers()).isEqualTo(1);
        assertThat(plan.encoder().dropout()).isEqualTo(0.1f);
        // init is prompt tuning's: a p-tuning encoder's input starts N(0, 1), as NeMo's nn.Embedding
        assertThat(plan.encoder().init()).isEqualTo(EmbeddingInit.NORMAL);
        assertThat(TuningPlan.of(Fixtures.template("qa").setTuning(TuningSettings.newBuilder()
                .setVirtualPromptStyle(VirtualPromptStyle.PROMPT_TUNING).setInit(PromptInit.TEXT).setInitText("answer yes")
                .build()).build()).encoder().init()).isEqualTo(EmbeddingInit.TEXT);
        assertThat(plan.encoder().initText()).isEqualTo(Optional.of("answer yes"));
        assertThat(plan.config().lr()).isEqualTo(3e-3);
        assertThat(plan.config().minLr()).isEqualTo(1e-5);
        assertThat(plan.config().warmupSteps()).isEqualTo(5);
        assertThat(plan.config().optimizer().weightDecay()).isEqualTo(0.02);
        assertThat(plan.config().optimizer().beta2()).isEqualTo(0.98);
        assertThat(plan.config().maxEpochs()).isEqualTo(4);
        assertThat(plan.config().microBatch()).isEqualTo(2);
        assertThat(plan.config().globalBatch()).isEqualTo(6);
        assertThat(plan.config().patience()).isEqualTo(2);
        assertThat(plan.config().minDelta()).isEqualTo(0.01);
        assertThat(plan.config().seed()).isEqualTo(99);
        assertThat(plan.config().clipping().maxNorm()).isEqualTo(1.0);
    }

    @Test
    void shouldUseTheEmbeddingEncoderForPromptTuning() {
        TaskTemplate template = Fixtures.template("qa").setTuning(Fixtures.smallTuning()
                .setVirtualPromptStyle(VirtualPromptStyle.PROMPT_TUNING).setEncoderType(PromptEncoderType.TPMLP).build())
                .build();
        assertThat(TuningPlan.of(template).encoder().type()).isEqualTo(EncoderType.EMBEDDING);
    }

    @Test
    void shouldTrainTheDeepPromptItselfStartedAtRandomForPrefixTuning() {
        TaskTemplate template = Fixtures.template("qa").setTuning(Fixtures.smallTuning()
                .setVirtualPromptStyle(VirtualPromptStyle.PREFIX_TUNING).setEncoderType(PromptEncoderType.MLP)
                .setInitStd(0.05f).build()).build();

        TuningPlan plan = TuningPlan.of(template);

        assertThat(plan.encoder().type()).isEqualTo(EncoderType.EMBEDDING);
        assertThat(plan.encoder().init()).isEqualTo(EmbeddingInit.RANDOM);
        assertThat(plan.encoder().initStd()).isEqualTo(0.05f);
    }

    @Test
    void shouldStartAPlainPrefixFromTheInitTextWhenAsked() {
        TaskTemplate template = Fixtures.template("qa").setTuning(Fixtures.smallTuning()
                .setVirtualPromptStyle(VirtualPromptStyle.PREFIX_TUNING).setInit(PromptInit.TEXT)
                .setInitText("Answer with words of the context.").build()).build();

        TuningPlan plan = TuningPlan.of(template);

        assertThat(plan.encoder().type()).isEqualTo(EncoderType.EMBEDDING);
        assertThat(plan.encoder().init()).isEqualTo(EmbeddingInit.TEXT);
        assertThat(plan.encoder().initText()).hasValue("Answer with words of the context.");
    }

    @Test
    void shouldTrainThePrefixThroughAnMlpFromAnN01InputWithThePrefixProjection() {
        TaskTemplate template = Fixtures.template("qa").setTuning(Fixtures.smallTuning()
                .setVirtualPromptStyle(VirtualPromptStyle.PREFIX_TUNING).setPrefixProjection(true)
                .setEncoderType(PromptEncoderType.LSTM).setEncoderHidden(48).setEncoderLayers(3).build()).build();

        TuningPlan plan = TuningPlan.of(template);

        // the template's encoder_type is p-tuning's: a prefix projection is PEFT's MLP, whatever it says
        assertThat(plan.encoder().type()).isEqualTo(EncoderType.MLP);
        assertThat(plan.encoder().encoderHidden()).isEqualTo(48);
        assertThat(plan.encoder().numLayers()).isEqualTo(3);
        assertThat(plan.encoder().init()).isEqualTo(EmbeddingInit.NORMAL);
        assertThat(TuningPlan.encoderType(template.getTuning())).isEqualTo(EncoderType.MLP);
    }

    @Test
    void shouldRefuseAPrefixStartedFromTheVocabularyOrAProjectionStartedFromText() {
        TaskTemplate vocab = Fixtures.template("qa").setTuning(Fixtures.smallTuning()
                .setVirtualPromptStyle(VirtualPromptStyle.PREFIX_TUNING).setInit(PromptInit.VOCAB).build()).build();
        TaskTemplate projectedText = Fixtures.template("qa").setTuning(Fixtures.smallTuning()
                .setVirtualPromptStyle(VirtualPromptStyle.PREFIX_TUNING).setPrefixProjection(true)
                .setInit(PromptInit.TEXT).setInitText("answer").build()).build();

        assertThatThrownBy(() -> TuningPlan.of(vocab)).hasMessage("task 'qa': tuning settings: prefix-tuning starts the "
                + "prefix at random or from a text's keys and values: init must be random or text, was vocab");
        assertThatThrownBy(() -> TuningPlan.of(projectedText)).hasMessage("task 'qa': tuning settings: init text cannot "
                + "start a prefix trained through prefix_projection (the MLP starts from a random input)");
    }

    @Test
    void shouldNameTheTaskWhenASettingIsOutOfRange() {
        TaskTemplate template = Fixtures.template("qa").setTuning(Fixtures.smallTuning().setMicroBatchSize(4)
                .setGlobalBatchSize(6).build()).build();
        assertThatThrownBy(() -> TuningPlan.of(template)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("task 'qa': tuning settings: global_batch_size (6) must be a positive multiple of "
                        + "micro_batch_size (4)");
    }
}

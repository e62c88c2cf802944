package io.tunestream.model.tune;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.Optional;
import java.util.SplittableRandom;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

class PromptEncoderTest {

    private static final int HIDDEN = 4;

    static Stream<Arguments> encoders() {
        return Stream.of(
                Arguments.of(EncoderType.EMBEDDING, 1, 0.0),
                Arguments.of(EncoderType.MLP, 2, 0.0),
                Arguments.of(EncoderType.MLP, 3, 0.0),
                Arguments.of(EncoderType.TPMLP, 2, 0.0),
                Arguments.of(EncoderType.LSTM, 1, 0.0),
                Arguments.of(EncoderType.LSTM, 2, 0.3));
    }

    private static PromptEncoderConfig config(EncoderType type, int layers, double dropout) {
        return new PromptEncoderConfig(type, 3, 6, layers, dropout, 0.5, EmbeddingInit.RANDOM, Optional.empty());
    }

    @ParameterizedTest(name = "{0} layers={1} dropout={2}")
    @MethodSource("encoders")
    void shouldGiveParameterGradientsEqualToCentralFiniteDifferences(EncoderType type, int layers, double dropout) {
        PromptEncoder encoder = PromptEncoder.of(config(type, layers, dropout), HIDDEN);
        SplittableRandom rng = new SplittableRandom(7);
        double[] rows = VirtualTokenInit.rows(encoder.config(), new float[HIDDEN], HIDDEN, new int[0], rng);
        double[] p = encoder.initialParameters(rows, rng);
        // biases start at zero for tpmlp; move them so every path is exercised
        for (int i = 0; i < p.length; i++) {
            p[i] += 0.1 * PromptEncoder.gaussian(rng);
        }
        double[] seed = new double[3 * HIDDEN];
        for (int i = 0; i < seed.length; i++) {
            seed[i] = PromptEncoder.gaussian(rng);
        }
        // same dropout masks in every pass: a fresh generator with the same seed
        double[] grad = encoder.forward(p, new SplittableRandom(11)).backward(seed);

        assertThat(grad).hasSize(encoder.layout().size());
        double eps = 1e-6;
        for (int i = 0; i < p.length; i++) {
            double keep = p[i];
            p[i] = keep + eps;
            double up = dot(encoder.forward(p, new SplittableRandom(11)).table(), seed);
            p[i] = keep - eps;
            double down = dot(encoder.forward(p, new SplittableRandom(11)).table(), seed);
            p[i] = keep;
            double numeric = (up - down) / (2 * eps);
            assertThat(grad[i]).as("d/d %s", nameOf(encoder.layout(), i)).isCloseTo(numeric, within(1e-6 + 1e-5 * Math.abs(numeric)));
        }
    }

    @ParameterizedTest(name = "{0} layers={1} dropout={2}")
    @MethodSource("encoders")
    void shouldProduceOneRowPerVirtualTokenAndNoDropoutWhenServing(EncoderType type, int layers, double dropout) {
        PromptEncoder encoder = PromptEncoder.of(config(type, layers, dropout), HIDDEN);
        SplittableRandom rng = new SplittableRandom(3);
        double[] p = encoder.initialParameters(
                VirtualTokenInit.rows(encoder.config(), new float[HIDDEN], HIDDEN, new int[0], rng), rng);

        double[] served = encoder.table(p);

        assertThat(served).hasSize(3 * HIDDEN);
        assertThat(encoder.table(p)).containsExactly(served);
        if (dropout > 0) {
            assertThat(encoder.forward(p, new SplittableRandom(1)).table()).isNotEqualTo(served);
        }
    }

    @Test
    void shouldComputeTpmlpAsLinearGeluLinearOnTheInputEmbedding() {
        PromptEncoderConfig cfg = new PromptEncoderConfig(EncoderType.TPMLP, 1, 1, 1, 0.0, 0.02,
                EmbeddingInit.RANDOM, Optional.empty());
        PromptEncoder encoder = PromptEncoder.of(cfg, 1);
        // input_embedding 2, first.weight 3, first.bias -1, second.weight 0.5, second.bias 0.25
        double[] p = {2, 3, -1, 0.5, 0.25};
        double a = 2 * 3 - 1;
        double gelu = 0.5 * a * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (a + 0.044715 * a * a * a)));

        assertThat(encoder.table(p)[0]).isCloseTo(gelu * 0.5 + 0.25, within(1e-12));
    }

    @Test
    void shouldInitialiseTpmlpWeightsWithInitStdAndZeroBiases() {
        PromptEncoderConfig cfg = PromptEncoderConfig.defaults(EncoderType.TPMLP, 10).withEncoderHidden(512);
        PromptEncoder encoder = PromptEncoder.of(cfg, 64);
        double[] p = encoder.initialParameters(new double[10 * 64], new SplittableRandom(5));

        ParameterLayout.Tensor w = encoder.layout().tensor("first.weight");
        double sq = 0;
        for (int i = 0; i < w.size(); i++) {
            sq += p[w.offset() + i] * p[w.offset() + i];
        }
        assertThat(Math.sqrt(sq / w.size())).isCloseTo(0.023, within(0.001));
        ParameterLayout.Tensor b = encoder.layout().tensor("first.bias");
        for (int i = 0; i < b.size(); i++) {
            assertThat(p[b.offset() + i]).isZero();
        }
    }

    @Test
    void shouldStartFromTheInitTextEmbeddingsRepeated() {
        PromptEncoderConfig cfg = PromptEncoderConfig.defaults(EncoderType.EMBEDDING, 3)
                .withInit(EmbeddingInit.TEXT, Optional.of("hi there"));
        float[] table = {0, 0, 1, 1, 2, 2, 3, 3};

        double[] rows = VirtualTokenInit.rows(cfg, table, 2, new int[]{3, 1}, new SplittableRandom(1));

        assertThat(rows).containsExactly(3, 3, 1, 1, 3, 3);
    }

    @Test
    void shouldDrawTheSameVocabularyRowsForTheSameSeed() {
        PromptEncoderConfig cfg = PromptEncoderConfig.defaults(EncoderType.EMBEDDING, 4);
        float[] table = new float[50 * 2];
        for (int i = 0; i < table.length; i++) {
            table[i] = i;
        }
        double[] a = VirtualTokenInit.rows(cfg, table, 2, new int[0], new SplittableRandom(9));
        double[] b = VirtualTokenInit.rows(cfg, table, 2, new int[0], new SplittableRandom(9));

        assertThat(a).containsExactly(b);
        for (int r = 0; r < 4; r++) {
            assertThat(a[2 * r + 1]).isEqualTo(a[2 * r] + 1);
            assertThat(a[2 * r] % 2).isZero();
        }
    }

    @Test
    void shouldGiveTheLstmEncoderHiddenUnitsPerDirectionAsNeMo() {
        // NeMo and PEFT: nn.LSTM(hidden_size=encoder_hidden, bidirectional=True), then an MLP head on 2 x encoder_hidden
        PromptEncoder encoder = PromptEncoder.of(PromptEncoderConfig.defaults(EncoderType.LSTM, 10)
                .withEncoderHidden(7).withNumLayers(2), 16);
        assertThat(encoder.layout().tensor("lstm.0.forward.w_input").shape()).containsExactly(16, 28);
        assertThat(encoder.layout().tensor("lstm.0.backward.w_hidden").shape()).containsExactly(7, 28);
        assertThat(encoder.layout().tensor("lstm.1.forward.w_input").shape()).containsExactly(14, 28);
        assertThat(encoder.layout().tensor("head.0.weight").shape()).containsExactly(14, 14);
        assertThat(encoder.layout().tensor("head.1.weight").shape()).containsExactly(14, 16);
    }

    @Test
    void shouldRejectTextInitWithoutText() {
        assertThatThrownBy(() -> PromptEncoderConfig.defaults(EncoderType.EMBEDDING, 10)
                .withInit(EmbeddingInit.TEXT, Optional.empty()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("init_method text needs a non-empty init_text");
    }

    @Test
    void shouldRefuseAnMlpEncoderWithOneLayerAsNemo() {
        // NeMo v1.15.0 prompt_encoder.py, PromptEncoder.__init__: ValueError for num_layers <= 1 with encoder_type mlp
        assertThatThrownBy(() -> PromptEncoderConfig.defaults(EncoderType.MLP, 10).withNumLayers(1))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("num_layers of the mlp encoder must be at least 2 (as NeMo), got 1");
    }

    @Test
    void shouldRefuseDropoutOutsideTheLstmAsNemo() {
        // NeMo v1.15.0: dropout is the LSTM's lstm_dropout; its MLP and TPMLP encoders have none
        assertThatThrownBy(() -> PromptEncoderConfig.defaults(EncoderType.TPMLP, 10).withDropout(0.1))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("dropout applies only between LSTM layers (as NeMo), but the tpmlp encoder has dropout 0.1");
        assertThatThrownBy(() -> PromptEncoderConfig.defaults(EncoderType.MLP, 10).withDropout(0.1))
                .hasMessageContaining("the mlp encoder has dropout 0.1");
        assertThat(PromptEncoderConfig.defaults(EncoderType.LSTM, 10).withDropout(0.1).dropout()).isEqualTo(0.1);
    }

    @Test
    void shouldStartAPTuningEncodersInputFromAStandardNormalAsNemo() {
        // NeMo v1.15.0: the p-tuning encoder's input is torch.nn.Embedding, initialised N(0, 1)
        PromptEncoderConfig cfg = PromptEncoderConfig.defaults(EncoderType.TPMLP, 100);
        assertThat(cfg.init()).isEqualTo(EmbeddingInit.NORMAL);
        assertThat(PromptEncoderConfig.defaults(EncoderType.EMBEDDING, 100).init()).isEqualTo(EmbeddingInit.VOCAB);

        double[] rows = VirtualTokenInit.rows(cfg, new float[64], 64, new int[0], new SplittableRandom(3));

        // 6400 draws: the sample standard deviation of N(0, 1) is within 1 +- 0.05 with overwhelming probability;
        // init_std (0.023) would be 40 times smaller
        double mean = java.util.Arrays.stream(rows).average().orElseThrow();
        double std = Math.sqrt(java.util.Arrays.stream(rows).map(v -> (v - mean) * (v - mean)).sum() / rows.length);
        assertThat(rows).hasSize(6400);
        assertThat(std).isBetween(0.95, 1.05);
        assertThat(mean).isBetween(-0.1, 0.1);
    }

    @Test
    void shouldParseNemoEncoderNames() {
        assertThat(EncoderType.parse("TpMlp")).isEqualTo(EncoderType.TPMLP);
        assertThatThrownBy(() -> EncoderType.parse("gru"))
                .hasMessage("unknown encoder_type 'gru', expected one of [embedding, mlp, tpmlp, lstm]");
    }

    private static double dot(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            s += a[i] * b[i];
        }
        return s;
    }

    private static String nameOf(ParameterLayout layout, int index) {
        for (ParameterLayout.Tensor t : layout.tensors()) {
            if (index >= t.offset() && index < t.offset() + t.size()) {
                return t.name() + "[" + (index - t.offset()) + "]";
            }
        }
        return "?";
    }
}

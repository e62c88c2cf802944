package io.tunestream.model.tune;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * NeMo's {@code mlp} encoder: with one layer Linear(hidden → hidden); with L layers
 * Linear(hidden → encoder_hidden), ReLU, (L − 2) × [Linear(encoder_hidden → encoder_hidden), ReLU],
 * Linear(encoder_hidden → hidden). PyTorch's Linear initialisation, U(−1/√fan_in, 1/√fan_in) for
 * weights and biases. Dropout (training only) after each ReLU.
 */
record MlpEncoder(PromptEncoderConfig config, int hidden, ParameterLayout layout, int[] widths) implements PromptEncoder {

    MlpEncoder(PromptEncoderConfig config, int hidden) {
        this(config, hidden, widths(config, hidden));
    }

    private MlpEncoder(PromptEncoderConfig config, int hidden, int[] widths) {
        this(config, hidden, layout(config, widths), widths);
    }

    private static int[] widths(PromptEncoderConfig config, int hidden) {
        int layers = config.numLayers();
        int[] w = new int[layers + 1];
        Arrays.fill(w, config.encoderHidden());
        w[0] = hidden;
        w[layers] = hidden;
        return w;
    }

    private static ParameterLayout layout(PromptEncoderConfig config, int[] widths) {
        ParameterLayout.Builder b = ParameterLayout.builder().add("input_embedding", config.virtualTokens(), widths[0]);
        for (int l = 0; l + 1 < widths.length; l++) {
            b.add("layers." + l + ".weight", widths[l], widths[l + 1]);
            b.add("layers." + l + ".bias", widths[l + 1]);
        }
        return b.build();
    }

    @Override
    public int[] widths() {
        return widths.clone();
    }

    @Override
    public double[] initialParameters(double[] virtualRows, SplittableRandom rng) {
        double[] p = layout.zerosWith("input_embedding", virtualRows, "mlp encoder");
        for (int l = 0; l + 1 < widths.length; l++) {
            double bound = 1 / Math.sqrt(widths[l]);
            for (String part : new String[]{".weight", ".bias"}) {
                ParameterLayout.Tensor t = layout.tensor("layers." + l + part);
                for (int i = 0; i < t.size(); i++) {
                    p[t.offset() + i] = (2 * rng.nextDouble() - 1) * bound;
                }
            }
        }
        return p;
    }

    @Override
    public EncoderPass forward(double[] p, SplittableRandom dropoutRng) {
        PromptEncoder.checkParameters(layout, p, config.type());
        int n = config.virtualTokens();
        ParameterLayout.Tensor emb = layout.tensor("input_embedding");
        int layers = widths.length - 1;
        // inputs[l] is what layer l reads; pre[l] its pre-activation; masks[l] the dropout after its ReLU
        List<double[]> inputs = new ArrayList<>();
        List<double[]> pre = new ArrayList<>();
        List<double[]> masks = new ArrayList<>();
        double[] x = Arrays.copyOfRange(p, emb.offset(), emb.offset() + emb.size());
        for (int l = 0; l < layers; l++) {
            inputs.add(x);
            double[] a = Dense.linear(x, n, widths[l], widths[l + 1], p,
                    layout.tensor("layers." + l + ".weight").offset(), layout.tensor("layers." + l + ".bias").offset());
            pre.add(a);
            if (l + 1 < layers) {
                double[] mask = Dense.dropoutMask(a.length, config.dropout(), dropoutRng);
                masks.add(mask);
                x = Dense.apply(Dense.relu(a), mask);
            } else {
                x = a;
            }
        }
        double[] y = x;
        return new EncoderPass() {
            @Override
            public double[] table() {
                return y;
            }

            @Override
            public double[] backward(double[] dy) {
                double[] grad = new double[p.length];
                double[] d = dy;
                for (int l = layers - 1; l >= 0; l--) {
                    if (l + 1 < layers) {
                        d = Dense.reluBackward(pre.get(l), Dense.apply(d, masks.get(l)));
                    }
                    d = Dense.linearBackward(inputs.get(l), d, n, widths[l], widths[l + 1], p,
                            layout.tensor("layers." + l + ".weight").offset(),
                            layout.tensor("layers." + l + ".bias").offset(), grad);
                }
                System.arraycopy(d, 0, grad, emb.offset(), d.length);
                return grad;
            }
        };
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof MlpEncoder m && m.config.equals(config) && m.hidden == hidden;
    }

    @Override
    public int hashCode() {
        return config.hashCode() * 31 + hidden;
    }
}

package io.tunestream.model.tune;

import java.util.SplittableRandom;

/**
 * NeMo's {@code TPMLP}: Linear(hidden → encoder_hidden) → GELU → Linear(encoder_hidden → hidden) on
 * the learned virtual-token embedding; weights N(0, init_std), biases zero. Dropout (training only)
 * on the GELU output.
 */
record TpMlpEncoder(PromptEncoderConfig config, int hidden, ParameterLayout layout) implements PromptEncoder {

    TpMlpEncoder(PromptEncoderConfig config, int hidden) {
        this(config, hidden, ParameterLayout.builder()
                .add("input_embedding", config.virtualTokens(), hidden)
                .add("first.weight", hidden, config.encoderHidden())
                .add("first.bias", config.encoderHidden())
                .add("second.weight", config.encoderHidden(), hidden)
                .add("second.bias", hidden)
                .build());
    }

    @Override
    public double[] initialParameters(double[] virtualRows, SplittableRandom rng) {
        double[] p = layout.zerosWith("input_embedding", virtualRows, "tpmlp encoder");
        for (String w : new String[]{"first.weight", "second.weight"}) {
            ParameterLayout.Tensor t = layout.tensor(w);
            for (int i = 0; i < t.size(); i++) {
                p[t.offset() + i] = config.initStd() * PromptEncoder.gaussian(rng);
            }
        }
        return p;
    }

    @Override
    public EncoderPass forward(double[] p, SplittableRandom dropoutRng) {
        PromptEncoder.checkParameters(layout, p, config.type());
        int n = config.virtualTokens();
        int h = config.encoderHidden();
        ParameterLayout.Tensor emb = layout.tensor("input_embedding");
        int w1 = layout.tensor("first.weight").offset();
        int b1 = layout.tensor("first.bias").offset();
        int w2 = layout.tensor("second.weight").offset();
        int b2 = layout.tensor("second.bias").offset();
        double[] x = java.util.Arrays.copyOfRange(p, emb.offset(), emb.offset() + emb.size());
        double[] a = Dense.linear(x, n, hidden, h, p, w1, b1);
        double[] g = Dense.gelu(a);
        double[] mask = Dense.dropoutMask(g.length, config.dropout(), dropoutRng);
        double[] gd = Dense.apply(g, mask);
        double[] y = Dense.linear(gd, n, h, hidden, p, w2, b2);
        return new EncoderPass() {
            @Override
            public double[] table() {
                return y;
            }

            @Override
            public double[] backward(double[] dy) {
                double[] grad = new double[p.length];
                double[] dgd = Dense.linearBackward(gd, dy, n, h, hidden, p, w2, b2, grad);
                double[] dg = Dense.apply(dgd, mask);
                double[] da = Dense.geluBackward(a, dg);
                double[] dx = Dense.linearBackward(x, da, n, hidden, h, p, w1, b1, grad);
                System.arraycopy(dx, 0, grad, emb.offset(), dx.length);
                return grad;
            }
        };
    }
}

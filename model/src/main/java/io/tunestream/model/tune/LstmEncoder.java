package io.tunestream.model.tune;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * NeMo's {@code lstm} encoder: the learned virtual-token embedding goes through a bidirectional LSTM
 * ({@code num_layers} stacked, encoder_hidden units per direction as NeMo's and PEFT's
 * {@code nn.LSTM(hidden_size=encoder_hidden, bidirectional=True)}, PyTorch gate order i, f, g, o,
 * dropout between layers in training) whose concatenated outputs (2 × encoder_hidden wide) go through
 * an MLP head Linear(2·encoder_hidden → 2·encoder_hidden), ReLU, Linear(2·encoder_hidden → hidden).
 *
 * <p>Each direction has one bias vector (PyTorch's b_ih + b_hh, which only ever appear summed).
 * Initialisation as PyTorch: LSTM weights and biases U(−1/√units, 1/√units), Linear layers
 * U(−1/√fan_in, 1/√fan_in).
 */
record LstmEncoder(PromptEncoderConfig config, int hidden, ParameterLayout layout) implements PromptEncoder {

    private static final String[] DIRECTIONS = {"forward", "backward"};

    LstmEncoder(PromptEncoderConfig config, int hidden) {
        this(config, hidden, layout(config, hidden));
    }

    private static ParameterLayout layout(PromptEncoderConfig config, int hidden) {
        int h = 2 * config.encoderHidden(); // both directions
        int units = h / 2;
        ParameterLayout.Builder b = ParameterLayout.builder().add("input_embedding", config.virtualTokens(), hidden);
        for (int l = 0; l < config.numLayers(); l++) {
            int in = l == 0 ? hidden : h;
            for (String dir : DIRECTIONS) {
                b.add(prefix(l, dir) + "w_input", in, 4 * units);
                b.add(prefix(l, dir) + "w_hidden", units, 4 * units);
                b.add(prefix(l, dir) + "bias", 4 * units);
            }
        }
        return b.add("head.0.weight", h, h).add("head.0.bias", h)
                .add("head.1.weight", h, hidden).add("head.1.bias", hidden)
                .build();
    }

    private static String prefix(int layer, String direction) {
        return "lstm." + layer + "." + direction + ".";
    }

    private int units() {
        return config.encoderHidden();
    }

    @Override
    public double[] initialParameters(double[] virtualRows, SplittableRandom rng) {
        double[] p = layout.zerosWith("input_embedding", virtualRows, "lstm encoder");
        for (ParameterLayout.Tensor t : layout.tensors()) {
            if (t.name().equals("input_embedding")) {
                continue;
            }
            double bound;
            if (t.name().startsWith("lstm.")) {
                bound = 1 / Math.sqrt(units());
            } else {
                String weight = t.name().replace(".bias", ".weight");
                bound = 1 / Math.sqrt(layout.tensor(weight).shape()[0]);
            }
            for (int i = 0; i < t.size(); i++) {
                p[t.offset() + i] = (2 * rng.nextDouble() - 1) * bound;
            }
        }
        return p;
    }

    /** What one direction of one layer computed, per time step. */
    private record DirectionPass(double[] gates, double[] cells, double[] tanhCells, double[] outputs) {
    }

    @Override
    public EncoderPass forward(double[] p, SplittableRandom dropoutRng) {
        PromptEncoder.checkParameters(layout, p, config.type());
        int n = config.virtualTokens();
        int h = 2 * config.encoderHidden(); // both directions
        int layers = config.numLayers();
        ParameterLayout.Tensor emb = layout.tensor("input_embedding");
        double[][] layerInputs = new double[layers][];
        DirectionPass[][] passes = new DirectionPass[layers][2];
        double[][] masks = new double[layers][];
        double[] x = Arrays.copyOfRange(p, emb.offset(), emb.offset() + emb.size());
        for (int l = 0; l < layers; l++) {
            int in = l == 0 ? hidden : h;
            layerInputs[l] = x;
            double[] out = new double[n * h];
            for (int d = 0; d < 2; d++) {
                passes[l][d] = runDirection(p, x, n, in, l, d);
                for (int t = 0; t < n; t++) {
                    System.arraycopy(passes[l][d].outputs, t * units(), out, t * h + d * units(), units());
                }
            }
            if (l + 1 < layers) {
                masks[l] = Dense.dropoutMask(out.length, config.dropout(), dropoutRng);
                out = Dense.apply(out, masks[l]);
            }
            x = out;
        }
        double[] lstmOut = x;
        int hw0 = layout.tensor("head.0.weight").offset();
        int hb0 = layout.tensor("head.0.bias").offset();
        int hw1 = layout.tensor("head.1.weight").offset();
        int hb1 = layout.tensor("head.1.bias").offset();
        double[] a = Dense.linear(lstmOut, n, h, h, p, hw0, hb0);
        double[] r = Dense.relu(a);
        double[] y = Dense.linear(r, n, h, hidden, p, hw1, hb1);
        return new EncoderPass() {
            @Override
            public double[] table() {
                return y;
            }

            @Override
            public double[] backward(double[] dy) {
                double[] grad = new double[p.length];
                double[] dr = Dense.linearBackward(r, dy, n, h, hidden, p, hw1, hb1, grad);
                double[] da = Dense.reluBackward(a, dr);
                double[] dOut = Dense.linearBackward(lstmOut, da, n, h, h, p, hw0, hb0, grad);
                for (int l = layers - 1; l >= 0; l--) {
                    if (l + 1 < layers) {
                        dOut = Dense.apply(dOut, masks[l]);
                    }
                    int in = l == 0 ? hidden : h;
                    double[] dx = new double[n * in];
                    for (int d = 0; d < 2; d++) {
                        backDirection(p, layerInputs[l], passes[l][d], dOut, n, in, l, d, grad, dx);
                    }
                    dOut = dx;
                }
                System.arraycopy(dOut, 0, grad, emb.offset(), dOut.length);
                return grad;
            }
        };
    }

    private DirectionPass runDirection(double[] p, double[] x, int n, int in, int layer, int direction) {
        int u = units();
        int g4 = 4 * u;
        int wx = layout.tensor(prefix(layer, DIRECTIONS[direction]) + "w_input").offset();
        int wh = layout.tensor(prefix(layer, DIRECTIONS[direction]) + "w_hidden").offset();
        int b = layout.tensor(prefix(layer, DIRECTIONS[direction]) + "bias").offset();
        double[] gates = new double[n * g4];
        double[] cells = new double[n * u];
        double[] tanhCells = new double[n * u];
        double[] outputs = new double[n * u];
        double[] hPrev = new double[u];
        double[] cPrev = new double[u];
        for (int s = 0; s < n; s++) {
            int t = direction == 0 ? s : n - 1 - s;
            double[] pre = new double[g4];
            System.arraycopy(p, b, pre, 0, g4);
            for (int k = 0; k < in; k++) {
                double xv = x[t * in + k];
                int row = wx + k * g4;
                for (int j = 0; j < g4; j++) {
                    pre[j] += xv * p[row + j];
                }
            }
            for (int k = 0; k < u; k++) {
                double hv = hPrev[k];
                int row = wh + k * g4;
                for (int j = 0; j < g4; j++) {
                    pre[j] += hv * p[row + j];
                }
            }
            int go = t * g4;
            for (int j = 0; j < u; j++) {
                double i = Dense.sigmoid(pre[j]);
                double f = Dense.sigmoid(pre[u + j]);
                double g = Math.tanh(pre[2 * u + j]);
                double o = Dense.sigmoid(pre[3 * u + j]);
                gates[go + j] = i;
                gates[go + u + j] = f;
                gates[go + 2 * u + j] = g;
                gates[go + 3 * u + j] = o;
                double c = f * cPrev[j] + i * g;
                double tc = Math.tanh(c);
                cells[t * u + j] = c;
                tanhCells[t * u + j] = tc;
                outputs[t * u + j] = o * tc;
            }
            System.arraycopy(cells, t * u, cPrev, 0, u);
            System.arraycopy(outputs, t * u, hPrev, 0, u);
        }
        return new DirectionPass(gates, cells, tanhCells, outputs);
    }

    /** Backpropagation through time of one direction; accumulates into {@code grad} and {@code dx}. */
    private void backDirection(double[] p, double[] x, DirectionPass pass, double[] dOut, int n, int in,
                               int layer, int direction, double[] grad, double[] dx) {
        int u = units();
        int g4 = 4 * u;
        int h = 2 * config.encoderHidden(); // both directions
        int wx = layout.tensor(prefix(layer, DIRECTIONS[direction]) + "w_input").offset();
        int wh = layout.tensor(prefix(layer, DIRECTIONS[direction]) + "w_hidden").offset();
        int b = layout.tensor(prefix(layer, DIRECTIONS[direction]) + "bias").offset();
        double[] dhNext = new double[u];
        double[] dcNext = new double[u];
        for (int s = n - 1; s >= 0; s--) {
            int t = direction == 0 ? s : n - 1 - s;
            int tPrev = direction == 0 ? t - 1 : t + 1;
            boolean first = s == 0;
            double[] da = new double[g4];
            int go = t * g4;
            for (int j = 0; j < u; j++) {
                double i = pass.gates[go + j];
                double f = pass.gates[go + u + j];
                double g = pass.gates[go + 2 * u + j];
                double o = pass.gates[go + 3 * u + j];
                double tc = pass.tanhCells[t * u + j];
                double cPrev = first ? 0 : pass.cells[tPrev * u + j];
                double dh = dOut[t * h + direction * u + j] + dhNext[j];
                double dc = dcNext[j] + dh * o * (1 - tc * tc);
                da[j] = dc * g * i * (1 - i);
                da[u + j] = dc * cPrev * f * (1 - f);
                da[2 * u + j] = dc * i * (1 - g * g);
                da[3 * u + j] = dh * tc * o * (1 - o);
                dcNext[j] = dc * f;
            }
            for (int j = 0; j < g4; j++) {
                grad[b + j] += da[j];
            }
            for (int k = 0; k < in; k++) {
                double xv = x[t * in + k];
                int row = wx + k * g4;
                double acc = 0;
                for (int j = 0; j < g4; j++) {
                    grad[row + j] += xv * da[j];
                    acc += da[j] * p[row + j];
                }
                dx[t * in + k] += acc;
            }
            for (int k = 0; k < u; k++) {
                double hv = first ? 0 : pass.outputs[tPrev * u + k];
                int row = wh + k * g4;
                double acc = 0;
                for (int j = 0; j < g4; j++) {
                    grad[row + j] += hv * da[j];
                    acc += da[j] * p[row + j];
                }
                dhNext[k] = acc;
            }
        }
    }
}

package io.tunestream.model.tune;

import java.util.SplittableRandom;

/**
 * The few dense operations the prompt encoders are made of, forward and backward, on row-major
 * {@code double[]} slices of the flat parameter vector. Weights are stored [in, out] (so that
 * {@code y = x·W + b}, as an ONNX MatMul reads them).
 */
final class Dense {

    private Dense() {
    }

    /** y[n,out] = x[n,in]·W[in,out] + b[out]; W at {@code w}, b at {@code b} in {@code p}. */
    static double[] linear(double[] x, int n, int in, int out, double[] p, int w, int b) {
        double[] y = new double[n * out];
        for (int r = 0; r < n; r++) {
            int yr = r * out;
            System.arraycopy(p, b, y, yr, out);
            for (int k = 0; k < in; k++) {
                double xv = x[r * in + k];
                if (xv == 0) {
                    continue;
                }
                int wk = w + k * out;
                for (int c = 0; c < out; c++) {
                    y[yr + c] += xv * p[wk + c];
                }
            }
        }
        return y;
    }

    /**
     * Backward of {@link #linear}: accumulates dW and db into {@code grad} and returns dx.
     */
    static double[] linearBackward(double[] x, double[] dy, int n, int in, int out, double[] p, int w, int b,
                                   double[] grad) {
        double[] dx = new double[n * in];
        for (int r = 0; r < n; r++) {
            int yr = r * out;
            for (int c = 0; c < out; c++) {
                grad[b + c] += dy[yr + c];
            }
            for (int k = 0; k < in; k++) {
                double xv = x[r * in + k];
                int wk = w + k * out;
                double acc = 0;
                for (int c = 0; c < out; c++) {
                    double g = dy[yr + c];
                    grad[wk + c] += xv * g;
                    acc += g * p[wk + c];
                }
                dx[r * in + k] = acc;
            }
        }
        return dx;
    }

    static double[] relu(double[] x) {
        double[] y = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            y[i] = x[i] > 0 ? x[i] : 0;
        }
        return y;
    }

    static double[] reluBackward(double[] x, double[] dy) {
        double[] dx = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            dx[i] = x[i] > 0 ? dy[i] : 0;
        }
        return dx;
    }

    private static final double GELU_C = Math.sqrt(2 / Math.PI);

    /** GELU, tanh approximation (Megatron's fused bias GELU, which NeMo's TPMLP uses). */
    static double[] gelu(double[] x) {
        double[] y = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            double v = x[i];
            y[i] = 0.5 * v * (1 + Math.tanh(GELU_C * (v + 0.044715 * v * v * v)));
        }
        return y;
    }

    static double[] geluBackward(double[] x, double[] dy) {
        double[] dx = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            double v = x[i];
            double t = Math.tanh(GELU_C * (v + 0.044715 * v * v * v));
            double dt = (1 - t * t) * GELU_C * (1 + 3 * 0.044715 * v * v);
            dx[i] = dy[i] * (0.5 * (1 + t) + 0.5 * v * dt);
        }
        return dx;
    }

    /**
     * An inverted-dropout mask (kept entries scaled by 1/(1-rate)), or {@code null} when nothing is
     * dropped (rate 0 or no random source, i.e. evaluation).
     */
    static double[] dropoutMask(int size, double rate, SplittableRandom rng) {
        if (rate == 0 || rng == null) {
            return null;
        }
        double[] m = new double[size];
        double keep = 1 / (1 - rate);
        for (int i = 0; i < size; i++) {
            m[i] = rng.nextDouble() < rate ? 0 : keep;
        }
        return m;
    }

    /** x·mask, or x itself when the mask is {@code null}. */
    static double[] apply(double[] x, double[] mask) {
        if (mask == null) {
            return x;
        }
        double[] y = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            y[i] = x[i] * mask[i];
        }
        return y;
    }

    static double sigmoid(double v) {
        return 1 / (1 + Math.exp(-v));
    }
}

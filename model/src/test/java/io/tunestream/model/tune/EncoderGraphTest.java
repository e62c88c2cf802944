package io.tunestream.model.tune;

import ai.onnx.proto.OnnxMl;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import io.tunestream.model.autodiff.GradientGraphBuilder;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.DoubleBuffer;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * The encoders' ONNX forward graphs compute the Java forward, and the autodiff engine's
 * vector-Jacobian product of those graphs (the decoder's differentiation) equals the Java backward.
 */
class EncoderGraphTest {

    private static final int HIDDEN = 6;

    static Stream<Arguments> encoders() {
        return Stream.of(
                Arguments.of(EncoderType.EMBEDDING, 1),
                Arguments.of(EncoderType.MLP, 2),
                Arguments.of(EncoderType.MLP, 3),
                Arguments.of(EncoderType.TPMLP, 2),
                Arguments.of(EncoderType.LSTM, 2));
    }

    @ParameterizedTest(name = "{0} layers={1}")
    @MethodSource("encoders")
    void shouldMatchTheJavaForwardAndBackwardThroughTheAutodiffEngine(EncoderType type, int layers) throws OrtException {
        PromptEncoder encoder = PromptEncoder.of(new PromptEncoderConfig(type, 3, 8, layers, 0.0, 0.5,
                EmbeddingInit.RANDOM, Optional.empty()), HIDDEN);
        SplittableRandom rng = new SplittableRandom(5);
        double[] p = encoder.initialParameters(VirtualTokenInit.rows(encoder.config(), new float[HIDDEN], HIDDEN,
                new int[0], rng), rng);
        for (int i = 0; i < p.length; i++) {
            p[i] += 0.1 * PromptEncoder.gaussian(rng);
        }
        double[] seed = new double[3 * HIDDEN];
        for (int i = 0; i < seed.length; i++) {
            seed[i] = PromptEncoder.gaussian(rng);
        }
        PromptEncoder.EncoderPass pass = encoder.forward(p, null);
        double[] javaGradient = pass.backward(seed);

        OnnxMl.ModelProto forward = EncoderGraph.forward(encoder, OnnxMl.TensorProto.DataType.DOUBLE);
        Set<String> parameters = encoder.layout().tensors().stream().map(ParameterLayout.Tensor::name)
                .collect(Collectors.toCollection(java.util.LinkedHashSet::new));
        OnnxMl.ModelProto vjp = GradientGraphBuilder.vectorJacobianProduct(forward, parameters, Set.of(EncoderGraph.TABLE),
                List.of(EncoderGraph.TABLE));

        OrtEnvironment env = OrtEnvironment.getEnvironment();
        Map<String, OnnxTensor> feed = new HashMap<>();
        try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
            // hundreds of tiny nodes: graph optimisation would cost more than it saves
            options.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.NO_OPT);
            options.setIntraOpNumThreads(1);
            check(env.createSession(vjp.toByteArray(), options), encoder, p, seed, pass, javaGradient, feed, env);
        } finally {
            feed.values().forEach(OnnxTensor::close);
        }
    }

    private static void check(OrtSession opened, PromptEncoder encoder, double[] p, double[] seed,
                              PromptEncoder.EncoderPass pass, double[] javaGradient, Map<String, OnnxTensor> feed,
                              OrtEnvironment env) throws OrtException {
        try (OrtSession session = opened) {
            for (ParameterLayout.Tensor t : encoder.layout().tensors()) {
                feed.put(t.name(), tensor(env, java.util.Arrays.copyOfRange(p, t.offset(), t.offset() + t.size()), t.shape()));
            }
            feed.put(GradientGraphBuilder.gradientName(EncoderGraph.TABLE), tensor(env, seed, new int[]{3, HIDDEN}));
            try (OrtSession.Result result = session.run(feed)) {
                double[] table = values(result, EncoderGraph.TABLE);
                assertThat(table).containsExactly(pass.table(), within(1e-12));
                for (ParameterLayout.Tensor t : encoder.layout().tensors()) {
                    double[] g = values(result, GradientGraphBuilder.gradientName(t.name()));
                    assertThat(g).as(t.name())
                            .containsExactly(java.util.Arrays.copyOfRange(javaGradient, t.offset(), t.offset() + t.size()),
                                    within(1e-10));
                }
            }
        }
    }

    private static OnnxTensor tensor(OrtEnvironment env, double[] values, int[] shape) throws OrtException {
        long[] dims = java.util.Arrays.stream(shape).asLongStream().toArray();
        return OnnxTensor.createTensor(env, DoubleBuffer.wrap(values), dims);
    }

    private static double[] values(OrtSession.Result result, String name) {
        OnnxTensor t = (OnnxTensor) result.get(name).orElseThrow(() -> new AssertionError("no output " + name));
        DoubleBuffer b = t.getDoubleBuffer();
        double[] out = new double[b.remaining()];
        b.get(out);
        return out;
    }
}

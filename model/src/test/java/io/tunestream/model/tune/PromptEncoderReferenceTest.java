package io.tunestream.model.tune;

import ai.onnx.proto.OnnxMl;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtSession;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tunestream.model.TestModels;
import io.tunestream.model.autodiff.GradientGraphBuilder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.DoubleBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The prompt encoders against NeMo v1.15.0's, run by PyTorch ({@code models/tiny-gpt2/encoders-reference.json},
 * written by {@code tools/references/make_references.py}): same parameters in, the same virtual-token
 * table out, and, seeded with PyTorch's d loss / d table of the tiny-gpt2 answer loss, the same
 * d loss / d parameters to a relative L2 error of 1e-4, overall and per tensor. Both implementations
 * are checked: the Java forward/backward and the ONNX encoder graph ({@link EncoderGraph}, differentiated
 * by the autodiff engine).
 */
class PromptEncoderReferenceTest {

    private static final double GRADIENT_TOLERANCE = 1e-4;
    /** The table is stored to 10 significant digits; both sides compute in float64. */
    private static final double TABLE_TOLERANCE = 1e-8;

    /** One entry of the reference file. */
    record Reference(String name, PromptEncoderConfig config, int hidden, List<ParameterLayout.Tensor> layout,
                     double[] parameters, double[] table, double[] tableGradient, double[] gradient) {
        @Override
        public String toString() {
            return name;
        }
    }

    static List<Reference> references() {
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(TestModels.model("tiny-gpt2").resolve("encoders-reference.json").toFile());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        List<Reference> refs = new ArrayList<>();
        for (JsonNode e : root.get("encoders")) {
            PromptEncoderConfig config = new PromptEncoderConfig(EncoderType.parse(e.get("type").asText()),
                    e.get("virtual_tokens").asInt(), e.get("encoder_hidden").asInt(), e.get("num_layers").asInt(),
                    0.0, e.get("init_std").asDouble(), EmbeddingInit.RANDOM, Optional.empty());
            ParameterLayout.Builder layout = ParameterLayout.builder();
            for (JsonNode t : e.get("layout")) {
                int[] shape = new int[t.get("shape").size()];
                for (int i = 0; i < shape.length; i++) {
                    shape[i] = t.get("shape").get(i).asInt();
                }
                layout.add(t.get("name").asText(), shape);
            }
            refs.add(new Reference(e.get("name").asText(), config, e.get("hidden").asInt(), layout.build().tensors(),
                    doubles(e.get("parameters")), doubles(e.get("table")), doubles(e.get("table_gradient")),
                    doubles(e.get("gradient"))));
        }
        return refs;
    }

    private static double[] doubles(JsonNode array) {
        double[] v = new double[array.size()];
        for (int i = 0; i < v.length; i++) {
            v[i] = array.get(i).asDouble();
        }
        return v;
    }

    @Test
    void shouldCoverEveryEncoderTypeWithNeMosLayers() {
        Set<String> covered = references().stream()
                .map(r -> r.config().type() + "/" + r.config().numLayers()).collect(Collectors.toSet());

        assertThat(covered).contains("EMBEDDING/1", "MLP/2", "MLP/3", "TPMLP/2", "LSTM/1", "LSTM/2");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("references")
    void shouldLayOutParametersAsTheReference(Reference ref) {
        PromptEncoder encoder = PromptEncoder.of(ref.config(), ref.hidden());

        assertThat(encoder.layout().tensors()).containsExactlyElementsOf(ref.layout());
        assertThat(encoder.layout().size()).isEqualTo(ref.parameters().length);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("references")
    void shouldMatchPyTorchTableAndParameterGradient(Reference ref) {
        PromptEncoder encoder = PromptEncoder.of(ref.config(), ref.hidden());

        PromptEncoder.EncoderPass pass = encoder.forward(ref.parameters(), null);
        double[] gradient = pass.backward(ref.tableGradient());

        assertClose(pass.table(), ref.table());
        assertGradient(encoder.layout(), gradient, ref.gradient());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("references")
    void shouldMatchPyTorchTableThroughTheEncoderGraph(Reference ref) throws OrtException {
        PromptEncoder encoder = PromptEncoder.of(ref.config(), ref.hidden());
        OnnxMl.ModelProto forward = EncoderGraph.forward(encoder, OnnxMl.TensorProto.DataType.DOUBLE);

        Map<String, double[]> out = run(forward, encoder, ref, Map.of());

        assertClose(out.get(EncoderGraph.TABLE), ref.table());
    }

    /**
     * Not for LSTM: its vector-Jacobian graph over 10 unrolled steps has 9 000 to 17 000 nodes, and ONNX
     * Runtime takes 14 to 80 s to open it on two cores. The Java backward is checked against PyTorch
     * above, and EncoderGraphTest checks the LSTM graph's gradient against the Java backward.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("feedForwardReferences")
    void shouldMatchPyTorchGradientThroughTheAutodiffEngine(Reference ref) throws OrtException {
        PromptEncoder encoder = PromptEncoder.of(ref.config(), ref.hidden());
        OnnxMl.ModelProto forward = EncoderGraph.forward(encoder, OnnxMl.TensorProto.DataType.DOUBLE);
        Set<String> parameters = encoder.layout().tensors().stream().map(ParameterLayout.Tensor::name)
                .collect(Collectors.toCollection(LinkedHashSet::new));
        OnnxMl.ModelProto vjp = GradientGraphBuilder.vectorJacobianProduct(forward, parameters,
                Set.of(EncoderGraph.TABLE), List.of(EncoderGraph.TABLE));

        Map<String, double[]> out = run(vjp, encoder, ref, Map.of(GradientGraphBuilder.gradientName(EncoderGraph.TABLE),
                ref.tableGradient()));

        double[] gradient = new double[encoder.layout().size()];
        for (ParameterLayout.Tensor t : encoder.layout().tensors()) {
            System.arraycopy(out.get(GradientGraphBuilder.gradientName(t.name())), 0, gradient, t.offset(), t.size());
        }
        assertClose(out.get(EncoderGraph.TABLE), ref.table());
        assertGradient(encoder.layout(), gradient, ref.gradient());
    }

    static List<Reference> feedForwardReferences() {
        return references().stream().filter(r -> r.config().type() != EncoderType.LSTM).toList();
    }

    /** Runs {@code model} on the reference parameters plus {@code extra} inputs ([virtual, hidden] each); all outputs. */
    private static Map<String, double[]> run(OnnxMl.ModelProto model, PromptEncoder encoder, Reference ref,
                                             Map<String, double[]> extra) throws OrtException {
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        Map<String, OnnxTensor> feed = new HashMap<>();
        try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
            // hundreds of tiny nodes: graph optimisation would cost more than it saves
            options.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.NO_OPT);
            options.setIntraOpNumThreads(1);
            for (ParameterLayout.Tensor t : encoder.layout().tensors()) {
                feed.put(t.name(), tensor(env, slice(ref.parameters(), t), t.shape()));
            }
            for (Map.Entry<String, double[]> e : extra.entrySet()) {
                feed.put(e.getKey(), tensor(env, e.getValue(), new int[]{ref.config().virtualTokens(), ref.hidden()}));
            }
            try (OrtSession session = env.createSession(model.toByteArray(), options);
                 OrtSession.Result result = session.run(feed)) {
                Map<String, double[]> out = new HashMap<>();
                for (Map.Entry<String, OnnxValue> e : result) {
                    out.put(e.getKey(), values((OnnxTensor) e.getValue()));
                }
                return out;
            }
        } finally {
            feed.values().forEach(OnnxTensor::close);
        }
    }

    private static void assertClose(double[] actual, double[] expected) {
        assertThat(actual).hasSameSizeAs(expected);
        for (int i = 0; i < expected.length; i++) {
            double tolerance = TABLE_TOLERANCE * Math.max(1, Math.abs(expected[i]));
            assertThat(Math.abs(actual[i] - expected[i])).as("table[%d]: %s vs %s", i, actual[i], expected[i])
                    .isLessThanOrEqualTo(tolerance);
        }
    }

    /** Relative L2 error of the whole gradient and of each tensor, so a small tensor cannot hide in a big one. */
    private static void assertGradient(ParameterLayout layout, double[] actual, double[] expected) {
        assertThat(actual).hasSameSizeAs(expected);
        assertThat(relativeL2(actual, expected)).as("whole gradient").isLessThanOrEqualTo(GRADIENT_TOLERANCE);
        for (ParameterLayout.Tensor t : layout.tensors()) {
            assertThat(relativeL2(slice(actual, t), slice(expected, t))).as("d loss / d %s", t.name())
                    .isLessThanOrEqualTo(GRADIENT_TOLERANCE);
        }
    }

    static double relativeL2(double[] actual, double[] expected) {
        double diff = 0;
        double norm = 0;
        for (int i = 0; i < expected.length; i++) {
            diff += (actual[i] - expected[i]) * (actual[i] - expected[i]);
            norm += expected[i] * expected[i];
        }
        if (norm == 0) {
            return diff == 0 ? 0 : Double.POSITIVE_INFINITY;
        }
        return Math.sqrt(diff / norm);
    }

    private static double[] slice(double[] flat, ParameterLayout.Tensor t) {
        return Arrays.copyOfRange(flat, t.offset(), t.offset() + t.size());
    }

    private static OnnxTensor tensor(OrtEnvironment env, double[] values, int[] shape) throws OrtException {
        return OnnxTensor.createTensor(env, DoubleBuffer.wrap(values), Arrays.stream(shape).asLongStream().toArray());
    }

    private static double[] values(OnnxTensor t) {
        DoubleBuffer b = t.getDoubleBuffer();
        double[] out = new double[b.remaining()];
        b.get(out);
        return out;
    }
}

package io.tunestream.model.onnx;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.OperatorSetIdProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.TypeProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import io.tunestream.model.autodiff.GradientGraphBuilder;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.DoubleBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Every gradient rule against central finite differences, in float64, on small random tensors:
 * for a single-node graph with outputs Y_k and random cotangents S_k, the vector-Jacobian product
 * of {@link GradientGraphBuilder} must equal d/dx Σ_k Σ(Y_k·S_k) estimated by (f(x+h) − f(x−h)) / 2h
 * at every element of every active input. Broadcasting and size-1 (batch 1) cases included.
 */
class GradientRulesFiniteDifferenceTest {

    private static final double H = 1e-5;
    private static final double TOLERANCE = 1e-6;
    private static final double H_FLOAT32 = 1e-2;
    private static final double TOLERANCE_FLOAT32 = 1e-3;

    /** A node input: active (a graph input to differentiate), a frozen float initializer, or int/bool constants. */
    record In(String name, long[] shape, Kind kind, double low, double high, long[] ints) {
        enum Kind { ACTIVE, FROZEN, INT64, BOOL }
    }

    record Case(String description, String op, List<In> inputs, int outputs, Set<Integer> seeded,
                List<AttributeProto> attributes, boolean float32) {
        Case(String description, String op, List<In> inputs, int outputs, Set<Integer> seeded,
             List<AttributeProto> attributes) {
            this(description, op, inputs, outputs, seeded, attributes, false);
        }

        /** The same case in float32, for ops ONNX Runtime implements only in float (Erf). */
        Case inFloat32() {
            return new Case(description + " (float32)", op, inputs, outputs, seeded, attributes, true);
        }

        @Override
        public String toString() {
            return description;
        }
    }

    static In active(String name, long... shape) {
        return new In(name, shape, In.Kind.ACTIVE, -1, 1, null);
    }

    static In positive(String name, long... shape) {
        return new In(name, shape, In.Kind.ACTIVE, 0.5, 2, null);
    }

    static In frozen(String name, long... shape) {
        return new In(name, shape, In.Kind.FROZEN, -1, 1, null);
    }

    static In frozenValue(String name, double value) {
        return new In(name, new long[0], In.Kind.FROZEN, value, value, null);
    }

    static In int64(String name, long[] shape, long... values) {
        return new In(name, shape, In.Kind.INT64, 0, 0, values);
    }

    static In bool(String name, long[] shape, long... values) {
        return new In(name, shape, In.Kind.BOOL, 0, 0, values);
    }

    static long[] s(long... dims) {
        return dims;
    }

    static AttributeProto i(String name, long v) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.INT).setI(v).build();
    }

    static AttributeProto f(String name, float v) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.FLOAT).setF(v).build();
    }

    static AttributeProto ints(String name, long... v) {
        AttributeProto.Builder a = AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.INTS);
        Arrays.stream(v).forEach(a::addInts);
        return a.build();
    }

    static Case unary(String op, In x, AttributeProto... attrs) {
        return new Case(op + " " + Arrays.toString(x.shape()), op, List.of(x), 1, Set.of(0), List.of(attrs));
    }

    static Case binary(String op, In a, In b, AttributeProto... attrs) {
        return new Case(op + " " + Arrays.toString(a.shape()) + " " + a.kind() + " with " + Arrays.toString(b.shape())
                + " " + b.kind(), op, List.of(a, b), 1, Set.of(0), List.of(attrs));
    }

    static Case of(String description, String op, List<In> inputs, AttributeProto... attrs) {
        return new Case(description, op, inputs, 1, Set.of(0), List.of(attrs));
    }

    static Stream<Case> cases() {
        List<Case> c = new ArrayList<>();
        for (String op : List.of("Add", "Sub", "Mul", "Div")) {
            boolean div = op.equals("Div");
            c.add(binary(op, active("a", 2, 3, 4), div ? positive("b", 2, 3, 4) : active("b", 2, 3, 4)));
            c.add(binary(op, active("a", 2, 3, 4), div ? positive("b", 4) : active("b", 4)));
            c.add(binary(op, active("a", 2, 1, 4), div ? positive("b", 3, 1) : active("b", 3, 1)));
            c.add(binary(op, active("a", 1, 3, 4), div ? positive("b", 3, 4) : active("b", 3, 4)));
            c.add(binary(op, active("a", 1), div ? positive("b", 1, 3) : active("b", 1, 3)));
            c.add(binary(op, active("a", 2, 3), frozen("b", 3)));
            c.add(binary(op, frozen("a", 2, 3), div ? positive("b", 2, 1) : active("b", 2, 1)));
        }
        c.add(binary("Pow", positive("a", 2, 3), frozenValue("p", 3.0)));
        c.add(binary("Pow", positive("a", 2, 3), frozenValue("p", 0.5)));
        c.add(binary("Pow", active("a", 2, 3), frozenValue("p", 2.0)));
        c.add(binary("Mul", active("a", 2, 3), frozenValue("s", 0.7)));
        c.add(binary("Add", frozenValue("s", 0.7), active("b", 2, 3)));
        c.add(binary("Div", active("a", 2, 3), frozenValue("s", 0.7)));
        c.add(binary("Sub", frozenValue("s", 0.7), active("b", 2, 3)));
        c.add(of("Mul of a tensor by itself", "Mul", List.of(active("a", 2, 3), active("a", 2, 3))));
        c.add(unary("Sqrt", positive("x", 2, 3)));
        c.add(unary("Reciprocal", positive("x", 2, 3)));
        c.add(unary("Log", positive("x", 2, 3)));
        c.add(unary("Erf", active("x", 2, 3)).inFloat32());
        for (String op : List.of("Tanh", "Sigmoid", "Exp", "Neg", "Identity", "Relu")) {
            c.add(unary(op, active("x", 2, 3)));
        }
        c.add(unary("Cast", active("x", 2, 3), i("to", TensorProto.DataType.DOUBLE.getNumber())));
        c.add(binary("CastLike", active("x", 2, 3), frozenValue("like", 1.0)));

        c.add(binary("MatMul", active("a", 2, 3, 4), frozen("b", 4, 5)));
        c.add(binary("MatMul", frozen("a", 3, 4), active("b", 2, 4, 5)));
        c.add(binary("MatMul", active("a", 3, 4), active("b", 4, 5)));
        c.add(binary("MatMul", active("a", 2, 2, 3, 4), active("b", 2, 2, 4, 5)));
        c.add(binary("MatMul", active("a", 2, 1, 3, 4), active("b", 3, 4, 5)));
        c.add(binary("MatMul", active("a", 1, 3, 4), active("b", 2, 4, 5)));

        for (int ta = 0; ta < 2; ta++) {
            for (int tb = 0; tb < 2; tb++) {
                In a = ta == 0 ? active("a", 3, 4) : active("a", 4, 3);
                In b = tb == 0 ? active("b", 4, 5) : active("b", 5, 4);
                c.add(of("Gemm transA=" + ta + " transB=" + tb + " C[5]", "Gemm", List.of(a, b, active("c", 5)),
                        i("transA", ta), i("transB", tb), f("alpha", 0.7f), f("beta", 1.3f)));
            }
        }
        c.add(of("Gemm C[3,1] frozen B", "Gemm", List.of(active("a", 3, 4), frozen("b", 4, 5), active("c", 3, 1))));
        c.add(of("Gemm without C", "Gemm", List.of(active("a", 1, 4), active("b", 4, 5))));

        c.add(unary("Softmax", active("x", 2, 3, 4)));
        c.add(of("Softmax axis 1", "Softmax", List.of(active("x", 2, 3, 4)), i("axis", 1)));
        c.add(unary("LogSoftmax", active("x", 2, 3, 4)));

        c.add(of("LayerNormalization axis -1", "LayerNormalization",
                List.of(active("x", 2, 3, 4), frozen("gamma", 4), frozen("beta", 4)), i("axis", -1)));
        c.add(of("LayerNormalization with trainable scale and bias", "LayerNormalization",
                List.of(active("x", 2, 3, 4), active("gamma", 4), active("beta", 4)), i("axis", -1)));
        c.add(of("LayerNormalization with a broadcast scale", "LayerNormalization",
                List.of(active("x", 2, 3, 4), active("gamma", 3, 1), frozen("beta", 4)), i("axis", 1)));
        c.add(of("LayerNormalization axis 1 batch 1", "LayerNormalization",
                List.of(active("x", 1, 3, 4), frozen("gamma", 3, 4), frozen("beta", 3, 4)), i("axis", 1)));

        c.add(of("ReduceMean axes [-1] keepdims", "ReduceMean", List.of(active("x", 2, 3, 4)), ints("axes", -1)));
        c.add(of("ReduceMean axes [0, 2] no keepdims", "ReduceMean", List.of(active("x", 2, 3, 4)), ints("axes", 0, 2),
                i("keepdims", 0)));
        c.add(of("ReduceMean all", "ReduceMean", List.of(active("x", 2, 3)), i("keepdims", 0)));
        c.add(of("ReduceSum axes [1] no keepdims", "ReduceSum",
                List.of(active("x", 2, 3, 4), int64("axes", s(1), 1)), i("keepdims", 0)));
        c.add(of("ReduceSum all keepdims", "ReduceSum", List.of(active("x", 2, 3))));

        c.add(of("Reshape", "Reshape", List.of(active("x", 2, 3, 4), int64("shape", s(2), 6, -1))));
        c.add(of("Flatten axis 2", "Flatten", List.of(active("x", 2, 3, 4)), i("axis", 2)));
        c.add(of("Squeeze", "Squeeze", List.of(active("x", 2, 1, 4), int64("axes", s(1), 1))));
        c.add(of("Unsqueeze", "Unsqueeze", List.of(active("x", 2, 4), int64("axes", s(2), 0, -1))));
        c.add(of("Transpose", "Transpose", List.of(active("x", 2, 3, 4)), ints("perm", 1, 2, 0)));
        c.add(of("Concat axis -1 with a frozen input", "Concat",
                List.of(active("a", 2, 3), frozen("b", 2, 2), active("c", 2, 1)), i("axis", -1)));
        c.add(of("Concat axis 0 of the same tensor twice", "Concat", List.of(active("a", 1, 3), active("a", 1, 3)),
                i("axis", 0)));
        c.add(new Case("Split axis 1, one output unused", "Split",
                List.of(active("x", 2, 6), int64("split", s(3), 1, 2, 3)), 3, Set.of(0, 2), List.of(i("axis", 1))));
        c.add(of("Slice negative start, open end", "Slice", List.of(active("x", 2, 5, 4),
                int64("starts", s(2), -3, 1), int64("ends", s(2), Long.MAX_VALUE, 3), int64("axes", s(2), 1, -1))));
        c.add(of("Slice without axes", "Slice", List.of(active("x", 4, 3),
                int64("starts", s(1), 1), int64("ends", s(1), 3))));
        c.add(of("Expand", "Expand", List.of(active("x", 3, 1), int64("shape", s(3), 2, 3, 4))));
        c.add(of("Expand batch 1", "Expand", List.of(active("x", 1, 4), int64("shape", s(2), 1, 4))));
        c.add(of("Where broadcast", "Where", List.of(bool("c", s(2, 3), 1, 0, 1, 0, 0, 1), active("a", 2, 3),
                active("b", 3))));
        c.add(of("Gather rows, negative and repeated indices", "Gather",
                List.of(active("x", 4, 3), int64("idx", s(2, 3), 0, -1, 2, 2, 1, 0))));
        // the training graphs gather the loss positions of the flattened [b·T, d] hidden state (Flatten axis 2 above)
        c.add(of("Gather rows, a subset of 1-D indices (other rows get no gradient)", "Gather",
                List.of(active("x", 6, 3), int64("idx", s(3), 1, 4, 5))));
        c.add(of("GatherElements axis -1", "GatherElements",
                List.of(active("x", 2, 4), int64("idx", s(2, 3), 0, 3, 3, 1, -1, 2)), i("axis", -1)));
        return c.stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void shouldMatchCentralFiniteDifferences(Case testCase) throws OrtException {
        Random random = new Random(testCase.description().hashCode());
        ModelProto forward = singleNodeModel(testCase, random);
        Map<String, In> active = new LinkedHashMap<>();
        testCase.inputs().stream().filter(in -> in.kind() == In.Kind.ACTIVE).forEach(in -> active.putIfAbsent(in.name(), in));
        List<String> outputs = new ArrayList<>();
        Set<String> seeded = new LinkedHashSet<>();
        for (int k = 0; k < testCase.outputs(); k++) {
            outputs.add("y" + k);
            if (testCase.seeded().contains(k)) {
                seeded.add("y" + k);
            }
        }
        checkAgainstFiniteDifferences(testCase.toString(), forward, active, outputs, seeded, testCase.float32(), random);
    }

    /**
     * GPT-2's gelu_new as the exporter decomposes it, (x·0.5)·(1 + tanh(√(2/π)·(x + 0.044715·x³))),
     * is differentiated as a whole (so that ONNX Runtime can fuse its forward); the composite rule
     * must agree with finite differences too.
     */
    @org.junit.jupiter.api.Test
    void shouldMatchCentralFiniteDifferencesThroughTheTanhGeluComposite() throws OrtException {
        GraphProto.Builder g = GraphProto.newBuilder().setName("gelu_new")
                .addInput(ValueInfoProto.newBuilder().setName("x").setType(doubleTensor()))
                .addOutput(ValueInfoProto.newBuilder().setName("y0").setType(doubleTensor()));
        double[][] constants = {{0.5}, {3.0}, {0.044715}, {Math.sqrt(2 / Math.PI)}, {1.0}};
        String[] names = {"half", "three", "c", "k", "one"};
        for (int i = 0; i < names.length; i++) {
            g.addInitializer(TensorProto.newBuilder().setName(names[i])
                    .setDataType(TensorProto.DataType.DOUBLE.getNumber()).addDoubleData(constants[i][0]));
        }
        String[][] nodes = {
                {"Mul", "x", "half", "m0"}, {"Pow", "x", "three", "p"}, {"Mul", "p", "c", "m1"}, {"Add", "x", "m1", "a0"},
                {"Mul", "a0", "k", "m2"}, {"Tanh", "m2", null, "t"}, {"Add", "t", "one", "a1"}, {"Mul", "m0", "a1", "y0"}};
        for (String[] n : nodes) {
            NodeProto.Builder node = NodeProto.newBuilder().setOpType(n[0]).setName(n[3]).addInput(n[1]).addOutput(n[3]);
            if (n[2] != null) {
                node.addInput(n[2]);
            }
            g.addNode(node);
        }
        ModelProto forward = ModelProto.newBuilder().setIrVersion(8)
                .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(17)).setGraph(g).build();
        In x = new In("x", s(2, 5), In.Kind.ACTIVE, -3, 3, null);

        checkAgainstFiniteDifferences("tanh GELU", forward, Map.of("x", x), List.of("y0"), Set.of("y0"), false,
                new Random(7));
    }

    private static TypeProto doubleTensor() {
        return TypeProto.newBuilder().setTensorType(TypeProto.Tensor.newBuilder()
                .setElemType(TensorProto.DataType.DOUBLE.getNumber())).build();
    }

    private static void checkAgainstFiniteDifferences(String description, ModelProto forward, Map<String, In> active,
                                                      List<String> outputs, Set<String> seeded, boolean float32,
                                                      Random random) throws OrtException {
        double h = float32 ? H_FLOAT32 : H;
        double tolerance = float32 ? TOLERANCE_FLOAT32 : TOLERANCE;
        Set<String> activeNames = active.keySet();
        ModelProto vjp = GradientGraphBuilder.vectorJacobianProduct(forward, activeNames, seeded, outputs);

        OrtEnvironment env = OrtEnvironment.getEnvironment();
        try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
            options.setInterOpNumThreads(1);
            options.setIntraOpNumThreads(1);
            try (OrtSession function = env.createSession(forward.toByteArray(), options);
                 OrtSession gradient = env.createSession(vjp.toByteArray(), options)) {
                Map<String, double[]> values = new LinkedHashMap<>();
                Map<String, long[]> shapes = new HashMap<>();
                for (In in : active.values()) {
                    values.put(in.name(), random(random, in));
                    shapes.put(in.name(), in.shape());
                }
                Map<String, double[]> seeds = new LinkedHashMap<>();
                Map<String, long[]> outputShapes = new HashMap<>();
                Map<String, double[]> forwardOutputs = run(env, function, values, shapes, outputs, outputShapes);
                for (String y : seeded) {
                    double[] seed = new double[forwardOutputs.get(y).length];
                    for (int k = 0; k < seed.length; k++) {
                        seed[k] = random.nextDouble() * 2 - 1;
                    }
                    seeds.put(y, seed);
                    values.put(GradientGraphBuilder.gradientName(y), seed);
                    shapes.put(GradientGraphBuilder.gradientName(y), outputShapes.get(y));
                }
                List<String> gradientNames = activeNames.stream().map(GradientGraphBuilder::gradientName).toList();
                Map<String, double[]> gradients = run(env, gradient, values, shapes, gradientNames, null);

                for (String x : activeNames) {
                    double[] analytic = gradients.get(GradientGraphBuilder.gradientName(x));
                    double[] point = values.get(x);
                    assertThat(analytic).as("gradient length of %s", x).hasSize(point.length);
                    for (int k = 0; k < point.length; k++) {
                        double original = point[k];
                        point[k] = original + h;
                        double plus = objective(run(env, function, values, shapes, outputs, null), seeds);
                        point[k] = original - h;
                        double minus = objective(run(env, function, values, shapes, outputs, null), seeds);
                        point[k] = original;
                        double numeric = (plus - minus) / (2 * h);
                        assertThat(analytic[k]).as("d/d%s[%d] of %s", x, k, description)
                                .isCloseTo(numeric, org.assertj.core.data.Offset.offset(
                                        tolerance * Math.max(1, Math.abs(numeric))));
                    }
                }
            }
        }
    }

    private static double objective(Map<String, double[]> outputs, Map<String, double[]> seeds) {
        double total = 0;
        for (Map.Entry<String, double[]> seed : seeds.entrySet()) {
            double[] y = outputs.get(seed.getKey());
            for (int k = 0; k < y.length; k++) {
                total += y[k] * seed.getValue()[k];
            }
        }
        return total;
    }

    private static Map<String, double[]> run(OrtEnvironment env, OrtSession session, Map<String, double[]> values,
                                             Map<String, long[]> shapes, List<String> fetch,
                                             Map<String, long[]> shapesOut) throws OrtException {
        Map<String, OnnxTensor> feed = new HashMap<>();
        try {
            for (String input : session.getInputNames()) {
                double[] v = values.get(input);
                if (((ai.onnxruntime.TensorInfo) session.getInputInfo().get(input).getInfo()).type
                        == ai.onnxruntime.OnnxJavaType.FLOAT) {
                    float[] f = new float[v.length];
                    for (int k = 0; k < v.length; k++) {
                        f[k] = (float) v[k];
                    }
                    feed.put(input, OnnxTensor.createTensor(env, java.nio.FloatBuffer.wrap(f), shapes.get(input)));
                } else {
                    feed.put(input, OnnxTensor.createTensor(env, DoubleBuffer.wrap(v), shapes.get(input)));
                }
            }
            Map<String, double[]> out = new HashMap<>();
            try (OrtSession.Result result = session.run(feed, Set.copyOf(fetch))) {
                for (String name : fetch) {
                    OnnxTensor t = (OnnxTensor) result.get(name).orElseThrow();
                    double[] data;
                    if (t.getInfo().type == ai.onnxruntime.OnnxJavaType.FLOAT) {
                        java.nio.FloatBuffer buffer = t.getFloatBuffer();
                        data = new double[buffer.remaining()];
                        for (int k = 0; k < data.length; k++) {
                            data[k] = buffer.get(k);
                        }
                    } else {
                        DoubleBuffer buffer = t.getDoubleBuffer();
                        data = new double[buffer.remaining()];
                        buffer.get(data);
                    }
                    out.put(name, data);
                    if (shapesOut != null) {
                        shapesOut.put(name, t.getInfo().getShape());
                    }
                }
            }
            return out;
        } finally {
            feed.values().forEach(OnnxTensor::close);
        }
    }

    private static long product(long[] shape) {
        long p = 1;
        for (long d : shape) {
            p *= d;
        }
        return p;
    }

    private static double[] random(Random random, In in) {
        double[] v = new double[(int) product(in.shape())];
        for (int k = 0; k < v.length; k++) {
            v[k] = in.low() + (in.high() - in.low()) * random.nextDouble();
        }
        return v;
    }

    private static ModelProto singleNodeModel(Case testCase, Random random) {
        GraphProto.Builder g = GraphProto.newBuilder().setName(testCase.op());
        NodeProto.Builder node = NodeProto.newBuilder().setOpType(testCase.op()).setName("node");
        Set<String> declared = new LinkedHashSet<>();
        for (In in : testCase.inputs()) {
            node.addInput(in.name());
            if (!declared.add(in.name())) {
                continue;
            }
            switch (in.kind()) {
                case ACTIVE -> g.addInput(ValueInfoProto.newBuilder().setName(in.name()).setType(floatTensor(testCase)));
                case FROZEN -> {
                    TensorProto.Builder t = TensorProto.newBuilder().setName(in.name())
                            .setDataType(TensorProto.DataType.DOUBLE.getNumber());
                    Arrays.stream(in.shape()).forEach(t::addDims);
                    for (double v : random(random, in)) {
                        t.addDoubleData(v);
                    }
                    g.addInitializer(t);
                }
                case INT64 -> {
                    TensorProto.Builder t = TensorProto.newBuilder().setName(in.name())
                            .setDataType(TensorProto.DataType.INT64.getNumber());
                    Arrays.stream(in.shape()).forEach(t::addDims);
                    Arrays.stream(in.ints()).forEach(t::addInt64Data);
                    g.addInitializer(t);
                }
                case BOOL -> {
                    TensorProto.Builder t = TensorProto.newBuilder().setName(in.name())
                            .setDataType(TensorProto.DataType.BOOL.getNumber());
                    Arrays.stream(in.shape()).forEach(t::addDims);
                    Arrays.stream(in.ints()).forEach(v -> t.addInt32Data((int) v));
                    g.addInitializer(t);
                }
            }
        }
        for (int k = 0; k < testCase.outputs(); k++) {
            node.addOutput("y" + k);
            g.addOutput(ValueInfoProto.newBuilder().setName("y" + k).setType(floatTensor(testCase)));
        }
        testCase.attributes().forEach(node::addAttribute);
        g.addNode(node);
        return ModelProto.newBuilder().setIrVersion(8)
                .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(17))
                .setGraph(g).build();
    }

    private static TypeProto floatTensor(Case testCase) {
        TensorProto.DataType type = testCase.float32() ? TensorProto.DataType.FLOAT : TensorProto.DataType.DOUBLE;
        return TypeProto.newBuilder().setTensorType(TypeProto.Tensor.newBuilder().setElemType(type.getNumber())).build();
    }
}

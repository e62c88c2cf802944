package io.tunestream.model.autodiff;

import ai.onnx.proto.OnnxMl.TensorProto;
import io.tunestream.model.graph.TensorProtoReader;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.Set;

import static io.tunestream.model.autodiff.GraphEmitter.intAttribute;
import static io.tunestream.model.autodiff.GraphEmitter.intsAttribute;
import static io.tunestream.model.autodiff.GraphEmitter.stringAttribute;
import static java.util.Map.entry;

/**
 * The reverse-mode rules, by ONNX op type (opset 17 semantics). {@code dY} is the gradient of the
 * node's first output; {@code unb} sums a gradient back to a broadcast operand's shape at run time.
 * Only the inputs a node {@link NodeGradient#needs needs} get gradients, so frozen weights cost
 * nothing.
 */
final class GradientRules {

    /** Ops whose outputs never carry a gradient (integer, boolean or shape results, constants). */
    static final Set<String> NON_DIFFERENTIABLE = Set.of(
            "Shape", "Size", "Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual", "And", "Or", "Xor",
            "Not", "IsNaN", "IsInf", "ArgMax", "ArgMin", "NonZero", "Range", "ConstantOfShape", "Constant",
            "EyeLike", "RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial",
            "Bernoulli", "OneHot", "Sign", "Floor", "Ceil", "Round", "BitShift", "Mod", "TopK");

    /** Inputs through which a gradient can flow, for ops where that is not all of them. */
    static final Map<String, Set<Integer>> DIFFERENTIABLE_INPUTS = Map.ofEntries(
            entry("Reshape", Set.of(0)), entry("Expand", Set.of(0)), entry("Slice", Set.of(0)),
            entry("Squeeze", Set.of(0)), entry("Unsqueeze", Set.of(0)), entry("Split", Set.of(0)),
            entry("Gather", Set.of(0)), entry("GatherElements", Set.of(0)), entry("Where", Set.of(1, 2)),
            entry("Tile", Set.of(0)), entry("Pad", Set.of(0)), entry("ReduceSum", Set.of(0)),
            entry("ReduceMean", Set.of(0)), entry("Cast", Set.of(0)), entry("CastLike", Set.of(0)), entry("Flatten", Set.of(0)),
            entry("Transpose", Set.of(0)), entry("Softmax", Set.of(0)), entry("LogSoftmax", Set.of(0)),
            entry("LayerNormalization", Set.of(0, 1, 2)), entry("Pow", Set.of(0, 1)), entry("Identity", Set.of(0)));

    private static final Map<String, GradientRule> RULES = Map.ofEntries(
            entry("Add", GradientRules::add),
            entry("Sub", GradientRules::sub),
            entry("Mul", GradientRules::mul),
            entry("Div", GradientRules::div),
            entry("Neg", n -> n.setInputGradient(0, n.emit().op("Neg", n.dY()))),
            entry("Identity", n -> n.setInputGradient(0, n.dY())),
            entry("Cast", n -> n.setInputGradient(0, n.emit().op("CastLike", n.dY(), n.input(0)))),
            entry("CastLike", n -> n.setInputGradient(0, n.emit().op("CastLike", n.dY(), n.input(0)))),
            entry("Pow", GradientRules::pow),
            entry("Sqrt", GradientRules::sqrt),
            entry("Reciprocal", GradientRules::reciprocal),
            entry("Tanh", GradientRules::tanh),
            entry("Sigmoid", GradientRules::sigmoid),
            entry("Erf", GradientRules::erf),
            entry("Exp", n -> n.setInputGradient(0, n.emit().op("Mul", n.dY(), n.output(0)))),
            entry("Log", n -> n.setInputGradient(0, n.emit().op("Div", n.dY(), n.input(0)))),
            entry("Relu", GradientRules::relu),
            entry("MatMul", GradientRules::matMul),
            entry("Gemm", GradientRules::gemm),
            entry("Softmax", GradientRules::softmax),
            entry("LogSoftmax", GradientRules::logSoftmax),
            entry("LayerNormalization", GradientRules::layerNormalization),
            entry("ReduceMean", n -> reduce(n, true)),
            entry("ReduceSum", n -> reduce(n, false)),
            entry("Reshape", GradientRules::reshapeBack),
            entry("Flatten", GradientRules::reshapeBack),
            entry("Squeeze", GradientRules::reshapeBack),
            entry("Unsqueeze", GradientRules::reshapeBack),
            entry("Transpose", GradientRules::transpose),
            entry("Concat", GradientRules::concat),
            entry("Split", GradientRules::split),
            entry("Slice", GradientRules::slice),
            entry("Expand", n -> n.setInputGradient(0, n.emit().unbroadcast(n.dY(), n.input(0)))),
            entry("Where", GradientRules::where),
            entry("Gather", GradientRules::gather),
            entry("GatherElements", GradientRules::gatherElements));

    private GradientRules() {
    }

    static Optional<GradientRule> forOp(String opType) {
        return Optional.ofNullable(RULES.get(opType));
    }

    /** The op types that have a rule. */
    static Set<String> supportedOps() {
        return RULES.keySet();
    }

    // ---- elementwise -----------------------------------------------------------------------

    private static void add(NodeGradient n) {
        for (int i = 0; i < 2; i++) {
            if (n.needs(i)) {
                n.setInputGradient(i, n.unbroadcastToInput(n.dY(), i));
            }
        }
    }

    private static void sub(NodeGradient n) {
        GraphEmitter e = n.emit();
        if (n.needs(0)) {
            n.setInputGradient(0, n.unbroadcastToInput(n.dY(), 0));
        }
        if (n.needs(1)) {
            n.setInputGradient(1, n.unbroadcastToInput(e.op("Neg", n.dY()), 1));
        }
    }

    private static void mul(NodeGradient n) {
        GraphEmitter e = n.emit();
        if (n.needs(0)) {
            n.setInputGradient(0, n.unbroadcastToInput(e.op("Mul", n.dY(), n.input(1)), 0));
        }
        if (n.needs(1)) {
            n.setInputGradient(1, n.unbroadcastToInput(e.op("Mul", n.dY(), n.input(0)), 1));
        }
    }

    private static void div(NodeGradient n) {
        GraphEmitter e = n.emit();
        String b = n.input(1);
        if (n.needs(0)) {
            n.setInputGradient(0, n.unbroadcastToInput(e.op("Div", n.dY(), b), 0));
        }
        if (n.needs(1)) {
            // d(A/B)/dB = -A/B² = -Y/B
            String g = e.op("Neg", e.op("Div", e.op("Mul", n.dY(), n.output(0)), b));
            n.setInputGradient(1, n.unbroadcastToInput(g, 1));
        }
    }

    private static void pow(NodeGradient n) {
        if (n.needs(1)) {
            throw n.failure("the exponent '" + n.input(1) + "' depends on a trainable input; only a constant "
                    + "exponent is supported");
        }
        GraphEmitter e = n.emit();
        String a = n.input(0);
        OptionalDouble constant = n.constant(n.input(1)).filter(t -> t.getDimsCount() == 0)
                .map(TensorProtoReader::scalar).orElse(OptionalDouble.empty());
        String slope;
        if (constant.isPresent() && constant.getAsDouble() == 2) {
            slope = e.op("Mul", a, e.scalar(2));
        } else if (constant.isPresent() && constant.getAsDouble() == 3) {
            // GELU's x³: x·x is much cheaper than Pow
            slope = e.op("Mul", e.op("Mul", a, a), e.scalar(3));
        } else if (constant.isPresent()) {
            double p = constant.getAsDouble();
            slope = e.op("Mul", e.op("Pow", a, e.scalar(p - 1)), e.scalar(p));
        } else {
            String p = e.op("CastLike", n.input(1), a);
            slope = e.op("Mul", p, e.op("Pow", a, e.op("Sub", p, e.scalar(1))));
        }
        n.setInputGradient(0, n.unbroadcastToInput(e.op("Mul", n.dY(), slope), 0));
    }

    private static void sqrt(NodeGradient n) {
        GraphEmitter e = n.emit();
        n.setInputGradient(0, e.op("Div", n.dY(), e.op("Mul", n.output(0), e.scalar(2))));
    }

    private static void reciprocal(NodeGradient n) {
        GraphEmitter e = n.emit();
        String y = n.output(0);
        n.setInputGradient(0, e.op("Neg", e.op("Mul", n.dY(), e.op("Mul", y, y))));
    }

    private static void tanh(NodeGradient n) {
        GraphEmitter e = n.emit();
        String y = n.output(0);
        n.setInputGradient(0, e.op("Mul", n.dY(), e.op("Sub", e.scalar(1), e.op("Mul", y, y))));
    }

    private static void sigmoid(NodeGradient n) {
        GraphEmitter e = n.emit();
        String y = n.output(0);
        n.setInputGradient(0, e.op("Mul", n.dY(), e.op("Mul", y, e.op("Sub", e.scalar(1), y))));
    }

    private static void erf(NodeGradient n) {
        GraphEmitter e = n.emit();
        String a = n.input(0);
        String gauss = e.op("Exp", e.op("Neg", e.op("Mul", a, a)));
        n.setInputGradient(0, e.op("Mul", n.dY(), e.op("Mul", gauss, e.scalar(2 / Math.sqrt(Math.PI)))));
    }

    private static void relu(NodeGradient n) {
        GraphEmitter e = n.emit();
        String positive = e.op("Greater", n.input(0), e.op("CastLike", e.scalar(0), n.input(0)));
        n.setInputGradient(0, e.op("Where", List.of(positive, n.dY(), e.scalar(0))));
    }

    private static void where(NodeGradient n) {
        GraphEmitter e = n.emit();
        String c = n.input(0);
        String zero = e.scalar(0);
        if (n.needs(1)) {
            n.setInputGradient(1, n.unbroadcastToInput(e.op("Where", List.of(c, n.dY(), zero)), 1));
        }
        if (n.needs(2)) {
            n.setInputGradient(2, n.unbroadcastToInput(e.op("Where", List.of(c, zero, n.dY())), 2));
        }
    }

    // ---- linear algebra --------------------------------------------------------------------

    /**
     * MatMul with numpy semantics: dA = unb(dY·Bᵀ), dB = unb(Aᵀ·dY) over the last two axes. A
     * constant rank-2 operand is transposed with a fixed perm (folded by ONNX Runtime), and then
     * the other operand's gradient already has its exact shape. 1-D operands are not supported.
     */
    private static void matMul(NodeGradient n) {
        GraphEmitter e = n.emit();
        String a = n.input(0);
        String b = n.input(1);
        if (n.needs(0)) {
            if (constantRank(n, b) == 2) {
                n.setInputGradient(0, e.op("MatMul", n.dY(), e.op("Transpose", b, intsAttribute("perm", 1, 0))));
            } else {
                n.setInputGradient(0, e.unbroadcast(e.op("MatMul", n.dY(), e.swapLastTwoAxes(b)), a));
            }
        }
        if (n.needs(1)) {
            if (constantRank(n, a) == 2) {
                n.setInputGradient(1, e.unbroadcast(
                        e.op("MatMul", e.op("Transpose", a, intsAttribute("perm", 1, 0)), n.dY()), b));
            } else {
                n.setInputGradient(1, e.unbroadcast(e.op("MatMul", e.swapLastTwoAxes(a), n.dY()), b));
            }
        }
    }

    private static int constantRank(NodeGradient n, String name) {
        return n.constant(name).map(TensorProto::getDimsCount).orElse(-1);
    }

    /** Y = alpha·A'·B' + beta·C with A' = transA ? Aᵀ : A, B' likewise; the backward stays Gemm. */
    private static void gemm(NodeGradient n) {
        GraphEmitter e = n.emit();
        long transA = n.intAttribute("transA", 0);
        long transB = n.intAttribute("transB", 0);
        float alpha = n.floatAttribute("alpha", 1f);
        float beta = n.floatAttribute("beta", 1f);
        String dY = n.dY();
        String a = n.input(0);
        String b = n.input(1);
        if (n.needs(0)) {
            String dA = transA == 0
                    ? e.op("Gemm", dY, b, intAttribute("transB", 1 - transB), GraphEmitter.floatAttribute("alpha", alpha))
                    : e.op("Gemm", b, dY, intAttribute("transA", transB), intAttribute("transB", 1),
                    GraphEmitter.floatAttribute("alpha", alpha));
            n.setInputGradient(0, dA);
        }
        if (n.needs(1)) {
            String dB = transB == 0
                    ? e.op("Gemm", a, dY, intAttribute("transA", 1 - transA), GraphEmitter.floatAttribute("alpha", alpha))
                    : e.op("Gemm", dY, a, intAttribute("transA", 1), intAttribute("transB", transA),
                    GraphEmitter.floatAttribute("alpha", alpha));
            n.setInputGradient(1, dB);
        }
        if (n.hasInput(2) && n.needs(2)) {
            String scaled = beta == 1f ? dY : e.op("Mul", dY, e.scalar(beta));
            n.setInputGradient(2, n.unbroadcastToInput(scaled, 2));
        }
    }

    // ---- normalisations --------------------------------------------------------------------

    private static void softmax(NodeGradient n) {
        GraphEmitter e = n.emit();
        String y = n.output(0);
        String axes = e.ints(n.intAttribute("axis", -1));
        String dot = e.op("ReduceSum", List.of(e.op("Mul", n.dY(), y), axes), intAttribute("keepdims", 1));
        n.setInputGradient(0, e.op("Mul", y, e.op("Sub", n.dY(), dot)));
    }

    private static void logSoftmax(NodeGradient n) {
        GraphEmitter e = n.emit();
        String axes = e.ints(n.intAttribute("axis", -1));
        String total = e.op("ReduceSum", List.of(n.dY(), axes), intAttribute("keepdims", 1));
        n.setInputGradient(0, e.op("Sub", n.dY(), e.op("Mul", e.op("Exp", n.output(0)), total)));
    }

    /**
     * dX = r·(g − mean(g) − x̂·mean(g·x̂)) with g = dY·γ, x̂ = (X − μ)·r over the normalized axes;
     * μ and r are the forward node's Mean and InvStdDev outputs (the builder asks for them), so
     * nothing is recomputed. dγ = Σ dY·x̂ and dβ = Σ dY over the leading axes, when they are trainable.
     * Computed on [outer, inner] views (Flatten at the node's axis) so the rank need not be known.
     */
    private static void layerNormalization(NodeGradient n) {
        if (n.outputCount() < 3) {
            throw n.failure("the Mean and InvStdDev outputs were not requested from the forward node");
        }
        GraphEmitter e = n.emit();
        long axis = n.intAttribute("axis", -1);
        String x = n.input(0);
        var flat = intAttribute("axis", axis);
        String normalizedShape = e.op("Slice", List.of(e.shape(x), e.ints(axis), e.ints(Long.MAX_VALUE)));
        String x2 = e.op("Flatten", x, flat);
        String dY2 = e.op("Flatten", n.dY(), flat);
        String mean2 = e.op("CastLike", e.op("Flatten", n.output(1), flat), x);
        String r2 = e.op("CastLike", e.op("Flatten", n.output(2), flat), x);
        String xHat = e.op("Mul", e.op("Sub", x2, mean2), r2);
        var keep = intAttribute("keepdims", 1);
        if (n.needs(0)) {
            String gamma = e.op("Reshape", e.op("Expand", n.input(1), normalizedShape), e.ints(1, -1));
            String g = e.op("Mul", dY2, gamma);
            var lastAxis = intsAttribute("axes", -1);
            String meanG = e.op("ReduceMean", g, lastAxis, keep);
            String meanGx = e.op("ReduceMean", e.op("Mul", g, xHat), lastAxis, keep);
            String inner = e.op("Sub", e.op("Sub", g, meanG), e.op("Mul", xHat, meanGx));
            n.setInputGradient(0, e.reshapeLike(e.op("Mul", r2, inner), x));
        }
        if (n.needs(1)) {
            String sum = e.op("ReduceSum", List.of(e.op("Mul", dY2, xHat), e.ints(0)), keep);
            n.setInputGradient(1, e.unbroadcast(e.op("Reshape", sum, normalizedShape), n.input(1)));
        }
        if (n.hasInput(2) && n.needs(2)) {
            String sum = e.op("ReduceSum", List.of(dY2, e.ints(0)), keep);
            n.setInputGradient(2, e.unbroadcast(e.op("Reshape", sum, normalizedShape), n.input(2)));
        }
    }

    /**
     * ReduceMean and ReduceSum: dY unsqueezed back (keepdims 0) and expanded to the input's shape,
     * divided by the number of reduced elements for the mean.
     */
    private static void reduce(NodeGradient n, boolean mean) {
        GraphEmitter e = n.emit();
        String x = n.input(0);
        String dY = n.dY();
        long keepdims = n.intAttribute("keepdims", 1);
        // axes: an attribute up to opset 17 for ReduceMean, an input since opset 13 (ReduceSum) and 18 (ReduceMean)
        String axes = null;
        Optional<long[]> attr = n.intsAttribute("axes");
        if (attr.isPresent()) {
            axes = e.ints(attr.get());
        } else if (n.hasInput(1)) {
            axes = n.input(1);
        }
        boolean identity = n.intAttribute("noop_with_empty_axes", 0) == 1 && axes == null;
        if (identity) {
            n.setInputGradient(0, dY);
            return;
        }
        String g = dY;
        if (keepdims == 0 && axes != null) {
            g = e.op("Unsqueeze", g, axes);
        }
        g = e.op("Expand", g, e.shape(x));
        if (mean) {
            String count = e.op("Div", e.op("Size", x), e.op("Size", n.output(0)));
            g = e.op("Div", g, e.op("CastLike", count, g));
        }
        n.setInputGradient(0, g);
    }

    // ---- shapes and data movement ----------------------------------------------------------

    private static void reshapeBack(NodeGradient n) {
        n.setInputGradient(0, n.emit().reshapeLike(n.dY(), n.input(0)));
    }

    private static void transpose(NodeGradient n) {
        long[] perm = n.intsAttribute("perm").orElseThrow(() ->
                n.failure("Transpose without 'perm' (reversed axes) is not supported; give the perm explicitly"));
        long[] inverse = new long[perm.length];
        for (int i = 0; i < perm.length; i++) {
            inverse[(int) perm[i]] = i;
        }
        n.setInputGradient(0, n.emit().op("Transpose", n.dY(), intsAttribute("perm", inverse)));
    }

    /** Slices dY at the run-time offsets of each input along the axis. */
    private static void concat(NodeGradient n) {
        GraphEmitter e = n.emit();
        String axis = e.ints(n.intAttribute("axis", 0));
        String offset = e.ints(0);
        for (int i = 0; i < n.inputCount(); i++) {
            String size = e.op("Gather", e.shape(n.input(i)), axis);
            String end = e.op("Add", offset, size);
            if (n.needs(i)) {
                n.setInputGradient(i, e.op("Slice", List.of(n.dY(), offset, end, axis)));
            }
            offset = end;
        }
    }

    /** Concat of the outputs' gradients, zeros for outputs that do not reach the loss. */
    private static void split(NodeGradient n) {
        GraphEmitter e = n.emit();
        List<String> parts = new ArrayList<>();
        for (int i = 0; i < n.outputCount(); i++) {
            String g = n.outputGradient(i);
            parts.add(g != null ? g : e.zerosLike(n.output(i)));
        }
        n.setInputGradient(0, e.op("Concat", parts, intAttribute("axis", n.intAttribute("axis", 0))));
    }

    /**
     * Pads dY with zeros back to the input's shape. Starts and ends are normalised and clamped at
     * run time as Slice does; pads are scattered into a zero vector of the input's rank, so
     * neither the rank nor the slice bounds need to be constant. Steps other than 1 are rejected.
     */
    private static void slice(NodeGradient n) {
        if (n.hasInput(4)) {
            Optional<TensorProto> steps = n.constant(n.input(4));
            if (steps.isEmpty() || !allOnes(steps.get())) {
                throw n.failure("Slice steps other than a constant 1 are not supported (steps '" + n.input(4) + "')");
            }
        }
        GraphEmitter e = n.emit();
        String x = n.input(0);
        String shapeX = e.shape(x);
        String rank = e.op("Size", shapeX);
        String starts = n.input(1);
        String ends = n.input(2);
        String axes = n.hasInput(3) ? n.input(3)
                : e.op("Range", List.of(e.int64Scalar(0), e.op("Size", starts), e.int64Scalar(1)));
        String zero = e.int64Scalar(0);
        String normAxes = e.op("Where", List.of(e.op("Less", axes, zero), e.op("Add", axes, rank), axes));
        String dims = e.op("Gather", shapeX, normAxes);
        String begin = clampIndex(e, starts, dims);
        String end = e.op("Max", clampIndex(e, ends, dims), begin);
        String rankVector = e.op("Unsqueeze", rank, e.ints(0));
        String zeros = e.op("ConstantOfShape", List.of(rankVector), GraphEmitter.tensorAttribute("value",
                TensorProto.newBuilder().setDataType(TensorProto.DataType.INT64.getNumber()).addDims(1)
                        .addInt64Data(0).build()));
        String padBegin = e.op("ScatterElements", List.of(zeros, normAxes, begin), intAttribute("axis", 0));
        String padEnd = e.op("ScatterElements", List.of(zeros, normAxes, e.op("Sub", dims, end)),
                intAttribute("axis", 0));
        String pads = e.op("Concat", List.of(padBegin, padEnd), intAttribute("axis", 0));
        n.setInputGradient(0, e.op("Pad", List.of(n.dY(), pads, e.scalar(0)), stringAttribute("mode", "constant")));
    }

    private static String clampIndex(GraphEmitter e, String index, String dims) {
        String zero = e.int64Scalar(0);
        String wrapped = e.op("Where", List.of(e.op("Less", index, zero), e.op("Add", index, dims), index));
        return e.op("Min", e.op("Max", wrapped, zero), dims);
    }

    private static boolean allOnes(TensorProto t) {
        if (t.getDataType() != TensorProto.DataType.INT64.getNumber() && t.getDataType() != TensorProto.DataType.INT32.getNumber()) {
            return false;
        }
        return Arrays.stream(TensorProtoReader.longs(t)).allMatch(v -> v == 1L);
    }

    /** Gather along axis 0 of activations: scatter-add dY into zeros of the data's shape. */
    private static void gather(NodeGradient n) {
        long axis = n.intAttribute("axis", 0);
        if (axis != 0) {
            throw n.failure("Gather on activations along axis " + axis + " is not supported (only axis 0)");
        }
        GraphEmitter e = n.emit();
        String data = n.input(0);
        String indices = wrapNegative(e, n.input(1), e.op("Gather", e.shape(data), e.ints(0)));
        String zeros = e.zerosLike(data);
        String scatterIndices = e.op("Unsqueeze", indices, e.ints(-1));
        n.setInputGradient(0, e.op("ScatterND", List.of(zeros, scatterIndices, n.dY()),
                stringAttribute("reduction", "add")));
    }

    private static void gatherElements(NodeGradient n) {
        GraphEmitter e = n.emit();
        long axis = n.intAttribute("axis", 0);
        String data = n.input(0);
        String size = e.op("Gather", e.shape(data), e.ints(axis));
        String indices = wrapNegative(e, n.input(1), size);
        n.setInputGradient(0, e.op("ScatterElements", List.of(e.zerosLike(data), indices, n.dY()),
                intAttribute("axis", axis), stringAttribute("reduction", "add")));
    }

    private static String wrapNegative(GraphEmitter e, String indices, String size) {
        String idx = e.op("Cast", indices, intAttribute("to", TensorProto.DataType.INT64.getNumber()));
        return e.op("Where", List.of(e.op("Less", idx, e.int64Scalar(0)), e.op("Add", idx, size), idx));
    }
}

package io.tunestream.model.autodiff;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Appends the nodes of a gradient computation to a graph under construction and names their
 * outputs uniquely. Everything shape-dependent is computed at run time with {@code Shape} ops, so
 * the emitted graph stays valid for every batch size and sequence length (including 1).
 *
 * <p>One instance per build; not thread-safe.
 */
final class GraphEmitter {

    private final String prefix;
    private final int floatType;
    private final List<NodeProto> nodes = new ArrayList<>();
    private final List<TensorProto> initializers = new ArrayList<>();
    private final Map<String, String> constants = new HashMap<>();
    private final Map<String, String> shapes = new HashMap<>();
    private int counter;

    /**
     * @param prefix    prefix of every emitted name, chosen not to collide with the forward graph
     * @param floatType ONNX element type of the differentiated tensors (FLOAT or DOUBLE)
     */
    GraphEmitter(String prefix, int floatType) {
        this.prefix = prefix;
        this.floatType = floatType;
    }

    int floatType() {
        return floatType;
    }

    List<NodeProto> nodes() {
        return nodes;
    }

    List<TensorProto> initializers() {
        return initializers;
    }

    String fresh(String hint) {
        return prefix + hint + "_" + (counter++);
    }

    /** Emits one node with one output and returns the output's name. */
    String op(String opType, List<String> inputs, AttributeProto... attributes) {
        return ops(opType, inputs, 1, attributes).get(0);
    }

    String op(String opType, String input, AttributeProto... attributes) {
        return op(opType, List.of(input), attributes);
    }

    String op(String opType, String a, String b, AttributeProto... attributes) {
        return op(opType, List.of(a, b), attributes);
    }

    /** Emits one node with {@code outputs} outputs. */
    List<String> ops(String opType, List<String> inputs, int outputs, AttributeProto... attributes) {
        String name = fresh(opType);
        NodeProto.Builder node = NodeProto.newBuilder().setOpType(opType).setName(name).addAllInput(inputs);
        List<String> names = new ArrayList<>();
        for (int i = 0; i < outputs; i++) {
            names.add(name + "_out" + i);
        }
        node.addAllOutput(names);
        for (AttributeProto a : attributes) {
            node.addAttribute(a);
        }
        nodes.add(node.build());
        return names;
    }

    /** Adds a node built elsewhere (its output names must be unique). */
    void add(NodeProto node) {
        nodes.add(node);
    }

    // ---- constants -------------------------------------------------------------------------

    /** A scalar (rank 0) of the differentiated float type. */
    String scalar(double value) {
        return constants.computeIfAbsent("s" + floatType + ":" + value, k -> {
            String name = fresh("const");
            TensorProto.Builder t = TensorProto.newBuilder().setName(name).setDataType(floatType);
            if (floatType == TensorProto.DataType.DOUBLE.getNumber()) {
                t.addDoubleData(value);
            } else {
                t.addFloatData((float) value);
            }
            initializers.add(t.build());
            return name;
        });
    }

    /** A rank-1 int64 tensor. */
    String ints(long... values) {
        StringBuilder key = new StringBuilder("i");
        for (long v : values) {
            key.append(':').append(v);
        }
        return constants.computeIfAbsent(key.toString(), k -> {
            String name = fresh("ints");
            TensorProto.Builder t = TensorProto.newBuilder().setName(name)
                    .setDataType(TensorProto.DataType.INT64.getNumber()).addDims(values.length);
            for (long v : values) {
                t.addInt64Data(v);
            }
            initializers.add(t.build());
            return name;
        });
    }

    /** A rank-0 int64 tensor. */
    String int64Scalar(long value) {
        return constants.computeIfAbsent("i0:" + value, k -> {
            String name = fresh("int");
            initializers.add(TensorProto.newBuilder().setName(name)
                    .setDataType(TensorProto.DataType.INT64.getNumber()).addInt64Data(value).build());
            return name;
        });
    }

    // ---- shapes ----------------------------------------------------------------------------

    /** {@code Shape(x)}, emitted once per tensor. */
    String shape(String x) {
        return shapes.computeIfAbsent(x, k -> op("Shape", x));
    }

    /** Zeros of the differentiated float type with the run-time shape of {@code like}. */
    String zerosLike(String like) {
        return op("ConstantOfShape", List.of(shape(like)), tensorAttribute("value", zeroValue()));
    }

    private TensorProto zeroValue() {
        TensorProto.Builder t = TensorProto.newBuilder().setDataType(floatType).addDims(1);
        if (floatType == TensorProto.DataType.DOUBLE.getNumber()) {
            t.addDoubleData(0.0);
        } else {
            t.addFloatData(0f);
        }
        return t.build();
    }

    /** {@code Reshape(g, Shape(like))}. */
    String reshapeLike(String g, String like) {
        return op("Reshape", g, shape(like));
    }

    /**
     * Sums a gradient {@code g} of a broadcast result back to the shape of the operand {@code x}
     * (numpy broadcasting). The reduced axes are decided at run time: the leading axes {@code g}
     * has in excess of {@code x}, and the axes where {@code x} has 1 and {@code g} does not. The
     * single ReduceSum keeps dims and is a no-op (noop_with_empty_axes) when nothing was broadcast;
     * the final Reshape drops the leading axes. Deciding from static shapes would be wrong when a
     * symbolic dimension happens to be 1.
     */
    String unbroadcast(String g, String x) {
        String shapeG = shape(g);
        String shapeX = shape(x);
        String rankG = op("Size", shapeG);
        String rankX = op("Size", shapeX);
        String extra = op("Unsqueeze", op("Sub", rankG, rankX), ints(0));
        String ones = op("ConstantOfShape", List.of(extra), tensorAttribute("value", TensorProto.newBuilder()
                .setDataType(TensorProto.DataType.INT64.getNumber()).addDims(1).addInt64Data(1).build()));
        String paddedX = op("Concat", List.of(ones, shapeX), intAttribute("axis", 0));
        String one = ints(1);
        String broadcast = op("And", op("Equal", paddedX, one), op("Not", op("Equal", shapeG, one)));
        String axes = op("Reshape", op("NonZero", broadcast), ints(-1));
        String summed = op("ReduceSum", List.of(g, axes), intAttribute("keepdims", 1),
                intAttribute("noop_with_empty_axes", 1));
        return op("Reshape", summed, shapeX);
    }

    /**
     * Swaps the last two axes of a tensor of any rank ≥ 2 without knowing the rank when the graph
     * is built: reshape to [-1, m, n], transpose, reshape to [..., n, m].
     */
    String swapLastTwoAxes(String x) {
        String shapeX = shape(x);
        String leading = op("Slice", List.of(shapeX, ints(0), ints(-2)));
        String m = op("Slice", List.of(shapeX, ints(-2), ints(-1)));
        String n = op("Slice", List.of(shapeX, ints(-1), ints(Long.MAX_VALUE)));
        String threeD = op("Reshape", x, op("Concat", List.of(ints(-1), m, n), intAttribute("axis", 0)));
        String transposed = op("Transpose", threeD, intsAttribute("perm", 0, 2, 1));
        return op("Reshape", transposed, op("Concat", List.of(leading, n, m), intAttribute("axis", 0)));
    }

    // ---- attributes ------------------------------------------------------------------------

    static AttributeProto intAttribute(String name, long value) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.INT).setI(value).build();
    }

    static AttributeProto floatAttribute(String name, float value) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.FLOAT).setF(value).build();
    }

    static AttributeProto intsAttribute(String name, long... values) {
        AttributeProto.Builder a = AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.INTS);
        for (long v : values) {
            a.addInts(v);
        }
        return a.build();
    }

    static AttributeProto stringAttribute(String name, String value) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.STRING)
                .setS(com.google.protobuf.ByteString.copyFromUtf8(value)).build();
    }

    static AttributeProto tensorAttribute(String name, TensorProto value) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.TENSOR).setT(value).build();
    }
}

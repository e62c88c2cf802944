package io.tunestream.model.tune;

import ai.onnx.proto.OnnxMl;

import java.util.ArrayList;
import java.util.List;

/**
 * A prompt encoder's forward pass (no dropout) as a standalone ONNX graph: every parameter tensor of
 * the {@link ParameterLayout} is a graph input of the same name and shape, the output
 * {@link #TABLE} is the [virtualTokens, hidden] table. The LSTM is unrolled over the fixed number of
 * virtual tokens, so the graph uses only MatMul, Add, Mul, Pow, Relu, Sigmoid, Tanh, Slice and Concat:
 * ops the autodiff engine has rules for. {@code GradientGraphBuilder.vectorJacobianProduct} with the
 * table's gradient as seed then gives the parameter gradients "by the same differentiation" as the
 * decoder, or the graph can be put in front of the decoder's training graph. Pure protobuf.
 */
public final class EncoderGraph {

    /** Name of the output: the virtual-token table. */
    public static final String TABLE = "virtual_tokens";
    private static final int OPSET = 17;

    private final int elemType;
    private final List<OnnxMl.NodeProto> nodes = new ArrayList<>();
    private final List<OnnxMl.TensorProto> initializers = new ArrayList<>();
    private int counter;

    private EncoderGraph(int elemType) {
        this.elemType = elemType;
    }

    /**
     * The forward graph of {@code encoder} in {@code elemType} (FLOAT or DOUBLE).
     */
    public static OnnxMl.ModelProto forward(PromptEncoder encoder, OnnxMl.TensorProto.DataType elemType) {
        if (elemType != OnnxMl.TensorProto.DataType.FLOAT && elemType != OnnxMl.TensorProto.DataType.DOUBLE) {
            throw new IllegalArgumentException("encoder graphs are FLOAT or DOUBLE, not " + elemType);
        }
        EncoderGraph g = new EncoderGraph(elemType.getNumber());
        String table = switch (encoder.config().type()) {
            case EMBEDDING -> g.op("Identity", EmbeddingEncoder.TABLE);
            case TPMLP -> g.tpmlp();
            case MLP -> g.mlp((MlpEncoder) encoder);
            case LSTM -> g.lstm((LstmEncoder) encoder);
        };
        OnnxMl.GraphProto.Builder graph = OnnxMl.GraphProto.newBuilder().setName("prompt_encoder_" + encoder.config().type().nemoName());
        for (ParameterLayout.Tensor t : encoder.layout().tensors()) {
            graph.addInput(g.valueInfo(t.name(), t.shape()));
        }
        g.nodes.add(OnnxMl.NodeProto.newBuilder().setOpType("Identity").setName("table").addInput(table).addOutput(TABLE).build());
        graph.addAllNode(g.nodes).addAllInitializer(g.initializers)
                .addOutput(g.valueInfo(TABLE, new int[]{encoder.config().virtualTokens(), encoder.hidden()}));
        return OnnxMl.ModelProto.newBuilder().setIrVersion(8).setProducerName("tunestream")
                .addOpsetImport(OnnxMl.OperatorSetIdProto.newBuilder().setDomain("").setVersion(OPSET))
                .setGraph(graph).build();
    }

    private String tpmlp() {
        String a = linear("input_embedding", "first.weight", "first.bias");
        // GELU, tanh approximation: 0.5·a·(1 + tanh(√(2/π)·(a + 0.044715·a³)))
        String cube = op("Pow", a, scalar(3));
        String inner = op("Mul", op("Add", a, op("Mul", cube, scalar(0.044715))), scalar(Math.sqrt(2 / Math.PI)));
        String gelu = op("Mul", op("Mul", a, scalar(0.5)), op("Add", op("Tanh", inner), scalar(1)));
        return linear(gelu, "second.weight", "second.bias");
    }

    private String mlp(MlpEncoder m) {
        String x = "input_embedding";
        int layers = m.widths().length - 1;
        for (int l = 0; l < layers; l++) {
            x = linear(x, "layers." + l + ".weight", "layers." + l + ".bias");
            if (l + 1 < layers) {
                x = op("Relu", x);
            }
        }
        return x;
    }

    private String lstm(LstmEncoder l) {
        int n = l.config().virtualTokens();
        int units = l.config().encoderHidden();
        String x = "input_embedding";
        for (int layer = 0; layer < l.config().numLayers(); layer++) {
            String[][] outputs = new String[2][n];
            for (int d = 0; d < 2; d++) {
                String p = "lstm." + layer + "." + (d == 0 ? "forward" : "backward") + ".";
                String h = null;
                String c = null;
                for (int s = 0; s < n; s++) {
                    int t = d == 0 ? s : n - 1 - s;
                    String xt = slice(x, t, t + 1, 0);
                    String pre = op("Add", op("MatMul", xt, p + "w_input"), p + "bias");
                    if (h != null) {
                        pre = op("Add", pre, op("MatMul", h, p + "w_hidden"));
                    }
                    String i = op("Sigmoid", slice(pre, 0, units, 1));
                    String f = op("Sigmoid", slice(pre, units, 2 * units, 1));
                    String g = op("Tanh", slice(pre, 2 * units, 3 * units, 1));
                    String o = op("Sigmoid", slice(pre, 3 * units, 4 * units, 1));
                    String ig = op("Mul", i, g);
                    c = c == null ? ig : op("Add", op("Mul", f, c), ig);
                    h = op("Mul", o, op("Tanh", c));
                    outputs[d][t] = h;
                }
            }
            List<String> rows = new ArrayList<>();
            for (int t = 0; t < n; t++) {
                rows.add(concat(List.of(outputs[0][t], outputs[1][t]), 1));
            }
            x = concat(rows, 0);
        }
        String hidden = op("Relu", linear(x, "head.0.weight", "head.0.bias"));
        return linear(hidden, "head.1.weight", "head.1.bias");
    }

    private String linear(String x, String weight, String bias) {
        return op("Add", op("MatMul", x, weight), bias);
    }

    private String slice(String x, int start, int end, int axis) {
        return op("Slice", x, int64(start), int64(end), int64(axis));
    }

    private String concat(List<String> parts, int axis) {
        if (parts.size() == 1) {
            return parts.get(0);
        }
        String out = "enc/" + (counter++);
        nodes.add(OnnxMl.NodeProto.newBuilder().setOpType("Concat").setName(out).addAllInput(parts).addOutput(out)
                .addAttribute(OnnxMl.AttributeProto.newBuilder().setName("axis").setType(OnnxMl.AttributeProto.AttributeType.INT)
                        .setI(axis)).build());
        return out;
    }

    private String op(String type, String... inputs) {
        String out = "enc/" + (counter++);
        nodes.add(OnnxMl.NodeProto.newBuilder().setOpType(type).setName(out).addAllInput(List.of(inputs)).addOutput(out).build());
        return out;
    }

    private String scalar(double value) {
        String name = "enc/const/" + (counter++);
        OnnxMl.TensorProto.Builder t = OnnxMl.TensorProto.newBuilder().setName(name).setDataType(elemType);
        if (elemType == OnnxMl.TensorProto.DataType.DOUBLE.getNumber()) {
            t.addDoubleData(value);
        } else {
            t.addFloatData((float) value);
        }
        initializers.add(t.build());
        return name;
    }

    private String int64(long value) {
        String name = "enc/const/" + (counter++);
        initializers.add(OnnxMl.TensorProto.newBuilder().setName(name)
                .setDataType(OnnxMl.TensorProto.DataType.INT64.getNumber()).addDims(1).addInt64Data(value).build());
        return name;
    }

    private OnnxMl.ValueInfoProto valueInfo(String name, int[] shape) {
        // symbolic dims: the engine's gradient graphs compute shapes at run time, and fully static
        // shapes let ONNX Runtime's shape inference trip over its rank-generic shape arithmetic
        OnnxMl.TensorShapeProto.Builder s = OnnxMl.TensorShapeProto.newBuilder();
        for (int i = 0; i < shape.length; i++) {
            s.addDim(OnnxMl.TensorShapeProto.Dimension.newBuilder().setDimParam(name + "_" + i));
        }
        return OnnxMl.ValueInfoProto.newBuilder().setName(name).setType(OnnxMl.TypeProto.newBuilder()
                .setTensorType(OnnxMl.TypeProto.Tensor.newBuilder().setElemType(elemType).setShape(s))).build();
    }
}

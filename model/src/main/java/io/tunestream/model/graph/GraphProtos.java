package io.tunestream.model.graph;

import ai.onnx.proto.OnnxMl;

import java.util.List;

/** Builders of the graph pieces the rewrites add: nodes named under the rewrite's prefix, attributes, value infos. */
final class GraphProtos {

    private GraphProtos() {
    }

    /** A node of the default domain named {@code prefix + op + "/" + output}: unique, and says which rewrite made it. */
    static OnnxMl.NodeProto node(String prefix, String op, List<String> inputs, String output,
                                 OnnxMl.AttributeProto... attributes) {
        OnnxMl.NodeProto.Builder n = OnnxMl.NodeProto.newBuilder().setOpType(op).setName(prefix + op + "/" + output)
                .addAllInput(inputs).addOutput(output);
        for (OnnxMl.AttributeProto a : attributes) {
            n.addAttribute(a);
        }
        return n.build();
    }

    static OnnxMl.AttributeProto intAttr(String name, long value) {
        return OnnxMl.AttributeProto.newBuilder().setName(name).setType(OnnxMl.AttributeProto.AttributeType.INT).setI(value)
                .build();
    }

    static OnnxMl.AttributeProto intsAttr(String name, long... values) {
        OnnxMl.AttributeProto.Builder a = OnnxMl.AttributeProto.newBuilder().setName(name)
                .setType(OnnxMl.AttributeProto.AttributeType.INTS);
        for (long v : values) {
            a.addInts(v);
        }
        return a.build();
    }

    /** A tensor value of an element type and rank, its dimensions unnamed. */
    static OnnxMl.ValueInfoProto info(String name, int elemType, int rank) {
        OnnxMl.TensorShapeProto.Builder shape = OnnxMl.TensorShapeProto.newBuilder();
        for (int d = 0; d < rank; d++) {
            shape.addDim(OnnxMl.TensorShapeProto.Dimension.newBuilder());
        }
        return OnnxMl.ValueInfoProto.newBuilder().setName(name).setType(OnnxMl.TypeProto.newBuilder()
                .setTensorType(OnnxMl.TypeProto.Tensor.newBuilder().setElemType(elemType).setShape(shape))).build();
    }
}

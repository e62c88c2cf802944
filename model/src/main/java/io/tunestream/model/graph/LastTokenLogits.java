package io.tunestream.model.graph;

import ai.onnx.proto.OnnxMl;

import java.util.ArrayList;
import java.util.List;

/**
 * Rewrites a decoder's {@code logits} output [batch, sequence, vocab] into {@code last_logits}
 * [batch, 1, vocab]: the only position generation samples from.
 *
 * <p>When {@code logits} is produced by a {@code MatMul} (the output head), the last position is
 * sliced from the head's input, so the head runs on one position instead of the whole prompt;
 * otherwise the logits themselves are sliced. Either way ONNX Runtime never hands the host a
 * [batch, sequence, vocab] tensor. A pure proto transformation; the serving session uses it (training graphs
 * slice to the positions that carry loss instead, see {@code io.tunestream.model.autodiff.HeadPositions}).
 */
public final class LastTokenLogits {

    /** Name of the output that replaces {@code logits}. */
    public static final String LAST_LOGITS = "last_logits";
    private static final String LOGITS = "logits";
    private static final String PREFIX = "/tunestream/last_logits/";
    /** Name of the node that takes the last position ({@link RowLastPositions} replaces it). */
    static final String LAST_POSITION_SLICE = PREFIX + "Slice";

    private LastTokenLogits() {
    }

    /** @throws IllegalArgumentException if the graph has no {@code logits} output */
    public static OnnxMl.ModelProto rewrite(OnnxMl.ModelProto model) {
        OnnxMl.GraphProto graph = model.getGraph();
        OnnxMl.ValueInfoProto logitsOutput = graph.getOutputList().stream()
                .filter(o -> o.getName().equals(LOGITS)).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("cannot keep the last logits only: the graph has no output '"
                        + LOGITS + "'"));
        OnnxMl.NodeProto head = null;
        for (OnnxMl.NodeProto n : graph.getNodeList()) {
            if (n.getOutputList().contains(LOGITS)) {
                head = n;
            }
        }
        List<OnnxMl.NodeProto> nodes = new ArrayList<>();
        List<OnnxMl.TensorProto> constants = List.of(
                GraphIndex.int64Vector(PREFIX + "starts", -1), GraphIndex.int64Vector(PREFIX + "ends", Long.MAX_VALUE),
                GraphIndex.int64Vector(PREFIX + "axes", 1));
        boolean sliceHiddenState = head != null && head.getOpType().equals("MatMul");
        for (OnnxMl.NodeProto n : graph.getNodeList()) {
            if (sliceHiddenState && n == head) {
                String lastHidden = PREFIX + "last_hidden";
                nodes.add(slice(n.getInput(0), lastHidden));
                nodes.add(OnnxMl.NodeProto.newBuilder().setOpType("MatMul").setName(PREFIX + "MatMul")
                        .addInput(lastHidden).addInput(n.getInput(1)).addOutput(LAST_LOGITS).build());
            } else {
                nodes.add(n);
            }
        }
        if (!sliceHiddenState) {
            nodes.add(slice(LOGITS, LAST_LOGITS));
        }
        OnnxMl.TypeProto.Tensor.Builder type = logitsOutput.getType().getTensorType().toBuilder();
        if (type.getShape().getDimCount() == 3) {
            type.getShapeBuilder().setDim(1, OnnxMl.TensorShapeProto.Dimension.newBuilder().setDimValue(1));
        }
        OnnxMl.ValueInfoProto lastOutput = OnnxMl.ValueInfoProto.newBuilder().setName(LAST_LOGITS)
                .setType(OnnxMl.TypeProto.newBuilder().setTensorType(type)).build();
        OnnxMl.GraphProto.Builder g = graph.toBuilder().clearNode().addAllNode(nodes).addAllInitializer(constants).clearOutput();
        for (OnnxMl.ValueInfoProto o : graph.getOutputList()) {
            g.addOutput(o.getName().equals(LOGITS) ? lastOutput : o);
        }
        return model.toBuilder().setGraph(g).build();
    }

    private static OnnxMl.NodeProto slice(String input, String output) {
        return OnnxMl.NodeProto.newBuilder().setOpType("Slice").setName(LAST_POSITION_SLICE)
                .addInput(input).addInput(PREFIX + "starts").addInput(PREFIX + "ends").addInput(PREFIX + "axes")
                .addOutput(output).build();
    }
}

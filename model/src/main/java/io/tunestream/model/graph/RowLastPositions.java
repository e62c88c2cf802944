package io.tunestream.model.graph;

import ai.onnx.proto.OnnxMl;

import java.util.ArrayList;
import java.util.List;

/**
 * Rewrites a graph whose {@code last_logits} come from {@link LastTokenLogits}' slice of the last position into one
 * that takes each row's own last position, given as the input {@link #LAST_POSITIONS}: the logits of right-padded
 * prompts, whose rows end at different positions (the in-place prefill, rows left-aligned in the KV buffers).
 *
 * <p>The slice becomes {@code GatherND(x, last_positions, batch_dims=1)} at the same place (on the head's input when
 * {@link LastTokenLogits} sliced there, so the head still runs on one position a row). The gathered positions a row
 * are left free (usually one): gathering several gives the logits of each, [batch, positions, vocab], with the head
 * run on those positions only (the verification of a prompt-lookup draft takes every fed position). A pure proto
 * transformation.
 */
public final class RowLastPositions {

    /**
     * Input: int64 [batch, positions, 1], the positions of row b whose logits {@code last_logits} [batch, positions,
     * vocab] holds: its last real one for a prompt.
     */
    public static final String LAST_POSITIONS = "last_positions";
    private static final String PREFIX = "/tunestream/row_last_positions/";
    /** The free dimension of the positions gathered a row. */
    private static final String GATHERED = "gathered_positions";

    private RowLastPositions() {
    }

    /**
     * @param model a graph rewritten by {@link LastTokenLogits}
     * @throws IllegalArgumentException if the graph has no last-position slice, or imports an ONNX opset below 12
     *                                  (GatherND's batch_dims)
     */
    public static OnnxMl.ModelProto rewrite(OnnxMl.ModelProto model) {
        long opset = model.getOpsetImportList().stream()
                .filter(o -> o.getDomain().isEmpty() || o.getDomain().equals("ai.onnx"))
                .mapToLong(OnnxMl.OperatorSetIdProto::getVersion).max().orElse(0);
        if (opset < 12) {
            throw new IllegalArgumentException("gathering each row's last position needs ONNX opset 12 (GatherND's "
                    + "batch_dims); the graph imports opset " + opset);
        }
        OnnxMl.GraphProto graph = model.getGraph();
        List<OnnxMl.NodeProto> nodes = new ArrayList<>(graph.getNodeCount());
        int replaced = 0;
        for (OnnxMl.NodeProto n : graph.getNodeList()) {
            if (n.getName().equals(LastTokenLogits.LAST_POSITION_SLICE) && n.getOpType().equals("Slice")) {
                nodes.add(OnnxMl.NodeProto.newBuilder().setOpType("GatherND").setName(PREFIX + "GatherND")
                        .addInput(n.getInput(0)).addInput(LAST_POSITIONS).addOutput(n.getOutput(0))
                        .addAttribute(OnnxMl.AttributeProto.newBuilder().setName("batch_dims")
                                .setType(OnnxMl.AttributeProto.AttributeType.INT).setI(1))
                        .build());
                replaced++;
            } else {
                nodes.add(n);
            }
        }
        if (replaced != 1) {
            throw new IllegalArgumentException("expected one last-position slice (" + LastTokenLogits.LAST_POSITION_SLICE
                    + "), found " + replaced);
        }
        OnnxMl.TensorShapeProto.Builder shape = OnnxMl.TensorShapeProto.newBuilder()
                .addDim(OnnxMl.TensorShapeProto.Dimension.newBuilder().setDimParam("batch_size"))
                .addDim(OnnxMl.TensorShapeProto.Dimension.newBuilder().setDimParam(GATHERED))
                .addDim(OnnxMl.TensorShapeProto.Dimension.newBuilder().setDimValue(1));
        OnnxMl.ValueInfoProto input = OnnxMl.ValueInfoProto.newBuilder().setName(LAST_POSITIONS)
                .setType(OnnxMl.TypeProto.newBuilder().setTensorType(OnnxMl.TypeProto.Tensor.newBuilder()
                        .setElemType(OnnxMl.TensorProto.DataType.INT64.getNumber()).setShape(shape))).build();
        OnnxMl.GraphProto.Builder g = graph.toBuilder().clearNode().addAllNode(nodes).addInput(input).clearOutput();
        for (OnnxMl.ValueInfoProto o : graph.getOutputList()) {
            if (o.getName().equals(LastTokenLogits.LAST_LOGITS) && o.getType().getTensorType().getShape().getDimCount() == 3) {
                // as many positions a row as are gathered
                OnnxMl.ValueInfoProto.Builder b = o.toBuilder();
                b.getTypeBuilder().getTensorTypeBuilder().getShapeBuilder()
                        .setDim(1, OnnxMl.TensorShapeProto.Dimension.newBuilder().setDimParam(GATHERED));
                g.addOutput(b);
            } else {
                g.addOutput(o);
            }
        }
        return model.toBuilder().setGraph(g).build();
    }
}

package io.tunestream.model.graph;

import ai.onnx.proto.OnnxMl;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Removes {@code Concat} nodes with a single input: they copy their input unchanged. The TorchScript
 * exports of GPT-2 have one on {@code past_key_values.0.key} (only its shape is read), which costs as
 * much as a layer's KV-cache concatenation at every decoding step and which ONNX Runtime keeps.
 * Consumers read the input directly. A pure proto transformation.
 */
public final class SingleInputConcatRemoval {

    private SingleInputConcatRemoval() {
    }

    public static OnnxMl.ModelProto rewrite(OnnxMl.ModelProto model) {
        OnnxMl.GraphProto graph = model.getGraph();
        Set<String> graphOutputs = new HashSet<>();
        graph.getOutputList().forEach(o -> graphOutputs.add(o.getName()));
        Map<String, String> renames = new HashMap<>();
        List<OnnxMl.NodeProto> kept = new ArrayList<>();
        for (OnnxMl.NodeProto n : graph.getNodeList()) {
            if (n.getOpType().equals("Concat") && n.getInputCount() == 1 && n.getOutputCount() == 1
                    && !graphOutputs.contains(n.getOutput(0))) {
                renames.put(n.getOutput(0), n.getInput(0));
            } else {
                kept.add(n);
            }
        }
        if (renames.isEmpty()) {
            return model;
        }
        List<OnnxMl.NodeProto> rewired = new ArrayList<>(kept.size());
        for (OnnxMl.NodeProto n : kept) {
            OnnxMl.NodeProto.Builder b = n.toBuilder();
            for (int i = 0; i < n.getInputCount(); i++) {
                String to = renames.get(n.getInput(i));
                if (to != null) {
                    b.setInput(i, to);
                }
            }
            rewired.add(b.build());
        }
        return model.toBuilder().setGraph(graph.toBuilder().clearNode().addAllNode(rewired)).build();
    }
}

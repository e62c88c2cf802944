package io.tunestream.model.graph;

import ai.onnx.proto.OnnxMl;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Drops the initializers no node (nor subgraph) and no graph output reads. Rewrites that remove nodes leave the
 * constants only those nodes read behind; ONNX Runtime then warns about each one at every session it creates
 * from the graph, and keeps nothing of them.
 */
public final class UnreadInitializers {

    private UnreadInitializers() {
    }

    /** {@code model} without its unread initializers (the same instance when every one is read). */
    public static OnnxMl.ModelProto removed(OnnxMl.ModelProto model) {
        OnnxMl.GraphProto graph = model.getGraph();
        Set<String> read = new HashSet<>();
        graph.getOutputList().forEach(o -> read.add(o.getName()));
        collectReads(graph, read);
        List<OnnxMl.TensorProto> kept = graph.getInitializerList().stream().filter(t -> read.contains(t.getName())).toList();
        if (kept.size() == graph.getInitializerCount()) {
            return model;
        }
        return model.toBuilder().setGraph(graph.toBuilder().clearInitializer().addAllInitializer(kept)).build();
    }

    private static void collectReads(OnnxMl.GraphProto graph, Set<String> read) {
        for (OnnxMl.NodeProto node : graph.getNodeList()) {
            read.addAll(node.getInputList());
            for (OnnxMl.AttributeProto a : node.getAttributeList()) {
                if (a.hasG()) {
                    collectReads(a.getG(), read);
                }
                a.getGraphsList().forEach(g -> collectReads(g, read));
            }
        }
    }
}

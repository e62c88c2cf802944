package io.tunestream.model.autodiff;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.NodeProto;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

import static io.tunestream.model.autodiff.GraphEmitter.intAttribute;

/**
 * Runs a decoder's final norm and LM head only at the positions that carry loss: the hidden state
 * entering the final norm, [b, T, d], is flattened to [b·T, d], the rows where {@code loss_mask} is
 * non-zero are gathered (K of them), and the norm and the head run on [1, K, d]; the labels and the
 * mask are gathered the same way, so the masked cross-entropy and its gradient are unchanged while
 * the head (a [d × vocab] MatMul, the largest op of a small model) does K rows of work instead of
 * b·T (K ≥ 1: a {@code TrainingBatch} has at least one loss token). The gradient flows back through
 * the Gather (scatter-add into zeros) and the Flatten.
 *
 * <p>The head is the node producing {@code logits} (as in serving's
 * {@code io.tunestream.model.graph.LastTokenLogits}); the final norm is found by walking back from it
 * over position-wise ops (elementwise, casts, LayerNormalization, ReduceMean over the last axis,
 * reshapes that only view [b, T, ·]) until a single activation feeds the whole region and a norm
 * has been crossed. An export whose head region does not fit that shape keeps the full head
 * ({@link #find} answers empty).
 */
final class LossPositionHead {

    /** Scope of the gathering nodes' names, under the training graph's own prefix. */
    static final String SCOPE = "loss_positions/";
    private static final String LOGITS = "logits";
    private static final int MAX_REGION_NODES = 64;
    private static final Set<String> POSITION_WISE = Set.of("Add", "Sub", "Mul", "Div", "Pow", "Sqrt", "Reciprocal",
            "Neg", "Identity", "Cast", "CastLike", "Tanh", "Erf", "Sigmoid", "LayerNormalization",
            "SimplifiedLayerNormalization", "ReduceMean", "Reshape");
    private static final Set<String> NORMS = Set.of("LayerNormalization", "SimplifiedLayerNormalization", "ReduceMean");

    /** The final norm's input {@code hidden} and the nodes from it to {@code logits} (the head last). */
    record Region(String hidden, Set<NodeProto> nodes) {
    }

    private LossPositionHead() {
    }

    /** The head region of {@code graph}, or empty when its shape is not the one this rewrite knows. */
    static Optional<Region> find(GraphProto graph) {
        List<NodeProto> nodes = graph.getNodeList();
        Map<String, Integer> producer = new HashMap<>();
        Set<String> constant = new HashSet<>();
        graph.getInitializerList().forEach(t -> constant.add(t.getName()));
        for (int i = 0; i < nodes.size(); i++) {
            NodeProto n = nodes.get(i);
            boolean allConstant = n.getInputList().stream().allMatch(in -> in.isEmpty() || constant.contains(in));
            for (String out : n.getOutputList()) {
                producer.put(out, i);
                if (allConstant) {
                    constant.add(out);
                }
            }
        }
        Integer head = producer.get(LOGITS);
        if (head == null || !nodes.get(head).getOpType().equals("MatMul")) {
            return Optional.empty();
        }
        Set<Integer> region = new HashSet<>();
        Set<String> frontier = new HashSet<>();
        region.add(head);
        frontier.add(nodes.get(head).getInput(0));
        if (!constant.contains(nodes.get(head).getInput(1))) {
            return Optional.empty();
        }
        boolean crossedNorm = false;
        while (frontier.size() > 1 || !crossedNorm) {
            // absorb the latest-produced activation of the frontier: the region grows backwards in order
            String latest = frontier.stream().filter(producer::containsKey)
                    .max((a, b) -> Integer.compare(producer.get(a), producer.get(b))).orElse(null);
            if (latest == null || region.size() >= MAX_REGION_NODES) {
                return Optional.empty();
            }
            int index = producer.get(latest);
            NodeProto node = nodes.get(index);
            if (!POSITION_WISE.contains(node.getOpType()) || node.getOutputCount() != 1 && !isLayerNorm(node)
                    || node.getOpType().equals("ReduceMean") && !reducesLastAxis(node)) {
                return Optional.empty();
            }
            crossedNorm |= NORMS.contains(node.getOpType());
            region.add(index);
            frontier.remove(latest);
            List<String> inputs = node.getOpType().equals("Reshape") ? List.of(node.getInput(0)) : node.getInputList();
            for (String in : inputs) {
                if (!in.isEmpty() && !constant.contains(in)) {
                    frontier.add(in);
                }
            }
            frontier.removeIf(t -> producer.containsKey(t) && region.contains(producer.get(t)));
        }
        String hidden = frontier.iterator().next();
        // nothing outside the region may read what the region computes (only the loss reads logits)
        Set<String> regionOutputs = new HashSet<>();
        region.forEach(i -> regionOutputs.addAll(nodes.get(i).getOutputList()));
        regionOutputs.remove(LOGITS);
        for (int i = 0; i < nodes.size(); i++) {
            if (!region.contains(i) && nodes.get(i).getInputList().stream().anyMatch(regionOutputs::contains)) {
                return Optional.empty();
            }
        }
        if (graph.getOutputList().stream().anyMatch(o -> regionOutputs.contains(o.getName()))) {
            return Optional.empty();
        }
        Set<NodeProto> regionNodes = Collections.newSetFromMap(new IdentityHashMap<>());
        region.forEach(i -> regionNodes.add(nodes.get(i)));
        return Optional.of(new Region(hidden, regionNodes));
    }

    /**
     * The decoder's nodes with the region reading the gathered hidden state instead of {@code hidden}
     * (reshapes in it become identities: on [1, K, d] they would restore [b, T, d]); the gathering
     * nodes, emitted into {@code e}, go right before the region's first node.
     *
     * @param positions int64 [K], flat indices (row·T + position) of the positions that carry loss
     */
    static List<NodeProto> rewrite(List<NodeProto> decoder, Region region, GraphEmitter e, String positions) {
        List<NodeProto> out = new ArrayList<>();
        boolean gathered = false;
        String gatheredHidden = null;
        for (NodeProto n : decoder) {
            if (!region.nodes().contains(n)) {
                out.add(n);
                continue;
            }
            if (!gathered) {
                int before = e.nodes().size();
                String flat = e.op("Flatten", region.hidden(), intAttribute("axis", 2));
                gatheredHidden = e.op("Unsqueeze", e.op("Gather", flat, positions, intAttribute("axis", 0)),
                        e.ints(0));
                out.addAll(e.nodes().subList(before, e.nodes().size()));
                gathered = true;
            }
            NodeProto.Builder b = n.toBuilder();
            if (n.getOpType().equals("Reshape")) {
                b.setOpType("Identity").clearInput().addInput(n.getInput(0)).clearAttribute();
            }
            for (int i = 0; i < b.getInputCount(); i++) {
                if (b.getInput(i).equals(region.hidden())) {
                    b.setInput(i, gatheredHidden);
                }
            }
            out.add(b.build());
        }
        return out;
    }

    private static boolean isLayerNorm(NodeProto node) {
        return node.getOpType().endsWith("LayerNormalization");
    }

    /** A ReduceMean over the last axis only (opset &lt; 18 attribute), which keeps the per-position form. */
    private static boolean reducesLastAxis(NodeProto node) {
        if (node.getInputCount() > 1) {
            return false;
        }
        for (AttributeProto a : node.getAttributeList()) {
            if (a.getName().equals("axes")) {
                return a.getIntsCount() == 1 && (a.getInts(0) == -1 || a.getInts(0) == 2);
            }
        }
        return false;
    }
}

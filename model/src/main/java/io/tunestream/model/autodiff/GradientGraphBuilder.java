package io.tunestream.model.autodiff;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.TensorShapeProto;
import ai.onnx.proto.OnnxMl.TypeProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;

/**
 * Reverse-mode differentiation of an ONNX graph into an ONNX graph: the result computes the
 * requested forward outputs and, in the same run, the gradients of a scalar loss (or a
 * vector-Jacobian product) with respect to chosen graph inputs. Pure protobuf, no ONNX Runtime: the
 * result is an ordinary model any runtime executes (standard ONNX ops of the forward's opset).
 *
 * <p>Only nodes on a path from a trainable input to a seeded output are differentiated (marked
 * forward from the trainable inputs, backward from the seeded outputs, intersected); shape and
 * integer subgraphs, masks, rotary tables and weights are left alone and treated as constants.
 * Shapes stay dynamic: rules take them at run time with {@code Shape} ops. An op on that path without
 * a rule is a {@link GradientGraphException} naming the op and the node.
 *
 * <p>Naming: the gradient of input {@code x} is the output {@link #gradientName gradientName(x)} =
 * {@code "grad." + x}; the seed of output {@code y} in a vector-Jacobian product is the extra input
 * {@code "grad." + y}, with the type and shape of {@code y}.
 *
 * <p>Graph outputs not needed by the result (e.g. {@code present.*} of a decoder export) are pruned
 * together with the nodes that only they needed.
 */
public final class GradientGraphBuilder {

    /** Prefix of gradient inputs and outputs. */
    public static final String GRADIENT_PREFIX = "grad.";

    private static final String NODE_PREFIX = "/tunestream/autodiff/";

    private GradientGraphBuilder() {
    }

    /** {@code "grad." + tensor}: the name of the gradient output of an input, or of the seed input of an output. */
    public static String gradientName(String tensor) {
        return GRADIENT_PREFIX + tensor;
    }

    /**
     * Differentiates a scalar loss: the returned model has the outputs {@code scalarLossOutput} and
     * {@code grad.<x>} for every {@code x} in {@code trainableInputs} (same type and shape as {@code x}).
     *
     * @param forward          the forward model; its other outputs are dropped
     * @param trainableInputs  graph inputs (float or double tensors) to differentiate with respect to
     * @param scalarLossOutput a graph output holding a scalar (any shape with one element)
     * @throws GradientGraphException when a name is not in the graph or an op on the path has no rule
     */
    public static ModelProto build(ModelProto forward, Set<String> trainableInputs, String scalarLossOutput) {
        Objects.requireNonNull(scalarLossOutput, "scalarLossOutput");
        return differentiate(forward, trainableInputs, Map.of(scalarLossOutput, Seed.ONE), List.of(scalarLossOutput));
    }

    /**
     * A general vector-Jacobian product: for each output {@code y} in {@code seededOutputs} the
     * returned model takes an extra input {@code grad.<y>} (the cotangent, same shape as {@code y})
     * and returns {@code grad.<x>} = Σ_y (∂y/∂x)ᵀ·grad.y for every trainable input {@code x}, next to
     * the outputs listed in {@code keptOutputs}. Use it to chain graphs: e.g. a prompt encoder
     * (parameters → virtual-token table) differentiated with the table's gradient as the seed.
     *
     * @param keptOutputs forward outputs to keep in the result (may be empty)
     */
    public static ModelProto vectorJacobianProduct(ModelProto forward, Set<String> trainableInputs,
                                                   Set<String> seededOutputs, List<String> keptOutputs) {
        Map<String, Seed> seeds = new LinkedHashMap<>();
        for (String y : seededOutputs) {
            seeds.put(y, Seed.INPUT);
        }
        return differentiate(forward, trainableInputs, seeds, keptOutputs);
    }

    private enum Seed { ONE, INPUT }

    private static ModelProto differentiate(ModelProto forward, Set<String> trainableInputs, Map<String, Seed> seeds,
                                            List<String> keptOutputs) {
        Objects.requireNonNull(forward, "forward");
        if (trainableInputs.isEmpty()) {
            throw new GradientGraphException("no trainable input given");
        }
        if (seeds.isEmpty()) {
            throw new GradientGraphException("no output to differentiate given");
        }
        GraphProto graph = forward.getGraph();
        Map<String, ValueInfoProto> inputs = new LinkedHashMap<>();
        graph.getInputList().forEach(i -> inputs.put(i.getName(), i));
        Map<String, ValueInfoProto> outputs = new LinkedHashMap<>();
        graph.getOutputList().forEach(o -> outputs.put(o.getName(), o));

        int floatType = -1;
        for (String x : trainableInputs) {
            ValueInfoProto input = inputs.get(x);
            if (input == null) {
                throw new GradientGraphException("trainable input '" + x + "' is not an input of the graph (inputs: "
                        + inputs.keySet() + ")");
            }
            int type = input.getType().getTensorType().getElemType();
            if (type != TensorProto.DataType.FLOAT.getNumber() && type != TensorProto.DataType.DOUBLE.getNumber()) {
                throw new GradientGraphException("trainable input '" + x + "' has element type "
                        + TensorProto.DataType.forNumber(type) + "; only FLOAT and DOUBLE can be differentiated");
            }
            if (floatType >= 0 && floatType != type) {
                throw new GradientGraphException("trainable inputs mix element types "
                        + TensorProto.DataType.forNumber(floatType) + " and " + TensorProto.DataType.forNumber(type));
            }
            floatType = type;
        }
        for (String y : seeds.keySet()) {
            if (!outputs.containsKey(y)) {
                throw new GradientGraphException("output '" + y + "' to differentiate is not an output of the graph "
                        + "(outputs: " + outputs.keySet() + ")");
            }
        }
        for (String y : keptOutputs) {
            if (!outputs.containsKey(y)) {
                throw new GradientGraphException("output '" + y + "' to keep is not an output of the graph (outputs: "
                        + outputs.keySet() + ")");
            }
        }

        List<NodeProto> nodes = new ArrayList<>(graph.getNodeList());
        Map<String, TensorProto> constants = constantsOf(graph);
        ActivePath path = ActivePath.mark(nodes, trainableInputs, seeds.keySet());

        // LayerNormalization's backward reads the forward node's Mean and InvStdDev: ask for them.
        for (int i = 0; i < nodes.size(); i++) {
            NodeProto node = nodes.get(i);
            if (path.isActive(node) && node.getOpType().equals("LayerNormalization") && node.getOutputCount() < 3) {
                NodeProto.Builder b = node.toBuilder();
                while (b.getOutputCount() < 3) {
                    int k = b.getOutputCount();
                    if (k == 1) {
                        b.addOutput(node.getOutput(0) + "/tunestream_mean");
                    } else {
                        b.addOutput(node.getOutput(0) + "/tunestream_inv_std_dev");
                    }
                }
                nodes.set(i, b.build());
            }
        }

        SameShapes sameShapes = SameShapes.of(nodes, constants);
        // composite rules: patterns differentiated as a whole so the forward stays fusable
        Map<NodeProto, TanhGeluPattern.Match> gelus = new HashMap<>();
        Set<NodeProto> inGelu = new HashSet<>();
        for (TanhGeluPattern.Match m : TanhGeluPattern.find(nodes, outputs.keySet(), constants).values()) {
            if (path.isActiveTensor(m.x()) && path.isActive(m.output())) {
                gelus.put(m.output(), m);
                inGelu.addAll(m.interior());
            }
        }
        GraphEmitter emit = new GraphEmitter(NODE_PREFIX, floatType);
        Map<String, List<String>> contributions = new HashMap<>();
        List<ValueInfoProto> seedInputs = new ArrayList<>();
        for (Map.Entry<String, Seed> seed : seeds.entrySet()) {
            String y = seed.getKey();
            if (!path.isActiveTensor(y)) {
                continue; // the output does not depend on any trainable input: its gradients are zero
            }
            String g;
            if (seed.getValue() == Seed.ONE) {
                g = emit.op("CastLike", emit.op("ConstantOfShape", List.of(emit.shape(y)),
                        GraphEmitter.tensorAttribute("value", TensorProto.newBuilder()
                                .setDataType(TensorProto.DataType.FLOAT.getNumber()).addDims(1).addFloatData(1f).build())), y);
            } else {
                g = gradientName(y);
                seedInputs.add(outputs.get(y).toBuilder().setName(g).build());
            }
            contributions.computeIfAbsent(y, k -> new ArrayList<>()).add(g);
        }
        for (String y : seeds.keySet()) {
            if (seeds.get(y) == Seed.INPUT && !path.isActiveTensor(y)) {
                seedInputs.add(outputs.get(y).toBuilder().setName(gradientName(y)).build());
            }
        }

        for (int i = nodes.size() - 1; i >= 0; i--) {
            NodeProto node = nodes.get(i);
            if (!path.isActive(node) || inGelu.contains(node)) {
                continue;
            }
            List<String> outputGradients = new ArrayList<>();
            boolean any = false;
            for (String out : node.getOutputList()) {
                String g = sum(emit, contributions.remove(out));
                outputGradients.add(g);
                any |= g != null;
            }
            if (!any) {
                continue;
            }
            TanhGeluPattern.Match gelu = gelus.get(node);
            if (gelu != null) {
                contributions.computeIfAbsent(gelu.x(), key -> new ArrayList<>())
                        .add(TanhGeluPattern.backward(gelu, outputGradients.get(0), emit));
                continue;
            }
            GradientRule rule = GradientRules.forOp(node.getOpType()).orElseThrow(() -> new GradientGraphException(
                    "no gradient rule for op " + node.getOpType() + " (node '" + node.getName()
                            + "') on the path from " + trainableInputs + " to " + seeds.keySet()
                            + "; supported ops: " + new java.util.TreeSet<>(GradientRules.supportedOps())));
            boolean[] needed = new boolean[node.getInputCount()];
            for (int k = 0; k < needed.length; k++) {
                needed[k] = path.isDifferentiableInput(node, k);
            }
            NodeGradient ng = new NodeGradient(node, outputGradients, needed, emit,
                    name -> Optional.ofNullable(constants.get(name)), sameShapes);
            rule.backward(ng);
            for (int k = 0; k < needed.length; k++) {
                String g = ng.inputGradient(k);
                if (g != null && needed[k]) {
                    contributions.computeIfAbsent(node.getInput(k), key -> new ArrayList<>()).add(g);
                }
            }
        }

        List<ValueInfoProto> newOutputs = new ArrayList<>();
        Set<String> outputNames = new LinkedHashSet<>();
        for (String y : keptOutputs) {
            if (outputNames.add(y)) {
                newOutputs.add(outputs.get(y));
            }
        }
        for (String x : trainableInputs) {
            String g = sum(emit, contributions.remove(x));
            if (g == null) {
                g = emit.zerosLike(x);
            }
            String name = gradientName(x);
            emit.add(NodeProto.newBuilder().setOpType("Identity").setName(NODE_PREFIX + "out/" + name)
                    .addInput(g).addOutput(name).build());
            newOutputs.add(inputs.get(x).toBuilder().setName(name).build());
            outputNames.add(name);
        }

        List<NodeProto> all = new ArrayList<>(nodes);
        all.addAll(emit.nodes());
        List<NodeProto> live = liveNodes(all, outputNames);

        Set<String> read = new HashSet<>(outputNames);
        live.forEach(n -> read.addAll(n.getInputList()));
        GraphProto.Builder g = graph.toBuilder().clearNode().addAllNode(live).clearOutput().addAllOutput(newOutputs)
                .clearInput().clearValueInfo();
        for (ValueInfoProto input : graph.getInputList()) {
            if (read.contains(input.getName()) || trainableInputs.contains(input.getName())) {
                g.addInput(input);
            }
        }
        g.addAllInput(seedInputs);
        g.addAllInitializer(emit.initializers());
        return forward.toBuilder().setGraph(g).build();
    }

    private static String sum(GraphEmitter emit, List<String> parts) {
        if (parts == null || parts.isEmpty()) {
            return null;
        }
        return parts.size() == 1 ? parts.get(0) : emit.op("Sum", parts);
    }

    private static Map<String, TensorProto> constantsOf(GraphProto graph) {
        Map<String, TensorProto> constants = new HashMap<>();
        graph.getInitializerList().forEach(t -> constants.put(t.getName(), t));
        for (NodeProto node : graph.getNodeList()) {
            if (node.getOpType().equals("Constant")) {
                for (AttributeProto a : node.getAttributeList()) {
                    if (a.getName().equals("value")) {
                        constants.put(node.getOutput(0), a.getT());
                    }
                }
            }
        }
        return constants;
    }

    /** Nodes some graph output depends on, in their original (topological) order. */
    static List<NodeProto> liveNodes(List<NodeProto> nodes, Set<String> outputs) {
        Set<String> needed = new HashSet<>(outputs);
        boolean[] keep = new boolean[nodes.size()];
        for (int i = nodes.size() - 1; i >= 0; i--) {
            NodeProto node = nodes.get(i);
            if (node.getOutputList().stream().anyMatch(needed::contains)) {
                keep[i] = true;
                needed.addAll(node.getInputList());
            }
        }
        List<NodeProto> live = new ArrayList<>();
        for (int i = 0; i < nodes.size(); i++) {
            if (keep[i]) {
                live.add(nodes.get(i));
            }
        }
        return live;
    }

    /** A tensor type of the given element type and shape, for value infos. */
    static TypeProto tensorType(int elemType, TensorShapeProto shape) {
        return TypeProto.newBuilder().setTensorType(TypeProto.Tensor.newBuilder().setElemType(elemType).setShape(shape))
                .build();
    }
}

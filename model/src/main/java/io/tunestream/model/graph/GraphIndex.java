package io.tunestream.model.graph;

import ai.onnx.proto.OnnxMl;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.Set;

/**
 * Who produces and who reads each tensor of a graph's top level, and the scalar constants, for the
 * pattern-matching rewrites of this package. A snapshot: rewrites build a new index after editing.
 */
final class GraphIndex {

    private final Map<String, OnnxMl.NodeProto> producers = new HashMap<>();
    private final Map<String, List<OnnxMl.NodeProto>> readers = new HashMap<>();
    private final Map<String, OnnxMl.TensorProto> constants = new HashMap<>();

    GraphIndex(OnnxMl.GraphProto graph) {
        for (OnnxMl.NodeProto node : graph.getNodeList()) {
            node.getOutputList().forEach(o -> producers.put(o, node));
            for (String input : node.getInputList()) {
                readers.computeIfAbsent(input, k -> new ArrayList<>()).add(node);
            }
            if (node.getOpType().equals("Constant") && node.getOutputCount() == 1) {
                node.getAttributeList().stream().filter(a -> a.getName().equals("value") && a.hasT())
                        .findFirst().ifPresent(a -> constants.put(node.getOutput(0), a.getT()));
            }
        }
        graph.getInitializerList().forEach(t -> constants.put(t.getName(), t));
    }

    /** The node writing {@code tensor}, if it is of type {@code opType}. */
    Optional<OnnxMl.NodeProto> producer(String tensor, String opType) {
        OnnxMl.NodeProto node = producers.get(tensor);
        return node != null && node.getOpType().equals(opType) ? Optional.of(node) : Optional.empty();
    }

    /** The nodes reading {@code tensor}, in graph order. */
    List<OnnxMl.NodeProto> readers(String tensor) {
        return readers.getOrDefault(tensor, List.of());
    }

    /** The value of a float constant with one element (a Constant node's output or an initializer). */
    Optional<Double> scalar(String tensor) {
        OnnxMl.TensorProto t = constants.get(tensor);
        if (t == null || t.getDimsList().stream().mapToLong(Long::longValue).reduce(1, (a, b) -> a * b) != 1) {
            return Optional.empty();
        }
        OptionalDouble value = TensorProtoReader.scalar(t);
        return value.isPresent() ? Optional.of(value.getAsDouble()) : Optional.empty();
    }

    /** The values of an inline int64 or int32 constant (Slice bounds, Unsqueeze axes), if it is one. */
    Optional<long[]> longs(String tensor) {
        OnnxMl.TensorProto t = constants.get(tensor);
        if (t == null || t.getDataLocation() == OnnxMl.TensorProto.DataLocation.EXTERNAL
                || t.getDataType() != OnnxMl.TensorProto.DataType.INT64.getNumber()
                && t.getDataType() != OnnxMl.TensorProto.DataType.INT32.getNumber()) {
            return Optional.empty();
        }
        return Optional.of(TensorProtoReader.longs(t));
    }

    /** The node writing {@code tensor}, whatever its type. */
    Optional<OnnxMl.NodeProto> producer(String tensor) {
        return Optional.ofNullable(producers.get(tensor));
    }

    /** Whether {@code tensor} is a constant (initializer or Constant node). */
    boolean isConstant(String tensor) {
        return constants.containsKey(tensor);
    }

    /** A one-element int64 initializer named {@code name}, as Slice and Unsqueeze take their arguments. */
    static OnnxMl.TensorProto int64Vector(String name, long value) {
        return OnnxMl.TensorProto.newBuilder().setName(name).setDataType(OnnxMl.TensorProto.DataType.INT64.getNumber())
                .addDims(1).addInt64Data(value).build();
    }

    /** An integer attribute of {@code node}, or {@code fallback}. */
    static long intAttribute(OnnxMl.NodeProto node, String name, long fallback) {
        return node.getAttributeList().stream().filter(a -> a.getName().equals(name)).findFirst()
                .map(OnnxMl.AttributeProto::getI).orElse(fallback);
    }

    /** An integer-list attribute of {@code node}, or an empty list. */
    static List<Long> intsAttribute(OnnxMl.NodeProto node, String name) {
        return node.getAttributeList().stream().filter(a -> a.getName().equals(name)).findFirst()
                .map(OnnxMl.AttributeProto::getIntsList).orElse(List.of());
    }

    /**
     * Drops nodes none of whose outputs is read by a live node or a graph output. Only top-level
     * consumers are seen; subgraph (If/Loop) bodies reading outer names keep their producers because
     * their names are collected as inputs of the owning node's attributes below.
     */
    static List<OnnxMl.NodeProto> withoutDeadNodes(List<OnnxMl.NodeProto> nodes, Set<String> graphOutputs) {
        List<OnnxMl.NodeProto> live = new ArrayList<>(nodes);
        boolean removed = true;
        while (removed) {
            Set<String> read = new HashSet<>(graphOutputs);
            for (OnnxMl.NodeProto node : live) {
                read.addAll(node.getInputList());
                for (OnnxMl.AttributeProto a : node.getAttributeList()) {
                    if (a.hasG()) {
                        collectReads(a.getG(), read);
                    }
                    a.getGraphsList().forEach(g -> collectReads(g, read));
                }
            }
            removed = live.removeIf(n -> n.getOutputList().stream().noneMatch(read::contains));
        }
        return live;
    }

    private static void collectReads(OnnxMl.GraphProto g, Set<String> read) {
        for (OnnxMl.NodeProto node : g.getNodeList()) {
            read.addAll(node.getInputList());
            for (OnnxMl.AttributeProto a : node.getAttributeList()) {
                if (a.hasG()) {
                    collectReads(a.getG(), read);
                }
                a.getGraphsList().forEach(sub -> collectReads(sub, read));
            }
        }
    }
}

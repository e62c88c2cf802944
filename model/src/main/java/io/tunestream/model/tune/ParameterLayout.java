package io.tunestream.model.tune;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Where each named parameter tensor of a prompt encoder lives in one flat {@code double[]}.
 *
 * <p>Encoders, the optimizer, clipping and checkpoints all work on that flat vector: AdamW and
 * global-norm clipping are element-wise over all parameters, and a checkpoint is the vector plus
 * this layout. Tensors are row-major.
 */
public record ParameterLayout(List<Tensor> tensors) {

    /** One named tensor: {@code shape} dims, stored from {@code offset} in the flat vector. */
    public record Tensor(String name, int[] shape, int offset) {
        public Tensor {
            Objects.requireNonNull(name, "name");
            shape = shape.clone();
            for (int d : shape) {
                if (d <= 0) {
                    throw new IllegalArgumentException("parameter " + name + " has a non-positive dimension in "
                            + Arrays.toString(shape));
                }
            }
        }

        /** Number of values. */
        public int size() {
            int n = 1;
            for (int d : shape) {
                n = Math.multiplyExact(n, d);
            }
            return n;
        }

        @Override
        public int[] shape() {
            return shape.clone();
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Tensor t && t.name.equals(name) && Arrays.equals(t.shape, shape) && t.offset == offset;
        }

        @Override
        public int hashCode() {
            return Objects.hash(name, Arrays.hashCode(shape), offset);
        }

        @Override
        public String toString() {
            return name + Arrays.toString(shape) + "@" + offset;
        }
    }

    public ParameterLayout {
        tensors = List.copyOf(tensors);
        int expected = 0;
        java.util.Set<String> names = new java.util.HashSet<>();
        for (Tensor t : tensors) {
            if (!names.add(t.name())) {
                throw new IllegalArgumentException("parameter " + t.name() + " appears twice in the layout");
            }
            if (t.offset() != expected) {
                throw new IllegalArgumentException("parameter " + t.name() + " starts at " + t.offset()
                        + ", expected " + expected + " (tensors must be contiguous and in order)");
            }
            expected += t.size();
        }
    }

    /** Total number of values. */
    public int size() {
        return tensors.isEmpty() ? 0 : tensors.get(tensors.size() - 1).offset() + tensors.get(tensors.size() - 1).size();
    }

    /**
     * A zeroed parameter vector of this layout with {@code values} in tensor {@code name}: how every
     * prompt encoder starts from its initial virtual-token rows.
     *
     * @param what the encoder, for the error ("mlp encoder")
     * @throws IllegalArgumentException if {@code values} is not the size of that tensor
     */
    public double[] zerosWith(String name, double[] values, String what) {
        Tensor t = tensor(name);
        if (values.length != t.size()) {
            throw new IllegalArgumentException(what + " expects " + t.size() + " initial embedding values, got " + values.length);
        }
        double[] p = new double[size()];
        System.arraycopy(values, 0, p, t.offset(), t.size());
        return p;
    }

    /** The tensor called {@code name}. */
    public Tensor tensor(String name) {
        for (Tensor t : tensors) {
            if (t.name().equals(name)) {
                return t;
            }
        }
        throw new IllegalArgumentException("no parameter " + name + " in layout " + tensors);
    }

    /** Offsets by name, in layout order. */
    public Map<String, Tensor> byName() {
        Map<String, Tensor> m = new LinkedHashMap<>();
        tensors.forEach(t -> m.put(t.name(), t));
        return m;
    }

    /** Builds a layout by appending tensors one after the other. */
    public static final class Builder {
        private final List<Tensor> tensors = new ArrayList<>();
        private int offset;

        public Builder add(String name, int... shape) {
            Tensor t = new Tensor(name, shape, offset);
            tensors.add(t);
            offset += t.size();
            return this;
        }

        public ParameterLayout build() {
            return new ParameterLayout(tensors);
        }
    }

    public static Builder builder() {
        return new Builder();
    }
}

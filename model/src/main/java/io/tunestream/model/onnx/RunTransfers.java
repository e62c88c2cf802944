package io.tunestream.model.onnx;

import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.TensorInfo;

import java.util.concurrent.atomic.LongAdder;

/**
 * What crossed between Java and ONNX Runtime in a model's session runs: the bytes of every tensor fed in
 * and every tensor returned (pinned direct buffers included), and the number of runs. Differences of two
 * snapshots give a generation's share.
 *
 * @param runs     session runs
 * @param bytesIn  bytes of the inputs of those runs
 * @param bytesOut bytes of their outputs
 */
public record RunTransfers(long runs, long bytesIn, long bytesOut) {

    /** Inputs and outputs together. */
    public long bytes() {
        return bytesIn + bytesOut;
    }

    /** What was transferred since {@code earlier}. */
    public RunTransfers since(RunTransfers earlier) {
        return new RunTransfers(runs - earlier.runs, bytesIn - earlier.bytesIn, bytesOut - earlier.bytesOut);
    }

    /** Bytes of a tensor's elements; 0 for a value that is no tensor (sequences, maps: none of our graphs has one). */
    static long bytes(OnnxValue value) {
        if (value.getInfo() instanceof TensorInfo info) {
            return info.getNumElements() * info.type.size;
        }
        return 0;
    }

    /** The running totals of one model; thread-safe. */
    static final class Counter {
        private final LongAdder runs = new LongAdder();
        private final LongAdder in = new LongAdder();
        private final LongAdder out = new LongAdder();

        void add(long bytesIn, long bytesOut) {
            runs.increment();
            in.add(bytesIn);
            out.add(bytesOut);
        }

        RunTransfers snapshot() {
            return new RunTransfers(runs.sum(), in.sum(), out.sum());
        }
    }
}

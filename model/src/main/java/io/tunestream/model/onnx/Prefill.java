package io.tunestream.model.onnx;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The first step of a batch, shared by the {@link DecodeState}s: the prompts left-padded to the longest,
 * each row after its own {@link KvPrefix} (or none).
 *
 * <p>With prefixes the step runs on a past of the longest prefix's length, each row's prefix
 * right-aligned in it and the rest masked, and the row's tokens at positions P_b, P_b + 1, ... (PEFT's
 * convention). Rows of one batch may carry prefixes of different tasks and lengths, or none. The step's
 * cache then has masked slots between a row's prefix and its tokens; it is compacted once into the
 * plain left-padded layout the states continue from (row b's real positions, prefix then tokens, at the
 * right end), so decoding steps never see the prefixes.
 */
final class Prefill {

    private Prefill() {
    }

    /**
     * @param logits  [batch, vocab] logits of each row's last prompt position
     * @param cache   keys and values, [batch, kvHeads, length, headDim], row b's real positions at the right
     *                end after {@code pads[b]} masked ones; the caller closes it
     * @param pads    left padding of each row in {@code cache}
     * @param lengths real positions of each row (prefix included): the position id of its next token
     */
    record Prefilled(float[] logits, KvCache cache, int[] pads, long[] lengths) {
    }

    /**
     * @param prompts  row b's prompt as [length_b, hidden] row-major embeddings
     * @param prefixes row b's prefix, or empty; one entry a row
     * @param control  terminates the prefill from another thread; null when nobody cancels it
     * @throws IllegalArgumentException if the lists differ in size or a prefix does not fit the model
     */
    static Prefilled run(DecoderModel model, List<float[]> prompts, List<Optional<? extends KvPrefix>> prefixes,
                         RunControl control) {
        if (prefixes.size() != prompts.size()) {
            throw new IllegalArgumentException(prompts.size() + " prompts but " + prefixes.size() + " prefix entries");
        }
        ModelConfig config = model.config();
        BatchRows.Padded padded = BatchRows.leftPadded(prompts, config.hiddenSize());
        int batch = prompts.size();
        int[] prefixLength = new int[batch];
        int longest = 0;
        for (int b = 0; b < batch; b++) {
            Optional<? extends KvPrefix> prefix = prefixes.get(b);
            if (prefix.isPresent()) {
                prefix.get().checkFits(config);
                prefixLength[b] = prefix.get().positions();
                longest = Math.max(longest, prefixLength[b]);
            }
        }
        if (longest == 0) {
            DecoderModel.Step step = model.forward(padded.input(), null, control);
            return new Prefilled(step.lastLogits(), step.cache(), padded.pads(), padded.length());
        }
        StepInput plain = padded.input();
        int sequence = plain.sequence();
        int total = longest + sequence;
        long[] mask = new long[batch * total];
        long[] positions = plain.positionIds().clone();
        long[] lengths = new long[batch];
        for (int b = 0; b < batch; b++) {
            for (int j = longest - prefixLength[b]; j < longest; j++) {
                mask[b * total + j] = 1;
            }
            System.arraycopy(plain.attentionMask(), b * sequence, mask, b * total + longest, sequence);
            for (int j = padded.pads()[b]; j < sequence; j++) {
                positions[b * sequence + j] += prefixLength[b];
            }
            lengths[b] = prefixLength[b] + padded.length()[b];
        }
        DecoderModel.Step step;
        try (KvCache past = prefixCache(config, prefixes, prefixLength, longest)) {
            step = model.forward(new StepInput(batch, sequence, plain.embeds(), mask, positions), past, control);
        }
        try (KvCache gapped = step.cache()) {
            int[][] starts = new int[batch][];
            int[][] counts = new int[batch][];
            for (int b = 0; b < batch; b++) {
                starts[b] = new int[] {longest - prefixLength[b], longest + padded.pads()[b]};
                counts[b] = new int[] {prefixLength[b], Math.toIntExact(padded.length()[b])};
            }
            return compacted(step.lastLogits(), gapped, starts, counts, lengths);
        }
    }

    /** The past of the prefill: [batch, kvHeads, longest, headDim] per entry, row b's prefix right-aligned. */
    private static KvCache prefixCache(ModelConfig config, List<Optional<? extends KvPrefix>> prefixes, int[] prefixLength,
                                       int longest) {
        int batch = prefixLength.length;
        int rowSize = config.kvHeads() * longest * config.headDim();
        List<OnnxTensor> tensors = new ArrayList<>(2 * config.layers());
        List<FloatBuffer> memory = new ArrayList<>(2 * config.layers());
        // one row at a time through a small array into the tensor's direct memory: no batch-sized heap array, and
        // ONNX Runtime reads the direct buffer without copying it
        float[] row = new float[rowSize];
        try {
            for (int k = 0; k < 2 * config.layers(); k++) {
                FloatBuffer values = ByteBuffer.allocateDirect(batch * rowSize * Float.BYTES).order(ByteOrder.nativeOrder())
                        .asFloatBuffer();
                for (int b = 0; b < batch; b++) {
                    if (prefixLength[b] > 0) {
                        if (prefixLength[b] < longest) {
                            java.util.Arrays.fill(row, 0f);
                        }
                        prefixes.get(b).orElseThrow().copyEntry(k, row, 0, longest, longest - prefixLength[b]);
                        values.put(b * rowSize, row);
                    }
                }
                memory.add(values);
                tensors.add(OnnxTensor.createTensor(OrtEnvironment.getEnvironment(), values,
                        new long[] {batch, config.kvHeads(), longest, config.headDim()}));
            }
        } catch (OrtException e) {
            tensors.forEach(OnnxTensor::close);
            throw new IllegalStateException("cannot build the prefix cache of a batch of " + batch + " rows", e);
        }
        List<OnnxTensor> owned = List.copyOf(tensors);
        return new KvCache(owned, memory, () -> owned.forEach(OnnxTensor::close), batch, longest);
    }

    /** Copies each row's segments of {@code gapped} together, right-aligned, into a left-padded cache. */
    private static Prefilled compacted(float[] logits, KvCache gapped, int[][] starts, int[][] counts, long[] lengths) {
        int batch = gapped.batch();
        int longest = 0;
        for (long l : lengths) {
            longest = Math.max(longest, Math.toIntExact(l));
        }
        int[] pads = new int[batch];
        for (int b = 0; b < batch; b++) {
            pads[b] = longest - Math.toIntExact(lengths[b]);
        }
        List<OnnxTensor> tensors = gapped.tensors();
        List<OnnxTensor> out = new ArrayList<>(tensors.size());
        List<FloatBuffer> memory = new ArrayList<>(tensors.size());
        int from = gapped.length();
        try {
            for (int i = 0; i < tensors.size(); i++) {
                long[] shape = ((ai.onnxruntime.TensorInfo) tensors.get(i).getInfo()).getShape();
                int heads = Math.toIntExact(shape[1]);
                int headDim = Math.toIntExact(shape[3]);
                FloatBuffer src = gapped.floats(i);
                FloatBuffer dst = ByteBuffer.allocateDirect(batch * heads * longest * headDim * Float.BYTES)
                        .order(ByteOrder.nativeOrder()).asFloatBuffer();
                for (int b = 0; b < batch; b++) {
                    for (int h = 0; h < heads; h++) {
                        int at = ((b * heads + h) * longest + pads[b]) * headDim;
                        for (int s = 0; s < starts[b].length; s++) {
                            int n = counts[b][s] * headDim;
                            dst.put(at, src, ((b * heads + h) * from + starts[b][s]) * headDim, n);
                            at += n;
                        }
                    }
                }
                memory.add(dst);
                out.add(OnnxTensor.createTensor(OrtEnvironment.getEnvironment(), dst,
                        new long[] {batch, heads, longest, headDim}));
            }
        } catch (OrtException e) {
            out.forEach(OnnxTensor::close);
            throw new IllegalStateException("cannot compact the prefill cache of a batch of " + batch + " rows", e);
        }
        List<OnnxTensor> owned = List.copyOf(out);
        KvCache cache = new KvCache(owned, memory, () -> owned.forEach(OnnxTensor::close), batch, longest);
        return new Prefilled(logits, cache, pads, lengths);
    }
}

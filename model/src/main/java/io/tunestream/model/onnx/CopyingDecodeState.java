package io.tunestream.model.onnx;

import java.util.List;
import java.util.Optional;

/**
 * Decoding with the export's own attention: each step reads the previous step's {@link KvCache} and
 * returns a new one with every row one position longer (ONNX Runtime concatenates the whole past at
 * every step). Rows keep their left padding; dropping rows also drops the padding that only they
 * needed.
 */
final class CopyingDecodeState implements ChunkedDecodeState.ChunkableState {

    private final DecoderModel model;
    private final int capacity;
    /** Run options of every session call; null when nobody cancels this state. */
    private final RunControl control;
    private KvCache cache;
    private int[] pads;
    /** Real positions of each row so far: the position id of its next token. */
    private long[] lengths;
    private final DecodeStateLifecycle lifecycle = new DecodeStateLifecycle();

    CopyingDecodeState(DecoderModel model, int capacity, RunControl control) {
        this.model = model;
        this.control = control;
        this.capacity = capacity;
    }

    @Override
    public float[] prefill(List<float[]> prompts, List<Optional<? extends KvPrefix>> prefixes) {
        lifecycle.checkOpen();
        if (cache != null) {
            throw new IllegalStateException("the decode state is already prefilled");
        }
        Prefill.Prefilled prefilled = Prefill.run(model, prompts, prefixes, control);
        cache = prefilled.cache();
        pads = prefilled.pads();
        lengths = prefilled.lengths();
        return prefilled.logits();
    }

    @Override
    public float[] step(int[] tokens) {
        lifecycle.checkPrefilled(cache != null);
        BatchRows.checkStep(tokens, lengths, capacity);
        int batch = cache.batch();
        int total = cache.length() + 1;
        long[] mask = new long[batch * total];
        for (int b = 0; b < batch; b++) {
            for (int j = pads[b]; j < total; j++) {
                mask[b * total + j] = 1;
            }
        }
        DecoderModel.Step step = model.forward(new StepInput(batch, 1, model.embedTokens(tokens), mask, lengths.clone()),
                cache, control);
        cache.close();
        cache = step.cache();
        for (int b = 0; b < batch; b++) {
            lengths[b]++;
        }
        return step.lastLogits();
    }

    @Override
    public DecoderModel.Chunk chunk(ChunkRows rows) {
        lifecycle.checkPrefilled(cache != null);
        int batch = cache.batch();
        int total = cache.length();
        long[] mask = new long[batch * total];
        for (int b = 0; b < batch; b++) {
            for (int j = pads[b]; j < total; j++) {
                mask[b * total + j] = 1;
            }
        }
        DecoderModel.Chunk chunk = model.chunk(rows, lengths.clone(), mask, cache, null, control);
        cache.close();
        cache = chunk.cache();
        for (int b = 0; b < batch; b++) {
            lengths[b] += chunk.steps();
        }
        return chunk;
    }

    @Override
    public void keepRows(int[] rows) {
        lifecycle.checkPrefilled(cache != null);
        BatchRows.checkKept(rows, cache.batch());
        if (rows.length == cache.batch()) {
            return;
        }
        int[] keptPads = BatchRows.kept(pads, rows);
        int unneededPad = java.util.Arrays.stream(keptPads).min().orElseThrow();
        KvCache kept = cache.selectRows(rows, unneededPad);
        cache.close();
        cache = kept;
        for (int j = 0; j < keptPads.length; j++) {
            keptPads[j] -= unneededPad;
        }
        pads = keptPads;
        lengths = BatchRows.kept(lengths, rows);
    }

    @Override
    public int batch() {
        return cache == null ? 0 : cache.batch();
    }

    @Override
    public void close() {
        if (lifecycle.close()) {
            if (cache != null) {
                cache.close();
            }
        }
    }
}

package io.tunestream.model.onnx;

import java.util.List;

/**
 * Decoding that appends each step's keys and values to a {@link KvBuffer} in place (the
 * GroupQueryAttention decode graph): the prefill's left-padded cache is copied once into buffers that
 * hold {@code capacity} positions a row, rows left-aligned; dropping rows moves the kept ones down.
 */
final class InPlaceDecodeState implements DecodeState {

    private final DecoderModel model;
    private final int capacity;
    /** Run options of every session call; null when nobody cancels this state. */
    private final RunControl control;
    private KvBuffer kv;
    /** Real positions of each row so far: the position id of its next token. */
    private long[] lengths;
    private boolean closed;

    InPlaceDecodeState(DecoderModel model, int capacity, RunControl control) {
        this.model = model;
        this.control = control;
        this.capacity = capacity;
    }

    @Override
    public float[] prefill(List<float[]> prompts) {
        checkOpen();
        if (kv != null) {
            throw new IllegalStateException("the decode state is already prefilled");
        }
        BatchRows.Padded padded = BatchRows.leftPadded(prompts, model.config().hiddenSize());
        DecoderModel.Step step = model.forward(padded.input(), null, control);
        try (KvCache cache = step.cache()) {
            kv = model.toKvBuffer(cache, padded.pads(), capacity);
        }
        lengths = padded.length();
        return step.lastLogits();
    }

    @Override
    public float[] step(int[] tokens) {
        checkPrefilled();
        BatchRows.checkStep(tokens, lengths, capacity);
        float[] logits = model.decode(model.embedTokens(tokens), lengths.clone(), kv, control);
        for (int b = 0; b < lengths.length; b++) {
            lengths[b]++;
        }
        return logits;
    }

    @Override
    public void keepRows(int[] rows) {
        checkPrefilled();
        BatchRows.checkKept(rows, kv.batch());
        if (rows.length == kv.batch()) {
            return;
        }
        kv.keepRows(rows);
        lengths = BatchRows.kept(lengths, rows);
    }

    @Override
    public int batch() {
        return kv == null ? 0 : kv.batch();
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            if (kv != null) {
                kv.close();
            }
        }
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("the decode state is closed");
        }
    }

    private void checkPrefilled() {
        checkOpen();
        if (kv == null) {
            throw new IllegalStateException("the decode state has not been prefilled");
        }
    }
}

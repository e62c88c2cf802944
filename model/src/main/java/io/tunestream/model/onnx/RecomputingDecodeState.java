package io.tunestream.model.onnx;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Decoding without a cache: every step runs the whole sequence of every row again, left-padded to the
 * longest. Quadratic; kept to check the cached states against and to measure what the cache saves.
 */
final class RecomputingDecodeState implements DecodeState {

    private final DecoderModel model;
    private final int capacity;
    /** Run options of every session call; null when nobody cancels this state. */
    private final RunControl control;
    /** Row b's embeddings so far, [length_b, hidden] row-major; null before the prefill. */
    private List<float[]> sequences;
    private long[] lengths;
    private boolean closed;

    RecomputingDecodeState(DecoderModel model, int capacity, RunControl control) {
        this.model = model;
        this.control = control;
        this.capacity = capacity;
    }

    @Override
    public float[] prefill(List<float[]> prompts) {
        checkOpen();
        if (sequences != null) {
            throw new IllegalStateException("the decode state is already prefilled");
        }
        float[] logits = run(prompts);
        sequences = new ArrayList<>(prompts);
        return logits;
    }

    @Override
    public float[] step(int[] tokens) {
        checkPrefilled();
        BatchRows.checkStep(tokens, lengths, capacity);
        int hidden = model.config().hiddenSize();
        List<float[]> longer = new ArrayList<>(sequences.size());
        for (int b = 0; b < tokens.length; b++) {
            float[] s = sequences.get(b);
            float[] grown = Arrays.copyOf(s, s.length + hidden);
            model.embedToken(tokens[b], grown, s.length);
            longer.add(grown);
        }
        float[] logits = run(longer);
        sequences = longer;
        return logits;
    }

    private float[] run(List<float[]> rows) {
        BatchRows.Padded padded = BatchRows.leftPadded(rows, model.config().hiddenSize());
        DecoderModel.Step step = model.forward(padded.input(), null, control);
        step.cache().close();
        lengths = padded.length();
        return step.lastLogits();
    }

    @Override
    public void keepRows(int[] rows) {
        checkPrefilled();
        BatchRows.checkKept(rows, sequences.size());
        List<float[]> kept = new ArrayList<>(rows.length);
        for (int r : rows) {
            kept.add(sequences.get(r));
        }
        sequences = kept;
        lengths = BatchRows.kept(lengths, rows);
    }

    @Override
    public int batch() {
        return sequences == null ? 0 : sequences.size();
    }

    @Override
    public void close() {
        closed = true;
        sequences = null;
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("the decode state is closed");
        }
    }

    private void checkPrefilled() {
        checkOpen();
        if (sequences == null) {
            throw new IllegalStateException("the decode state has not been prefilled");
        }
    }
}

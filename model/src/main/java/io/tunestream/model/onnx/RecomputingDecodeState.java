package io.tunestream.model.onnx;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

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
    /** Row b's prefix, or empty. */
    private List<Optional<? extends KvPrefix>> prefixes;
    private long[] lengths;
    private final DecodeStateLifecycle lifecycle = new DecodeStateLifecycle();

    RecomputingDecodeState(DecoderModel model, int capacity, RunControl control) {
        this.model = model;
        this.control = control;
        this.capacity = capacity;
    }

    @Override
    public float[] prefill(List<float[]> prompts, List<Optional<? extends KvPrefix>> prefixes) {
        lifecycle.checkOpen();
        if (sequences != null) {
            throw new IllegalStateException("the decode state is already prefilled");
        }
        float[] logits = run(prompts, prefixes);
        sequences = new ArrayList<>(prompts);
        this.prefixes = new ArrayList<>(prefixes);
        return logits;
    }

    @Override
    public float[] step(int[] tokens) {
        lifecycle.checkPrefilled(sequences != null);
        BatchRows.checkStep(tokens, lengths, capacity);
        int hidden = model.config().hiddenSize();
        List<float[]> longer = new ArrayList<>(sequences.size());
        for (int b = 0; b < tokens.length; b++) {
            float[] s = sequences.get(b);
            float[] grown = Arrays.copyOf(s, s.length + hidden);
            model.embedToken(tokens[b], grown, s.length);
            longer.add(grown);
        }
        float[] logits = run(longer, prefixes);
        sequences = longer;
        return logits;
    }

    private float[] run(List<float[]> rows, List<Optional<? extends KvPrefix>> rowPrefixes) {
        Prefill.Prefilled prefilled = Prefill.run(model, rows, rowPrefixes, control);
        prefilled.cache().close();
        lengths = prefilled.lengths();
        return prefilled.logits();
    }

    @Override
    public void keepRows(int[] rows) {
        lifecycle.checkPrefilled(sequences != null);
        BatchRows.checkKept(rows, sequences.size());
        List<float[]> kept = new ArrayList<>(rows.length);
        for (int r : rows) {
            kept.add(sequences.get(r));
        }
        sequences = kept;
        List<Optional<? extends KvPrefix>> keptPrefixes = new ArrayList<>(rows.length);
        for (int r : rows) {
            keptPrefixes.add(prefixes.get(r));
        }
        prefixes = keptPrefixes;
        lengths = BatchRows.kept(lengths, rows);
    }

    @Override
    public int batch() {
        return sequences == null ? 0 : sequences.size();
    }

    @Override
    public void close() {
        lifecycle.close();
        sequences = null;
        prefixes = null;
    }
}

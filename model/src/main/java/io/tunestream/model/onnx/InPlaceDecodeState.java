package io.tunestream.model.onnx;

import java.util.List;
import java.util.Optional;

/**
 * Decoding that appends each step's keys and values to a {@link KvBuffer} in place (the
 * GroupQueryAttention decode graph), in buffers that hold {@code capacity} positions a row, rows left-aligned;
 * dropping rows moves the kept ones down. Prompts without a prefix (or a batch of one row) are written straight into the
 * buffers where the model allows ({@link InPlacePrefill}); otherwise the prefill's left-padded cache is copied into
 * them once.
 */
final class InPlaceDecodeState implements ChunkedDecodeState.ChunkableState {

    private final DecoderModel model;
    private final int capacity;
    /** Run options of every session call; null when nobody cancels this state. */
    private final RunControl control;
    private KvBuffer kv;
    /** Real positions of each row so far: the position id of its next token. */
    private long[] lengths;
    private final DecodeStateLifecycle lifecycle = new DecodeStateLifecycle();
    /** Tokens the last call fed when it was {@link #verify}; 0 after any other call. */
    private int verified;

    InPlaceDecodeState(DecoderModel model, int capacity, RunControl control) {
        this.model = model;
        this.control = control;
        this.capacity = capacity;
    }

    @Override
    public float[] prefill(List<float[]> prompts, List<Optional<? extends KvPrefix>> prefixes) {
        lifecycle.checkOpen();
        if (kv != null) {
            throw new IllegalStateException("the decode state is already prefilled");
        }
        if (model.prefillsInPlace() && prefixes.size() == prompts.size() && InPlacePrefill.handles(prefixes)) {
            // no row continues a prefix, or the only row does: the prompts go straight into the buffers
            InPlacePrefill.Prefilled direct = InPlacePrefill.run(model, prompts, prefixes, capacity, control);
            kv = direct.kv();
            lengths = direct.lengths();
            return direct.logits();
        }
        Prefill.Prefilled prefilled = Prefill.run(model, prompts, prefixes, control);
        try (KvCache cache = prefilled.cache()) {
            kv = model.toKvBuffer(cache, prefilled.pads(), capacity);
        }
        lengths = prefilled.lengths();
        return prefilled.logits();
    }

    @Override
    public float[] step(int[] tokens) {
        lifecycle.checkPrefilled(kv != null);
        verified = 0;
        BatchRows.checkStep(tokens, lengths, capacity);
        float[] logits = model.decode(model.embedTokens(tokens), lengths.clone(), kv, control);
        for (int b = 0; b < lengths.length; b++) {
            lengths[b]++;
        }
        return logits;
    }

    @Override
    public int verifiablePositions() {
        if (kv == null || kv.batch() != 1 || !model.prefillsInPlace()) {
            return 0;
        }
        return (int) Math.min(capacity, model.config().maxPositions()) - (int) lengths[0];
    }

    /**
     * Runs the tokens as a prompt after the row's past (GroupQueryAttention's subsequent prompt, ONNX Runtime's for one
     * row) through the model's one-row verification graph, its head on every fed position ({@link DecoderModel#verify}).
     */
    @Override
    public float[] verify(int[] tokens) {
        lifecycle.checkPrefilled(kv != null);
        int room = verifiablePositions();
        if (room == 0) {
            throw new UnsupportedOperationException("only a batch of one row whose model has the in-place prefill graph "
                    + "verifies drafts; this one has " + kv.batch() + " rows" + (model.prefillsInPlace() ? ""
                    : " and no in-place prefill graph"));
        }
        if (tokens.length < 1 || tokens.length > room) {
            throw new IllegalArgumentException("a verification pass takes 1 to " + room + " tokens (the row holds "
                    + lengths[0] + " of " + capacity + " positions), got " + tokens.length);
        }
        verified = 0;
        float[] embeds = model.embedTokens(tokens);
        kv.appended(tokens.length);
        try {
            float[] logits = model.verify(embeds, tokens.length, kv, control);
            lengths[0] += tokens.length;
            verified = tokens.length;
            return logits;
        } catch (RuntimeException e) {
            kv.keepPositions(0, kv.length(0) - tokens.length);
            throw e;
        }
    }

    @Override
    public void keepVerified(int accepted) {
        lifecycle.checkPrefilled(kv != null);
        if (verified == 0) {
            throw new IllegalStateException("keepVerified follows a verify call");
        }
        if (accepted < 1 || accepted > verified) {
            throw new IllegalArgumentException("the last verification pass fed " + verified + " tokens; cannot keep "
                    + accepted);
        }
        lengths[0] -= verified - accepted;
        kv.keepPositions(0, kv.length(0) - (verified - accepted));
        verified = 0;
    }

    @Override
    public DecoderModel.Chunk chunk(ChunkRows rows) {
        lifecycle.checkPrefilled(kv != null);
        verified = 0;
        DecoderModel.Chunk chunk = model.chunk(rows, lengths.clone(), null, null, kv, control);
        for (int b = 0; b < lengths.length; b++) {
            lengths[b] += chunk.steps();
        }
        return chunk;
    }

    @Override
    public void keepRows(int[] rows) {
        lifecycle.checkPrefilled(kv != null);
        verified = 0;
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
        if (lifecycle.close()) {
            if (kv != null) {
                kv.close();
            }
        }
    }
}

package io.tunestream.model.onnx;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.List;
import java.util.Optional;

/**
 * Decoding in chunks: up to {@link DecoderModel#chunkSteps()} steps a session run in the decode-chunk graph (an
 * ONNX Loop over the step, or the in-place step unrolled; tokens chosen inside it), so the KV cache stays inside ONNX Runtime for the whole
 * chunk and crosses to Java once a chunk instead of once a step. The cache is the one of the model's step path
 * (in-place KV buffers where the model decodes in place, else the copying cache) and {@link #step} runs that path's
 * step on it, which is how a batch goes on when a chunk fails.
 */
final class ChunkedDecodeState implements DecodeState {

    private static final Logger LOG = LoggerFactory.getLogger(ChunkedDecodeState.class);

    private final DecoderModel model;
    private final RunControl control;
    private final ChunkableState steps;

    ChunkedDecodeState(DecoderModel model, ChunkableState steps, RunControl control) {
        this.model = model;
        this.control = control;
        this.steps = steps;
    }

    /** A stepping state whose cache a decode chunk can run on: the copying or the in-place one. */
    interface ChunkableState extends DecodeState {

        /**
         * Runs a decode chunk on this state's cache: every row is fed its token and the tokens the graph chooses;
         * afterwards each row is {@code steps} positions longer (rows finished inside the chunk hold garbage past
         * their finish, and are dropped by the caller). On failure the state's rows are as they were.
         */
        DecoderModel.Chunk chunk(ChunkRows rows);
    }

    @Override
    public float[] prefill(List<float[]> prompts, List<Optional<? extends KvPrefix>> prefixes) {
        return steps.prefill(prompts, prefixes);
    }

    @Override
    public float[] step(int[] tokens) {
        return steps.step(tokens);
    }

    @Override
    public int chunkSteps() {
        return model.chunkSteps();
    }

    @Override
    public int[][] generateChunk(ChunkRows rows) {
        int batch = steps.batch();
        if (batch == 0) {
            throw new IllegalStateException("the decode state has not been prefilled");
        }
        if (rows.tokens().length != batch) {
            throw new IllegalArgumentException("a chunk of " + batch + " rows takes one token a row, got " + rows.tokens().length);
        }
        if (rows.steps() > model.chunkSteps()) {
            throw new IllegalArgumentException("a chunk of this model runs at most " + model.chunkSteps() + " steps, asked "
                    + rows.steps());
        }
        int maxSteps = rows.steps();
        DecoderModel.Chunk chunk;
        try {
            chunk = steps.chunk(rows);
        } catch (RuntimeException e) {
            if (control != null && control.isTerminated()) {
                throw e;
            }
            LOG.warn("decode chunk of {} rows (up to {} steps) on model {} failed, the batch goes on one step a run: {}",
                    batch, maxSteps, model.directory(), e.getMessage());
            throw new ChunkFailedException("decode chunk failed: " + e.getMessage(), e);
        }
        int[][] out = new int[batch][chunk.steps()];
        for (int s = 0; s < chunk.steps(); s++) {
            for (int b = 0; b < batch; b++) {
                out[b][s] = Math.toIntExact(chunk.tokens()[s * batch + b]);
            }
        }
        return out;
    }

    @Override
    public void keepRows(int[] rows) {
        steps.keepRows(rows);
    }

    @Override
    public int batch() {
        return steps.batch();
    }

    @Override
    public void close() {
        steps.close();
    }
}

package io.tunestream.model.onnx;

/**
 * A decode-chunk run failed (e.g. the device ran out of memory) and was not cancelled: the state is as it was
 * before the chunk, and {@link DecodeState#step} goes on from there.
 */
public final class ChunkFailedException extends IllegalStateException {

    ChunkFailedException(String message, Throwable cause) {
        super(message, cause);
    }
}

package io.tunestream.model.onnx;

/**
 * The lifecycle every {@link DecodeState} shares: open until closed, usable for steps only once
 * prefilled. One place for the checks and their messages, so the three states cannot drift.
 */
final class DecodeStateLifecycle {

    private boolean closed;

    /** @throws IllegalStateException if the state is closed */
    void checkOpen() {
        if (closed) {
            throw new IllegalStateException("the decode state is closed");
        }
    }

    /** @throws IllegalStateException if the state is closed or has not been prefilled */
    void checkPrefilled(boolean prefilled) {
        checkOpen();
        if (!prefilled) {
            throw new IllegalStateException("the decode state has not been prefilled");
        }
    }

    /** Marks the state closed; true the first time only, when its owner releases what it holds. */
    boolean close() {
        if (closed) {
            return false;
        }
        closed = true;
        return true;
    }
}

package io.tunestream.model.onnx;

import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;

/**
 * Lets another thread stop a generation: {@link #terminate()} sets ONNX Runtime's run-options terminate
 * flag, so the session call in progress fails at its next operator boundary, and the steps not yet started
 * are not run ({@link #isTerminated()}). One per generation; the thread that runs it owns it and closes it
 * when the generation has returned. {@link #terminate()} after {@link #close()} does nothing, so a late
 * cancellation never touches freed native memory.
 */
public final class RunControl implements AutoCloseable {

    private final OrtSession.RunOptions options;
    private boolean terminated;
    private boolean closed;

    private RunControl(OrtSession.RunOptions options) {
        this.options = options;
    }

    /** A control whose flag is not set. */
    public static RunControl create() {
        try {
            return new RunControl(new OrtSession.RunOptions());
        } catch (OrtException e) {
            throw new IllegalStateException("cannot create ONNX Runtime run options: " + e.getMessage(), e);
        }
    }

    /** Asks the running generation to stop; callable from any thread, any number of times. */
    public synchronized void terminate() {
        terminated = true;
        if (!closed) {
            try {
                options.setTerminate(true);
            } catch (OrtException e) {
                throw new IllegalStateException("cannot set ONNX Runtime's terminate flag: " + e.getMessage(), e);
            }
        }
    }

    public synchronized boolean isTerminated() {
        return terminated;
    }

    /** The options every session call of the generation runs with. */
    OrtSession.RunOptions options() {
        return options;
    }

    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            options.close();
        }
    }
}

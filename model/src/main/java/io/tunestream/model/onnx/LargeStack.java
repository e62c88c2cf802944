package io.tunestream.model.onnx;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Runs ONNX Runtime's start-up work (the environment, session creation) on a thread with a large stack.
 *
 * <p>Initialising ONNX Runtime and creating a session recurse deeply in native code: on a thread with
 * the JVM's default stack it overflowed and the JVM died with SIGSEGV and no error report (seen with
 * {@code ./tunestream local}; test forks had survived only thanks to their larger {@code -Xss}).
 * Running sessions needs no such stack (checked on a 256 kB thread), so only start-up goes through
 * here and callers keep whatever threads they run on.
 */
final class LargeStack {

    /** 64 MB: reserved address space, committed only as far as it is used. */
    static final long STACK_BYTES = 64L * 1024 * 1024;

    @FunctionalInterface
    interface OrtCall<T> {
        T call() throws OrtException;
    }

    private LargeStack() {
    }

    /** The process-wide ONNX Runtime environment, initialised on a large stack the first time. */
    static OrtEnvironment environment() {
        try {
            return call("the ONNX Runtime environment", OrtEnvironment::getEnvironment);
        } catch (OrtException e) {
            throw new IllegalStateException("cannot start ONNX Runtime: " + e.getMessage(), e);
        }
    }

    /** Runs {@code call} on a fresh large-stack thread and returns its result or rethrows its failure. */
    static <T> T call(String what, OrtCall<T> call) throws OrtException {
        AtomicReference<T> result = new AtomicReference<>();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Thread thread = new Thread(null, () -> {
            try {
                result.set(call.call());
            } catch (Throwable t) {
                failure.set(t);
            }
        }, "ort-create-session", STACK_BYTES);
        thread.setDaemon(true);
        thread.start();
        try {
            thread.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while creating the ONNX Runtime session of " + what, e);
        }
        Throwable t = failure.get();
        if (t instanceof OrtException e) {
            throw e;
        }
        if (t instanceof RuntimeException e) {
            throw e;
        }
        if (t instanceof Error e) {
            throw e;
        }
        if (t != null) {
            throw new IllegalStateException("creating the ONNX Runtime session of " + what + " failed", t);
        }
        return result.get();
    }
}

package io.tunestream.model.onnx;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.providers.OrtCUDAProviderOptions;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** What every ONNX Runtime session of Tunestream shares: its options and how it is created and closed. */
final class OrtSessions {

    private static final Logger LOG = LoggerFactory.getLogger(OrtSessions.class);

    private OrtSessions() {
    }

    /**
     * Session options for {@code runtime} on {@code provider}: all graph optimisations, the configured
     * thread counts, no spinning, and the CUDA provider when asked for (its failure is the caller's to
     * handle: {@link OrtSession.SessionOptions#addCUDA} throws when CUDA is absent). The caller closes them.
     */
    static OrtSession.SessionOptions options(RuntimeConfig runtime, ExecutionProvider provider) throws OrtException {
        OrtSession.SessionOptions options = new OrtSession.SessionOptions();
        try {
            options.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
            // spinning intra-op threads starve the broker and registry sharing the cores, and slow ORT itself
            // several-fold when the machine is oversubscribed
            options.addConfigEntry("session.intra_op.allow_spinning", "0");
            options.addConfigEntry("session.inter_op.allow_spinning", "0");
            // ONNX Runtime's own default counts physical cores and finds one on some 2-vCPU machines
            options.setIntraOpNumThreads(runtime.resolvedIntraOpThreads());
            if (runtime.interOpThreads() > 0) {
                options.setInterOpNumThreads(runtime.interOpThreads());
            }
            if (provider == ExecutionProvider.CUDA) {
                try (OrtCUDAProviderOptions cuda = new OrtCUDAProviderOptions(runtime.deviceId())) {
                    if (runtime.gpuMemLimitBytes() > 0) {
                        cuda.add("gpu_mem_limit", Long.toString(runtime.gpuMemLimitBytes()));
                    }
                    options.addCUDA(cuda);
                }
            }
            return options;
        } catch (OrtException | RuntimeException e) {
            options.close();
            throw e;
        }
    }

    /**
     * A session for {@code graph} (a rewrite of the model in {@code modelDir}), created on a large stack.
     * External data locations are relative to the model file and ONNX Runtime resolves them against the
     * session's model path, which a session made from bytes does not have: with external data the graph
     * is written next to the model for the time of the call, so that directory must be writable.
     *
     * @param what what the graph is, for errors ("the serving graph of models/x")
     */
    static OrtSession create(OrtEnvironment env, String what, byte[] graph, Path modelDir, boolean externalData,
                             OrtSession.SessionOptions options) throws OrtException {
        if (!externalData) {
            return LargeStack.call(what, () -> env.createSession(graph, options));
        }
        Path file = null;
        try {
            file = Files.createTempFile(modelDir, ".tunestream-", ".onnx");
            Files.write(file, graph);
            String path = file.toString();
            return LargeStack.call(what, () -> env.createSession(path, options));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + what + " next to the model in " + modelDir, e);
        } finally {
            if (file != null) {
                try {
                    Files.deleteIfExists(file);
                } catch (IOException e) {
                    LOG.warn("cannot delete the temporary copy {} of {}: {}", file, what, e.toString());
                }
            }
        }
    }

    /** Closes a session that failed to start or to be set up, logging (not throwing) a failure to close. */
    static void closeQuietly(OrtSession session) {
        if (session != null) {
            try {
                session.close();
            } catch (OrtException e) {
                LOG.warn("cannot close a half-opened session: {}", e.toString());
            }
        }
    }
}

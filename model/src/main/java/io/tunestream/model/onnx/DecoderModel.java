package io.tunestream.model.onnx;

import ai.onnx.proto.OnnxMl;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import io.tunestream.model.graph.ChunkSegmentAttention;
import io.tunestream.model.graph.DecodeChunkGraph;
import io.tunestream.model.graph.DecodeShapeFolding;
import io.tunestream.model.graph.GroupQueryAttentionRewrite;
import io.tunestream.model.graph.InputsEmbedsRewrite;
import io.tunestream.model.graph.LastTokenLogits;
import io.tunestream.model.graph.RotaryCache;
import io.tunestream.model.graph.RowLastPositions;
import io.tunestream.model.graph.SingleInputConcatRemoval;
import io.tunestream.model.graph.SkipLayerNormRewrite;
import io.tunestream.model.graph.TensorProtoReader;
import io.tunestream.model.graph.UnreadInitializers;
import io.tunestream.model.graph.UnrolledDecodeChunk;
import io.tunestream.model.graph.WeightsFingerprint;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import java.nio.LongBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.UnaryOperator;

/**
 * A decoder-only language model exported in Optimum's "text-generation-with-past" layout, loaded
 * offline from a directory ({@code model.onnx} with optional external data, {@code config.json},
 * optional {@code generation_config.json}; the tokenizer is loaded by {@code model.tokenize}).
 *
 * <p>At load the graph is checked for the inputs and outputs of the layout, rewritten to take
 * {@code inputs_embeds} ({@link InputsEmbedsRewrite}) and to return only the last position's logits
 * ({@link LastTokenLogits}); the token-embedding table is read from the initializers so that callers
 * can mix token rows with virtual-token rows.
 *
 * <p>Generation runs through a {@link DecodeState} ({@link #newDecodeState}), which hides whether the
 * KV cache is appended to in place (GroupQueryAttention decode graph, where the graph allows) or copied
 * at every step (the export's attention); which one is decided at load.
 *
 * <p>Owns its ONNX Runtime sessions; {@link #close()} releases them. {@link #forward} and
 * {@link #newDecodeState} are thread-safe; each state belongs to one caller.
 */
public final class DecoderModel implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(DecoderModel.class);

    private final Path directory;
    private final ModelConfig config;
    private final String fingerprint;
    private final float[] embeddingTable;
    private final ExecutionProvider provider;
    private final OrtEnvironment env;
    private final OrtSession session;
    private final OrtSession decodeSession;
    private final OrtSession smallDecodeSession;
    /** The in-place prefill graph's session ({@link #prefillGraph}), or null: prefills copy into the KV buffers. */
    private final OrtSession prefillSession;
    /**
     * The verification graph's session ({@link #verifyGraph}: the prefill graph for one row, its shape arithmetic
     * folded, on one thread where steps of one row run on one), or null: {@link #verify} runs the prefill session.
     */
    private final OrtSession verifySession;
    /**
     * The decode-chunk graph's session (the in-place step unrolled, else an ONNX Loop over the step), or null: decoding
     * one step a run.
     */
    private final OrtSession chunkSession;
    /**
     * The same on one thread, for chunks of fewer than {@link #parallelDecodeRows} rows (a Loop reading the past in
     * place where {@link #chunkSession} is unrolled); or null.
     */
    private final OrtSession smallChunkSession;
    private final int chunkSteps;
    /**
     * Whether the chunk graph reads its past and returns the chunk's keys and values ({@link ChunkSegmentAttention});
     * of {@link #chunkSession}, the small session's may differ.
     */
    private final boolean chunkReadsPast;
    /**
     * Whether the chunk graph is the step unrolled {@link #chunkSteps} times ({@link UnrolledDecodeChunk}), no Loop; of
     * {@link #chunkSession}, the small session's may differ.
     */
    private final boolean chunkUnrolled;
    private final int parallelDecodeRows;
    private final RunTransfers.Counter transfers = new RunTransfers.Counter();
    /** Fails every chunk run when set: how the tests show the fallback to steps (see {@link #failChunks}). */
    private volatile RuntimeException chunkFault;
    /** How this model decodes and why, as the load log says it. */
    private final String decoding;
    private final List<String> pastNames;
    private final List<String> presentNames;
    private final Set<String> outputs;
    private final DirectBufferPool buffers;

    private DecoderModel(Path directory, ModelConfig config, String fingerprint, float[] embeddingTable,
                         ExecutionProvider provider, OrtEnvironment env, OrtSession session, OrtSession decodeSession,
                         OrtSession smallDecodeSession, OrtSession chunkSession, OrtSession smallChunkSession, int chunkSteps,
                         int parallelDecodeRows, String decoding, OrtSession prefillSession, OrtSession verifySession) {
        this.decoding = decoding;
        this.prefillSession = prefillSession;
        this.verifySession = verifySession;
        this.directory = directory;
        this.config = config;
        this.fingerprint = fingerprint;
        this.embeddingTable = embeddingTable;
        this.provider = provider;
        this.env = env;
        this.session = session;
        this.decodeSession = decodeSession;
        this.smallDecodeSession = smallDecodeSession;
        this.chunkSession = chunkSession;
        this.smallChunkSession = smallChunkSession;
        this.chunkSteps = chunkSession == null ? 0 : chunkSteps;
        this.chunkReadsPast = chunkSession != null
                && chunkSession.getOutputNames().contains(DecodeChunkGraph.chunkOutput(0, "key"));
        this.chunkUnrolled = chunkSession != null && chunkSession.getOutputNames().contains(UnrolledDecodeChunk.GOING);
        this.parallelDecodeRows = parallelDecodeRows;
        List<String> past = new ArrayList<>();
        List<String> present = new ArrayList<>();
        for (int i = 0; i < config.layers(); i++) {
            past.add("past_key_values." + i + ".key");
            past.add("past_key_values." + i + ".value");
            present.add("present." + i + ".key");
            present.add("present." + i + ".value");
        }
        this.pastNames = List.copyOf(past);
        this.presentNames = List.copyOf(present);
        Set<String> out = new LinkedHashSet<>(present);
        this.outputs = Set.copyOf(out);
        // a batch's prefill cache and KV buffers, and those of the next batch while it starts
        this.buffers = new DirectBufferPool(4 * present.size() + 2);
    }

    /**
     * Loads a model directory.
     *
     * @throws IllegalArgumentException naming the directory and the missing file, input or output, or
     *                                  the unsupported model type
     * @throws UncheckedIOException     if a file cannot be read
     */
    public static DecoderModel load(Path dir, RuntimeConfig runtime) {
        return load(dir, runtime, UnaryOperator.identity(), true);
    }

    /**
     * {@link #load(Path, RuntimeConfig)} with decode chunks in an ONNX Loop even where the step can be unrolled
     * ({@link UnrolledDecodeChunk}): the chunk as it was before, for comparisons (benchmarks, tests of the loop).
     */
    public static DecoderModel loadWithLoopChunks(Path dir, RuntimeConfig runtime) {
        return load(dir, runtime, UnaryOperator.identity(), false);
    }

    static DecoderModel load(Path dir, RuntimeConfig runtime, UnaryOperator<OnnxMl.ModelProto> prefillGraphChange) {
        return load(dir, runtime, prefillGraphChange, true);
    }

    /**
     * {@link #load(Path, RuntimeConfig)} with {@code prefillGraphChange} applied to the in-place prefill graph before
     * its session starts: how the tests break that graph (throw, or return one ONNX Runtime refuses) to show the
     * fallback to the copied prefill.
     */
    private static DecoderModel load(Path dir, RuntimeConfig runtime, UnaryOperator<OnnxMl.ModelProto> prefillGraphChange,
                                     boolean unrollChunks) {
        Path modelFile = dir.resolve("model.onnx");
        Parsed parsed = parse(dir);
        OnnxMl.ModelProto original = parsed.original();
        ModelConfig config = parsed.weights().config();
        float[] table = parsed.weights().tokenEmbeddings();
        String fingerprint = parsed.weights().fingerprint();
        OnnxMl.ModelProto serving = servingGraph(parsed);

        NativeLibraryCache.install(NativeLibraryCache.defaultRoot());
        OrtEnvironment env = LargeStack.environment();
        byte[] bytes = serving.toByteArray();
        boolean external = original.getGraph().getInitializerList().stream()
                .anyMatch(t -> t.getDataLocation() == OnnxMl.TensorProto.DataLocation.EXTERNAL);
        ExecutionProvider provider = runtime.provider();
        OrtSession session;
        try {
            session = createSession(env, bytes, dir, external, runtime, provider);
        } catch (OrtException | RuntimeException | UnsatisfiedLinkError e) {
            if (provider != ExecutionProvider.CUDA) {
                throw new IllegalStateException("cannot create an ONNX Runtime session for " + modelFile + ": " + e.getMessage(), e);
            }
            LOG.warn("CUDA session for {} failed to start on device {} ({}); running on CPU instead", modelFile,
                    runtime.deviceId(), e.getMessage());
            provider = ExecutionProvider.CPU;
            try {
                session = createSession(env, bytes, dir, external, runtime, provider);
            } catch (OrtException e2) {
                throw new IllegalStateException("cannot create an ONNX Runtime session for " + modelFile + ": " + e2.getMessage(), e2);
            }
        }
        OrtSession decodeSession = null;
        OrtSession smallDecodeSession = null;
        OnnxMl.ModelProto startedDecode = null;
        OnnxMl.ModelProto inPlace = null;
        String decoding = "the export's attention (the KV cache is copied at every step)";
        if (runtime.inPlaceKvCache() && provider == ExecutionProvider.CUDA) {
            // the KV buffers are host memory, and ONNX Runtime's CUDA GroupQueryAttention takes fp16 only
            decoding += ": the in-place cache is for CPU sessions";
        } else if (runtime.inPlaceKvCache()) {
            OnnxMl.ModelProto decode = null;
            try {
                inPlace = inPlaceAttention(serving, config, env, dir, external);
                decode = decodeStep(inPlace, config);
            } catch (IllegalArgumentException e) {
                decoding += ": its attention has no in-place form here (" + e.getMessage() + ")";
            }
            if (decode != null) {
                byte[] decodeBytes = decode.toByteArray();
                try {
                    decodeSession = createSession(env, decodeBytes, dir, external, runtime, provider);
                    decoding = "attention appending to the KV cache in place (GroupQueryAttention)";
                    startedDecode = decode;
                    if (runtime.parallelDecodeRows() > 0
                            && runtime.resolvedIntraOpThreads() > 1) {
                        smallDecodeSession = createSession(env, decodeBytes, dir, external, runtime.withIntraOpThreads(1),
                                provider);
                        decoding += ", steps of fewer than " + runtime.parallelDecodeRows() + " rows on one thread";
                    }
                } catch (OrtException | RuntimeException e) {
                    OrtSessions.closeQuietly(decodeSession);
                    decodeSession = null;
                    decoding += ": the in-place decode graph did not start (" + e.getMessage() + ")";
                }
            }
        }
        OrtSession prefillSession = null;
        OrtSession verifySession = null;
        if (startedDecode != null) {
            OnnxMl.ModelProto prefill = null;
            try {
                prefill = prefillGraphChange.apply(prefillOf(inPlace));
            } catch (IllegalArgumentException e) {
                decoding += "; prompts prefilled by the export's attention and copied into the KV buffers: the in-place "
                        + "prefill graph cannot be built (" + e.getMessage() + ")";
            }
            if (prefill != null) {
                try {
                    prefillSession = createSession(env, prefill.toByteArray(), dir, external, runtime, provider);
                    decoding += "; prompts prefilled straight into the KV buffers";
                    if (runtime.verifySession()) {
                        verifySession = verifySession(env, prefill, config, dir, external, runtime, provider);
                    }
                    decoding += verifySession != null ? "; drafts verified by a one-row graph" : "";
                } catch (OrtException | RuntimeException e) {
                    OrtSessions.closeQuietly(prefillSession);
                    prefillSession = null;
                    decoding += "; prompts prefilled by the export's attention and copied into the KV buffers: the in-place "
                            + "prefill graph did not start (" + e.getMessage() + ")";
                }
            }
        }
        OrtSession chunkSession = null;
        OrtSession smallChunkSession = null;
        if (runtime.decodeChunkSteps() > 0 && startedDecode != null && unrollChunks) {
            // the step unrolled: each copy's attention appends in place, no Loop (falls back to the loop below)
            try {
                byte[] unrolled = chunkGraphUnrolled(parsed, startedDecode, runtime.decodeChunkSteps()).toByteArray();
                chunkSession = createSession(env, unrolled, dir, external, runtime, provider);
                decoding += "; " + runtime.decodeChunkSteps() + " steps a run in a decode chunk of the step unrolled as "
                        + "many times (tokens chosen in the graph, every step appending to the KV buffers in place)";
                if (provider == ExecutionProvider.CPU && runtime.parallelDecodeRows() > 0
                        && runtime.resolvedIntraOpThreads() > 1) {
                    // few rows: the loop reading the past in place ran a step faster than an unrolled copy on demo-gpt2
                    // at batch 1 (BENCHMARKS.md, issue 11), the unrolled copy faster at batch 32
                    String smallForm;
                    try {
                        smallChunkSession = createSession(env, chunkGraphReadingPast(parsed, startedDecode).toByteArray(), dir,
                                external, runtime.withIntraOpThreads(1), provider);
                        smallForm = " in a loop reading the KV buffers in place and appending the chunk's keys and values "
                                + "after it";
                    } catch (OrtException | RuntimeException e) {
                        OrtSessions.closeQuietly(smallChunkSession);
                        smallChunkSession = createSession(env, unrolled, dir, external, runtime.withIntraOpThreads(1), provider);
                        smallForm = " unrolled too (the loop " + (e instanceof IllegalArgumentException ? "cannot be built: "
                                : "did not start: ") + e.getMessage() + ")";
                    }
                    decoding += ", chunks of fewer than " + runtime.parallelDecodeRows() + " rows on one thread" + smallForm;
                }
            } catch (OrtException | RuntimeException e) {
                OrtSessions.closeQuietly(smallChunkSession);
                OrtSessions.closeQuietly(chunkSession);
                smallChunkSession = null;
                chunkSession = null;
                decoding += "; the decode chunk is a loop: the step unrolled " + (e instanceof IllegalArgumentException
                        ? "cannot be built (" : "did not start (") + e.getMessage() + ")";
            }
        }
        if (runtime.decodeChunkSteps() > 0 && chunkSession == null) {
            OnnxMl.ModelProto chunk = null;
            String chunkForm = "";
            try {
                if (startedDecode != null) {
                    try {
                        chunk = chunkGraphReadingPast(parsed, startedDecode);
                        chunkForm = ", reading the KV buffers in place and appending the chunk's keys and values after it";
                    } catch (IllegalArgumentException e) {
                        decoding += "; the decode chunk carries the whole KV cache, copied at every step (its attention "
                                + "cannot read the past in place: " + e.getMessage() + ")";
                    }
                }
                if (chunk == null) {
                    chunk = startedDecode != null ? chunkGraphInPlace(parsed, startedDecode) : chunkGraph(parsed, serving);
                }
            } catch (IllegalArgumentException e) {
                decoding += "; chunks of " + runtime.decodeChunkSteps() + " steps a run are off: the step graph cannot be "
                        + "wrapped in a loop (" + e.getMessage() + "), one step a run";
            }
            if (chunk != null) {
                try {
                    byte[] chunkBytes = chunk.toByteArray();
                    chunkSession = createSession(env, chunkBytes, dir, external, runtime, provider);
                    decoding += "; up to " + runtime.decodeChunkSteps() + " steps a run inside a decode-chunk loop "
                            + "(tokens chosen in the graph" + chunkForm + ")";
                    if (provider == ExecutionProvider.CPU && runtime.parallelDecodeRows() > 0
                            && runtime.resolvedIntraOpThreads() > 1) {
                        smallChunkSession = createSession(env, chunkBytes, dir, external, runtime.withIntraOpThreads(1),
                                provider);
                        decoding += ", chunks of fewer than " + runtime.parallelDecodeRows() + " rows on one thread";
                    }
                } catch (OrtException | RuntimeException e) {
                    OrtSessions.closeQuietly(chunkSession);
                    chunkSession = null;
                    decoding += "; chunks of " + runtime.decodeChunkSteps() + " steps a run are off: the decode-chunk graph "
                            + "did not start (" + e.getMessage() + "), one step a run";
                }
            }
        }
        LOG.info("loaded {} model {} ({} layers, hidden {}, vocab {}), fingerprint {}, running on {} with {} intra-op threads, "
                        + "decoding with {}", config.family(), dir, config.layers(), config.hiddenSize(), config.vocabSize(),
                fingerprint, provider, runtime.resolvedIntraOpThreads(), decoding);
        return new DecoderModel(dir, config, fingerprint, table, provider, env, session, decodeSession, smallDecodeSession,
                chunkSession, smallChunkSession, runtime.decodeChunkSteps(), runtime.parallelDecodeRows(),
                decoding, prefillSession, verifySession);
    }

    /**
     * The session of {@link #verifyGraph}, on one thread when steps of one row run on one; null when it does not start
     * (the load line says so: drafts are then verified by the prefill session).
     */
    private static OrtSession verifySession(OrtEnvironment env, OnnxMl.ModelProto prefill, ModelConfig config, Path dir,
                                            boolean external, RuntimeConfig runtime, ExecutionProvider provider) {
        RuntimeConfig oneRow = runtime.parallelDecodeRows() > 0 && runtime.resolvedIntraOpThreads() > 1
                ? runtime.withIntraOpThreads(1) : runtime;
        try {
            return createSession(env, verifyGraph(prefill, config).toByteArray(), dir, external, oneRow, provider);
        } catch (OrtException | RuntimeException e) {
            LOG.warn("model {}: the one-row verification graph did not start ({}); drafts are verified by the prefill graph",
                    dir, e.getMessage());
            return null;
        }
    }

    /**
     * The prefill graph specialised for one row ({@link #verify}): with the batch known to be 1, the sequence takes the
     * place of the one unknown size of {@link DecodeShapeFolding}, so the reshape targets become constants and the
     * shape arithmetic of every layer goes, as in the decode step's graph. A verification pass is a small run, whose
     * time those operators would otherwise dominate. It is the prefill graph rather than a variant whose head runs on
     * every position: {@link RowLastPositions}' positions input already takes several positions a row, so the passes
     * need no rewrite of their own, and the head runs on the fed positions only either way.
     */
    static OnnxMl.ModelProto verifyGraph(OnnxMl.ModelProto prefill, ModelConfig config) {
        return UnreadInitializers.removed(DecodeShapeFolding.rewrite(prefill, Map.of(
                InputsEmbedsRewrite.INPUTS_EMBEDS, List.of(1L, DecodeShapeFolding.BATCH, (long) config.hiddenSize()),
                "position_ids", List.of(1L, DecodeShapeFolding.BATCH))));
    }

    /** The graph of prefills and copying steps: last-position logits, fused residual layer norms. */
    static OnnxMl.ModelProto servingGraph(Parsed parsed) {
        return UnreadInitializers.removed(SkipLayerNormRewrite.rewrite(
                SingleInputConcatRemoval.rewrite(LastTokenLogits.rewrite(parsed.rewritten().model()))));
    }

    /**
     * The decode-chunk graph of a serving graph: the step in an ONNX Loop, tokens chosen inside it
     * ({@link DecodeChunkGraph}).
     *
     * @throws IllegalArgumentException if the step cannot be wrapped
     */
    static OnnxMl.ModelProto chunkGraph(Parsed parsed, OnnxMl.ModelProto serving) {
        ModelConfig config = parsed.weights().config();
        return DecodeChunkGraph.wrap(serving, config.layers(), parsed.rewritten().embeddingTable(), config.vocabSize(),
                config.eosTokenIds());
    }

    /**
     * The decode-chunk graph of an in-place decode graph ({@link #decodeGraph}) that reads the past from outside its
     * loop and returns the chunk's keys and values, which {@link #chunk} appends to the KV buffers
     * ({@link ChunkSegmentAttention}).
     *
     * @throws IllegalArgumentException if the step's attention has no such form
     */
    static OnnxMl.ModelProto chunkGraphReadingPast(Parsed parsed, OnnxMl.ModelProto decode) {
        ModelConfig config = parsed.weights().config();
        return ChunkSegmentAttention.wrap(decode, config.layers(), config.headDim(), parsed.rewritten().embeddingTable(),
                config.vocabSize(), config.eosTokenIds());
    }

    /**
     * The decode-chunk graph of an in-place decode graph ({@link #decodeGraph}) unrolled {@code steps} times, every
     * copy's attention appending to the KV buffers in place ({@link UnrolledDecodeChunk}).
     *
     * @throws IllegalArgumentException if the step cannot be unrolled
     */
    static OnnxMl.ModelProto chunkGraphUnrolled(Parsed parsed, OnnxMl.ModelProto decode, int steps) {
        ModelConfig config = parsed.weights().config();
        return UnrolledDecodeChunk.wrap(decode, config.layers(), parsed.rewritten().embeddingTable(), config.vocabSize(),
                config.eosTokenIds(), steps);
    }

    /**
     * The decode-chunk graph of an in-place decode graph ({@link #decodeGraph}): the step in an ONNX Loop, appending
     * to KV buffers of fixed capacity ({@link DecodeChunkGraph#wrapInPlace}).
     *
     * @throws IllegalArgumentException if the step cannot be wrapped
     */
    static OnnxMl.ModelProto chunkGraphInPlace(Parsed parsed, OnnxMl.ModelProto decode) {
        ModelConfig config = parsed.weights().config();
        return DecodeChunkGraph.wrapInPlace(decode, config.layers(), parsed.rewritten().embeddingTable(), config.vocabSize(),
                config.eosTokenIds());
    }

    /**
     * The in-place decode-step graph of a serving graph: attention appending to the KV buffers
     * (GroupQueryAttention, rotating queries and keys itself where the export has rotary embeddings), and,
     * since a step feeds one position a row, reshape targets folded to constants.
     *
     * @throws IllegalArgumentException if the attention has no in-place form
     */
    static OnnxMl.ModelProto decodeGraph(OnnxMl.ModelProto serving, ModelConfig config) {
        return decodeGraph(serving, config, LargeStack.environment(), null, false);
    }

    /**
     * {@link #decodeGraph(OnnxMl.ModelProto, ModelConfig)} of the model in {@code dir}, whose weights may be
     * external data.
     */
    static OnnxMl.ModelProto decodeGraph(OnnxMl.ModelProto serving, ModelConfig config, OrtEnvironment env, Path dir,
                                         boolean external) {
        return decodeStep(inPlaceAttention(serving, config, env, dir, external), config);
    }

    /**
     * A serving graph with GroupQueryAttention appending to the KV buffers in place (rotating queries and keys itself,
     * with the rotary caches evaluated here, where the export has rotary embeddings): what the decode step and the
     * in-place prefill are both made from, so it is built once a load.
     *
     * @throws IllegalArgumentException if the attention has no in-place form
     */
    private static OnnxMl.ModelProto inPlaceAttention(OnnxMl.ModelProto serving, ModelConfig config, OrtEnvironment env,
                                                      Path dir, boolean external) {
        RotaryCache rotary = rotaryCacheOf(serving, config, env, dir, external);
        return GroupQueryAttentionRewrite.rewrite(serving, config.layers(), config.heads(), config.kvHeads(), rotary);
    }

    /** The decode step of an {@link #inPlaceAttention} graph: one position a row, so reshape targets fold to constants. */
    private static OnnxMl.ModelProto decodeStep(OnnxMl.ModelProto inPlace, ModelConfig config) {
        OnnxMl.ModelProto decode = DecodeShapeFolding.rewrite(inPlace, Map.of(
                InputsEmbedsRewrite.INPUTS_EMBEDS, List.of(DecodeShapeFolding.BATCH, 1L, (long) config.hiddenSize()),
                "position_ids", List.of(DecodeShapeFolding.BATCH, 1L)));
        return UnreadInitializers.removed(decode);
    }

    /**
     * The in-place prefill graph of a serving graph ({@link InPlacePrefill}): the decode step's GroupQueryAttention,
     * its sequence length left free (a first prompt), and the logits of each row's own last position
     * ({@link RowLastPositions}), since the prompts are right-padded.
     *
     * @throws IllegalArgumentException if the attention has no in-place form or the last position cannot be gathered
     */
    static OnnxMl.ModelProto prefillGraph(OnnxMl.ModelProto serving, ModelConfig config, OrtEnvironment env, Path dir,
                                          boolean external) {
        return prefillOf(inPlaceAttention(serving, config, env, dir, external));
    }

    /** The in-place prefill of an {@link #inPlaceAttention} graph: each row's logits at its own last position. */
    private static OnnxMl.ModelProto prefillOf(OnnxMl.ModelProto inPlace) {
        return UnreadInitializers.removed(RowLastPositions.rewrite(inPlace));
    }

    /** The rotary caches of a serving graph's attention, or null when it does not rotate. */
    private static RotaryCache rotaryCacheOf(OnnxMl.ModelProto serving, ModelConfig config, OrtEnvironment env, Path dir,
                                           boolean external) {
        return GroupQueryAttentionRewrite.rotaryTables(serving, config.layers(), config.heads(), config.kvHeads(),
                        config.maxPositions())
                .map(tables -> rotaryCache(tables, config, env, dir, external)).orElse(null);
    }

    /**
     * The cos/sin caches of every position the model has, evaluated by the export's own nodes
     * ({@code tables}, see {@link GroupQueryAttentionRewrite#rotaryTables}) on one CPU thread.
     *
     * @throws IllegalArgumentException if the tables cannot be evaluated or are not rotate_half tables
     */
    private static RotaryCache rotaryCache(OnnxMl.ModelProto tables, ModelConfig config, OrtEnvironment env, Path dir,
                                           boolean external) {
        int positions = config.maxPositions();
        long[] ids = new long[positions];
        for (int p = 0; p < positions; p++) {
            ids[p] = p;
        }
        try (OrtSession.SessionOptions options = OrtSessions.options(RuntimeConfig.cpu(1), ExecutionProvider.CPU);
             OrtSession session = OrtSessions.create(env, "the rotary tables of " + dir, tables.toByteArray(), dir, external,
                     options);
             OnnxTensor input = OnnxTensor.createTensor(env, LongBuffer.wrap(ids), new long[]{1, positions});
             OrtSession.Result result = session.run(Map.of(GroupQueryAttentionRewrite.TABLE_POSITIONS, input))) {
            float[] cos = floats(result, GroupQueryAttentionRewrite.TABLE_COS);
            float[] sin = floats(result, GroupQueryAttentionRewrite.TABLE_SIN);
            return RotaryCache.fromTables(cos, sin, positions, config.headDim());
        } catch (OrtException e) {
            throw new IllegalArgumentException("the rotary tables could not be evaluated: " + e.getMessage(), e);
        }
    }

    private static float[] floats(OrtSession.Result result, String name) {
        OnnxTensor t = (OnnxTensor) result.get(name).orElseThrow(
                () -> new IllegalArgumentException("the rotary tables gave no " + name));
        FloatBuffer b = t.getFloatBuffer();
        float[] values = new float[b.remaining()];
        b.get(values);
        return values;
    }

    /** The export, its inputs_embeds rewrite and its frozen weights, read and checked; no session yet. */
    record Parsed(OnnxMl.ModelProto original, InputsEmbedsRewrite.Rewritten rewritten, FrozenWeights weights) {
    }

    /** Reads and checks a model directory (see {@link #load}) without creating a session. */
    static Parsed parse(Path dir) {
        Path modelFile = dir.resolve("model.onnx");
        if (!Files.isRegularFile(modelFile)) {
            throw new IllegalArgumentException("model directory " + dir + " has no model.onnx");
        }
        ModelConfig config = ModelConfig.read(dir);
        OnnxMl.ModelProto original;
        try (var in = Files.newInputStream(modelFile)) {
            var coded = com.google.protobuf.CodedInputStream.newInstance(in);
            coded.setSizeLimit(Integer.MAX_VALUE);
            original = OnnxMl.ModelProto.parseFrom(coded);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + modelFile, e);
        }
        checkLayout(dir, original.getGraph(), config);
        InputsEmbedsRewrite.Rewritten rewritten;
        try {
            rewritten = InputsEmbedsRewrite.rewrite(original);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("model " + dir + ": " + e.getMessage(), e);
        }
        if (rewritten.hiddenSize() != config.hiddenSize() || rewritten.vocabSize() != config.vocabSize()) {
            throw new IllegalArgumentException("model " + dir + ": embedding table " + rewritten.embeddingTableName() + " is "
                    + rewritten.vocabSize() + " x " + rewritten.hiddenSize() + " but config.json says vocab "
                    + config.vocabSize() + ", hidden " + config.hiddenSize());
        }
        float[] table = TensorProtoReader.floats(rewritten.embeddingTable(), dir);
        String fingerprint = WeightsFingerprint.of(original, dir);
        return new Parsed(original, rewritten, new FrozenWeights(dir, config, fingerprint, table));
    }

    /** The embedding table is held in Java once read; an untied head leaves it unread by the graph. */
    private static OrtSession createSession(OrtEnvironment env, byte[] graph, Path dir, boolean external,
                                            RuntimeConfig runtime, ExecutionProvider provider) throws OrtException {
        try (OrtSession.SessionOptions options = OrtSessions.options(runtime, provider)) {
            return OrtSessions.create(env, "the serving graph of " + dir, graph, dir, external, options);
        }
    }

    private static void checkLayout(Path dir, OnnxMl.GraphProto graph, ModelConfig config) {
        Set<String> inputs = new LinkedHashSet<>();
        graph.getInputList().forEach(i -> inputs.add(i.getName()));
        Set<String> outputs = new LinkedHashSet<>();
        graph.getOutputList().forEach(o -> outputs.add(o.getName()));
        List<String> wantedInputs = new ArrayList<>(List.of("input_ids", "attention_mask", "position_ids"));
        List<String> wantedOutputs = new ArrayList<>(List.of("logits"));
        for (int i = 0; i < config.layers(); i++) {
            wantedInputs.add("past_key_values." + i + ".key");
            wantedInputs.add("past_key_values." + i + ".value");
            wantedOutputs.add("present." + i + ".key");
            wantedOutputs.add("present." + i + ".value");
        }
        for (String w : wantedInputs) {
            if (!inputs.contains(w)) {
                throw new IllegalArgumentException("model " + dir + " is not a text-generation-with-past export: missing input '"
                        + w + "' (inputs: " + inputs + ")");
            }
        }
        for (String w : wantedOutputs) {
            if (!outputs.contains(w)) {
                throw new IllegalArgumentException("model " + dir + " is not a text-generation-with-past export: missing output '"
                        + w + "' (outputs: " + outputs + ")");
            }
        }
    }

    public Path directory() {
        return directory;
    }

    public ModelConfig config() {
        return config;
    }

    /** Hex SHA-256 of the weights ({@link WeightsFingerprint}); adapters are checked against it. */
    public String fingerprint() {
        return fingerprint;
    }

    /** The provider actually running the session (CPU after a CUDA fallback). */
    public ExecutionProvider provider() {
        return provider;
    }

    /**
     * A decoding state for one batch, its cache chosen by what was loaded: appending in place when
     * {@link #decodesInPlace()}, else copying; with {@code kvCache} false, none (every step recomputes the
     * whole sequence).
     *
     * @param capacity the most positions any row will hold: its prompt and every token fed back
     * @throws IllegalArgumentException if capacity is not in [1, maxPositions]
     */
    public DecodeState newDecodeState(int capacity, boolean kvCache) {
        return newDecodeState(capacity, kvCache, null);
    }

    /**
     * A decoding state whose every session call runs with {@code control}'s run options, so another thread
     * can terminate the call in progress ({@link RunControl#terminate()}).
     *
     * @param control null for a state nobody cancels
     * @see #newDecodeState(int, boolean)
     */
    public DecodeState newDecodeState(int capacity, boolean kvCache, RunControl control) {
        if (capacity < 1 || capacity > config.maxPositions()) {
            throw new IllegalArgumentException("capacity " + capacity + " is outside [1, " + config.maxPositions()
                    + "], the positions of model " + directory);
        }
        if (!kvCache) {
            return new RecomputingDecodeState(this, capacity, control);
        }
        if (chunkSession != null) {
            return new ChunkedDecodeState(this, decodesInPlace() ? new InPlaceDecodeState(this, capacity, control)
                    : new CopyingDecodeState(this, capacity, control), control);
        }
        return decodesInPlace() ? new InPlaceDecodeState(this, capacity, control)
                : new CopyingDecodeState(this, capacity, control);
    }

    /**
     * The keys and values the model caches for {@code tokenIds} run alone at positions 0, 1, ..., in PEFT's
     * deep-prompt layout [tokens, 2·layers·kvHeads·headDim] (see {@code io.tunestream.model.prompt.DeepPromptTable}):
     * a deep prompt made of real tokens, which reproduces running those tokens (the start of a tuned one).
     *
     * @throws IllegalArgumentException if there is no token, or a token is outside the vocabulary
     */
    public float[] keysAndValues(int[] tokenIds) {
        int n = tokenIds.length;
        if (n == 0) {
            throw new IllegalArgumentException("keysAndValues needs at least one token");
        }
        long[] mask = new long[n];
        long[] positions = new long[n];
        for (int i = 0; i < n; i++) {
            mask[i] = 1;
            positions[i] = i;
        }
        int heads = config.kvHeads();
        int headDim = config.headDim();
        int width = 2 * config.layers() * heads * headDim;
        float[] out = new float[n * width];
        try (KvCache cache = forward(new StepInput(1, n, embedTokens(tokenIds), mask, positions), null).cache()) {
            for (int k = 0; k < 2 * config.layers(); k++) {
                FloatBuffer entry = cache.floats(k);
                for (int h = 0; h < heads; h++) {
                    for (int p = 0; p < n; p++) {
                        entry.get((h * n + p) * headDim, out, p * width + (k * heads + h) * headDim, headDim);
                    }
                }
            }
        }
        return out;
    }

    /** The embeddings of {@code tokens}, [tokens.length, hidden] row-major. */
    float[] embedTokens(int[] tokens) {
        int hidden = config.hiddenSize();
        float[] embeds = new float[tokens.length * hidden];
        for (int b = 0; b < tokens.length; b++) {
            embedToken(tokens[b], embeds, b * hidden);
        }
        return embeds;
    }

    /** Copies token {@code tokenId}'s embedding (hiddenSize floats) into {@code dst} at {@code offset}. */
    public void embedToken(int tokenId, float[] dst, int offset) {
        if (tokenId < 0 || tokenId >= config.vocabSize()) {
            throw new IllegalArgumentException("token id " + tokenId + " is outside the vocabulary [0, " + config.vocabSize() + ")");
        }
        System.arraycopy(embeddingTable, tokenId * config.hiddenSize(), dst, offset, config.hiddenSize());
    }

    /**
     * Runs one step.
     *
     * @param input the new positions
     * @param past  the cache of the previous step (same batch rows, in order), or null for the first step; it is
     *              read, not closed
     * @return the last position's logits per row and the cache including this step (the caller closes it)
     */
    public Step forward(StepInput input, KvCache past) {
        return forward(input, past, null);
    }

    /**
     * Runs one step that {@code control} can terminate from another thread.
     *
     * @param control null for a step nobody cancels
     * @see #forward(StepInput, KvCache)
     */
    public Step forward(StepInput input, KvCache past, RunControl control) {
        int batch = input.batch();
        int hidden = config.hiddenSize();
        if (input.embeds().length != batch * input.sequence() * hidden) {
            throw new IllegalArgumentException("embeds has " + input.embeds().length + " values, expected " + batch + " x "
                    + input.sequence() + " x " + hidden);
        }
        int pastLength = past == null ? 0 : past.length();
        if (past != null && past.batch() != batch) {
            throw new IllegalArgumentException("KV cache has " + past.batch() + " rows, the step " + batch);
        }
        if (input.totalLength() != pastLength + input.sequence()) {
            throw new IllegalArgumentException("attention mask covers " + input.totalLength() + " positions, expected past "
                    + pastLength + " + new " + input.sequence());
        }
        List<OnnxTensor> created = new ArrayList<>();
        List<OnnxTensor> prefillPresents = new ArrayList<>(presentNames.size());
        List<FloatBuffer> prefillBuffers = new ArrayList<>(presentNames.size());
        FloatBuffer logits = null;
        OrtSession.Result result = null;
        try {
            Map<String, OnnxTensor> feeds = new HashMap<>();
            feeds.put(InputsEmbedsRewrite.INPUTS_EMBEDS, track(created, OnnxTensor.createTensor(env,
                    FloatBuffer.wrap(input.embeds()), new long[]{batch, input.sequence(), hidden})));
            feeds.put("attention_mask", track(created, OnnxTensor.createTensor(env, LongBuffer.wrap(input.attentionMask()),
                    new long[]{batch, input.totalLength()})));
            feeds.put("position_ids", track(created, OnnxTensor.createTensor(env, LongBuffer.wrap(input.positionIds()),
                    new long[]{batch, input.sequence()})));
            if (past == null) {
                OnnxTensor empty = track(created, OnnxTensor.createTensor(env, FloatBuffer.wrap(new float[0]),
                        new long[]{batch, config.kvHeads(), 0, config.headDim()}));
                pastNames.forEach(n -> feeds.put(n, empty));
            } else {
                List<OnnxTensor> cached = past.tensors();
                for (int i = 0; i < pastNames.size(); i++) {
                    feeds.put(pastNames.get(i), cached.get(i));
                }
            }
            // the last-position logits have a known shape: ORT writes them straight into our direct buffer
            logits = buffers.take(batch * config.vocabSize());
            OnnxTensor pinned = track(created, OnnxTensor.createTensor(env, logits, new long[]{batch, 1, config.vocabSize()}));
            Map<String, OnnxValue> pinnedOutputs = new HashMap<>(Map.of(LastTokenLogits.LAST_LOGITS, pinned));
            Set<String> fetched = outputs;
            if (past == null) {
                // a prefill's cache is copied out once (KvBuffer, selectRows): in our direct memory that is a
                // plain memory copy, where reading ORT's own output would first copy it into a heap buffer
                fetched = Set.of();
                long[] shape = {batch, config.kvHeads(), input.sequence(), config.headDim()};
                int size = batch * config.kvHeads() * input.sequence() * config.headDim();
                for (String name : presentNames) {
                    FloatBuffer b = buffers.take(size);
                    prefillBuffers.add(b);
                    OnnxTensor t = OnnxTensor.createTensor(env, b, shape);
                    prefillPresents.add(t);
                    created.add(t);
                    pinnedOutputs.put(name, t);
                }
            }
            result = run(session, feeds, fetched, pinnedOutputs, control);
            float[] last = new float[batch * config.vocabSize()];
            logits.rewind();
            logits.get(last);
            KvCache cache;
            if (past == null) {
                List<OnnxTensor> owned = List.copyOf(prefillPresents);
                List<FloatBuffer> memory = List.copyOf(prefillBuffers);
                created.removeAll(owned);
                prefillBuffers.clear();
                cache = new KvCache(owned, memory, () -> {
                    owned.forEach(OnnxTensor::close);
                    memory.forEach(buffers::give);
                }, batch, input.sequence());
            } else {
                List<OnnxTensor> presents = new ArrayList<>(presentNames.size());
                for (String name : presentNames) {
                    presents.add((OnnxTensor) result.get(name).orElseThrow(
                            () -> new IllegalStateException("the session returned no " + name)));
                }
                cache = new KvCache(presents, result, batch, pastLength + input.sequence());
                result = null;
            }
            return new Step(last, cache);
        } catch (OrtException e) {
            throw new IllegalStateException("forward step of model " + directory + " failed (batch " + batch + ", past "
                    + pastLength + ", new " + input.sequence() + "): " + e.getMessage(), e);
        } finally {
            if (result != null) {
                result.close();
            }
            created.forEach(OnnxTensor::close);
            // what the step did not hand to its cache goes back to the pool
            prefillBuffers.forEach(buffers::give);
            if (logits != null) {
                buffers.give(logits);
            }
        }
    }

    /**
     * Copies a prefill's left-padded cache into buffers that {@link #decode} steps append to in place.
     *
     * @param prefill  the cache of a first step; stays open, the caller closes it
     * @param pads     left padding of each row
     * @param capacity positions per row the buffers hold
     */
    KvBuffer toKvBuffer(KvCache prefill, int[] pads, int capacity) {
        return KvBuffer.fromPadded(prefill, pads, capacity, buffers);
    }

    /** The pool of this model's KV buffers and prefill caches. */
    DirectBufferPool bufferPool() {
        return buffers;
    }

    /**
     * Whether first prompts are written straight into the KV buffers ({@link #prefill}, the in-place prefill graph
     * started) rather than prefilled by the export's attention and copied; fixed at load.
     */
    boolean prefillsInPlace() {
        return prefillSession != null;
    }

    /**
     * Runs prompts writing each row's keys and values into {@code kv} in place: a first prompt (no {@code past}),
     * or one row's prompt after the {@code past} positions its buffer already holds (GroupQueryAttention's
     * subsequent prompt, which ONNX Runtime takes for one row only).
     *
     * @param embeds   [batch, sequence, hidden] row-major prompts, row b's {@code lengths[b]} positions first, then
     *                 padding
     * @param sequence positions of every row in {@code embeds}
     * @param past     positions every row's buffer holds before its prompt: 0, or any for a batch of one row
     * @param lengths  prompt positions of each row, in [1, sequence]; the longest is {@code sequence}
     * @param kv       buffers of the batch, row b's length already {@code past + lengths[b]}; positions
     *                 [past, past + sequence) of every row are written
     * @return [batch, vocab] row-major logits of each row's last real position
     * @throws IllegalStateException if the model has no in-place prefill graph ({@link #prefillsInPlace()}) or the
     *                               run fails
     */
    float[] prefill(float[] embeds, int sequence, int past, int[] lengths, KvBuffer kv, RunControl control) {
        return inPlacePrompt(embeds, sequence, past, lengths, kv, control, false);
    }

    /**
     * Runs {@code sequence} tokens of one row at once after the positions its buffer holds, writing their keys and
     * values in place, and returns the logits of every one of them: the verification pass of a prompt-lookup draft (the
     * row's last token, then the draft). The GroupQueryAttention mode of a prompt after a prefix ({@link #prefill} with
     * {@code past > 0}), in the one-row verification graph ({@link #verifyGraph}; the prefill graph when that did not
     * start); the head runs on the fed positions only.
     *
     * @param embeds   [1, sequence, hidden] row-major embeddings of the fed tokens
     * @param sequence tokens fed, at least 1
     * @param kv       the buffers of one row, its length already counting the fed positions: they are written at
     *                 [length - sequence, length)
     * @return [sequence, vocab] row-major logits, position j's after the fed tokens 0..j
     * @throws IllegalStateException    if the model has no in-place prefill graph ({@link #prefillsInPlace()}) or the
     *                                  run fails
     * @throws IllegalArgumentException if the buffers hold more than one row or fewer positions than are fed
     */
    float[] verify(float[] embeds, int sequence, KvBuffer kv, RunControl control) {
        if (kv.batch() != 1 || sequence < 1 || kv.length(0) <= sequence) {
            throw new IllegalArgumentException("a verification pass feeds at least one token to one row after its past, got "
                    + sequence + " tokens for " + kv.batch() + " rows" + (kv.batch() == 1 ? " holding " + kv.length(0) : ""));
        }
        return inPlacePrompt(embeds, sequence, kv.length(0) - sequence, new int[] {sequence}, kv, control, true);
    }

    /**
     * {@link #prefill}, returning the logits of every position of the one row ({@code everyPosition}, {@link #verify})
     * or of each row's last.
     */
    private float[] inPlacePrompt(float[] embeds, int sequence, int past, int[] lengths, KvBuffer kv, RunControl control,
                                  boolean everyPosition) {
        if (prefillSession == null) {
            throw new IllegalStateException("model " + directory + " has no in-place prefill graph");
        }
        int batch = kv.batch();
        int hidden = config.hiddenSize();
        if (embeds.length != batch * sequence * hidden || lengths.length != batch || past + sequence > kv.capacity()) {
            throw new IllegalArgumentException("a prefill of " + batch + " rows of " + sequence + " positions after "
                    + past + " takes " + batch * sequence * hidden + " embedding values and " + batch
                    + " lengths within capacity " + kv.capacity() + ", got " + embeds.length + " and " + lengths.length);
        }
        if (past < 0 || past > 0 && batch != 1) {
            throw new IllegalArgumentException("a prefill after " + past + " cached positions takes one row, got " + batch);
        }
        long[] positions = new long[batch * sequence];
        int[] seqlens = new int[batch];
        long[] last = new long[batch];
        for (int b = 0; b < batch; b++) {
            if (lengths[b] < 1 || lengths[b] > sequence || kv.length(b) != past + lengths[b]) {
                throw new IllegalArgumentException("row " + b + " has " + lengths[b] + " prompt positions after " + past
                        + " (buffer: " + kv.length(b) + "), outside [1, " + sequence + "]");
            }
            // pads take the positions after the row's: valid ids whose results nothing reads
            for (int j = 0; j < sequence; j++) {
                positions[b * sequence + j] = past + j;
            }
            seqlens[b] = past + lengths[b] - 1;
            last[b] = lengths[b] - 1;
        }
        if (past + sequence > config.maxPositions()) {
            throw new IllegalArgumentException("a prompt of " + sequence + " positions after " + past + " is longer than the "
                    + config.maxPositions() + " positions of model " + directory);
        }
        List<OnnxTensor> created = new ArrayList<>();
        FloatBuffer logits = null;
        try {
            Map<String, OnnxTensor> feeds = new HashMap<>();
            feeds.put(InputsEmbedsRewrite.INPUTS_EMBEDS, track(created, OnnxTensor.createTensor(env,
                    FloatBuffer.wrap(embeds), new long[]{batch, sequence, hidden})));
            feeds.put("position_ids", track(created, OnnxTensor.createTensor(env, LongBuffer.wrap(positions),
                    new long[]{batch, sequence})));
            feeds.put(GroupQueryAttentionRewrite.SEQLENS_K, track(created, OnnxTensor.createTensor(env,
                    IntBuffer.wrap(seqlens), new long[]{batch})));
            // GroupQueryAttention takes total_sequence_length == sequence length as a first prompt, a longer one as a
            // prompt after the past
            feeds.put(GroupQueryAttentionRewrite.TOTAL_SEQUENCE_LENGTH, track(created, OnnxTensor.createTensor(env,
                    past + sequence)));
            int gathered = everyPosition ? sequence : 1;
            if (everyPosition) {
                last = new long[sequence];
                for (int j = 0; j < sequence; j++) {
                    last[j] = j;
                }
            }
            feeds.put(RowLastPositions.LAST_POSITIONS, track(created, OnnxTensor.createTensor(env, LongBuffer.wrap(last),
                    new long[]{batch, gathered, 1})));
            Map<String, OnnxValue> pinned = new HashMap<>();
            List<OnnxTensor> cached = kv.inputs();
            List<OnnxTensor> written = kv.outputs();
            for (int i = 0; i < pastNames.size(); i++) {
                feeds.put(pastNames.get(i), cached.get(i));
                pinned.put(presentNames.get(i), written.get(i));
            }
            logits = buffers.take(batch * gathered * config.vocabSize());
            pinned.put(LastTokenLogits.LAST_LOGITS, track(created, OnnxTensor.createTensor(env, logits,
                    new long[]{batch, gathered, config.vocabSize()})));
            // every output is pinned: the result holds nothing of its own
            OrtSession session = everyPosition && verifySession != null ? verifySession : prefillSession;
            run(session, feeds, Set.of(), pinned, control).close();
            float[] out = new float[batch * gathered * config.vocabSize()];
            logits.rewind();
            logits.get(out);
            return out;
        } catch (OrtException e) {
            throw new IllegalStateException((everyPosition ? "verification pass" : "in-place prefill") + " of model "
                    + directory + " failed (batch " + batch
                    + ", sequence " + sequence + (past > 0 ? " after " + past : "") + ", capacity " + kv.capacity() + "): "
                    + e.getMessage(), e);
        } finally {
            created.forEach(OnnxTensor::close);
            if (logits != null) {
                buffers.give(logits);
            }
        }
    }

    /**
     * Whether decoding appends to the KV cache in place (the GroupQueryAttention decode graph started) rather
     * than copying it at every step; fixed at load.
     */
    public boolean decodesInPlace() {
        return decodeSession != null;
    }

    /**
     * Runs one decoding step that appends each row's new position to {@code kv} in place.
     *
     * @param embeds    [batch, hidden] row-major embedding of each row's new token
     * @param positions position id of each row's new token
     * @param kv        the batch's keys and values; every row gains one position
     * @return [batch, vocab] row-major logits of the new positions
     * @throws IllegalStateException    if the model has no in-place decode graph ({@link #decodesInPlace()}),
     *                                  a row is full, or the step fails
     * @throws IllegalArgumentException if a position is outside the model's positions
     */
    float[] decode(float[] embeds, long[] positions, KvBuffer kv, RunControl control) {
        if (decodeSession == null) {
            throw new IllegalStateException("model " + directory + " has no in-place decode graph");
        }
        int batch = kv.batch();
        int hidden = config.hiddenSize();
        if (embeds.length != batch * hidden || positions.length != batch) {
            throw new IllegalArgumentException("a decode step of " + batch + " rows takes " + batch * hidden
                    + " embedding values and " + batch + " positions, got " + embeds.length + " and " + positions.length);
        }
        int[] seqlens = new int[batch];
        for (int b = 0; b < batch; b++) {
            // rotary caches cover the model's positions and no more: a position past them would read outside
            if (positions[b] < 0 || positions[b] >= config.maxPositions()) {
                throw new IllegalArgumentException("row " + b + "'s position " + positions[b] + " is outside [0, "
                        + config.maxPositions() + "), the positions of model " + directory);
            }
            seqlens[b] = kv.length(b);
            if (seqlens[b] >= kv.capacity()) {
                throw new IllegalStateException("row " + b + " of the KV buffer is full (" + kv.capacity() + " positions)");
            }
        }
        List<OnnxTensor> created = new ArrayList<>();
        FloatBuffer logits = null;
        try {
            Map<String, OnnxTensor> feeds = new HashMap<>();
            feeds.put(InputsEmbedsRewrite.INPUTS_EMBEDS, track(created, OnnxTensor.createTensor(env,
                    FloatBuffer.wrap(embeds), new long[]{batch, 1, hidden})));
            feeds.put("position_ids", track(created, OnnxTensor.createTensor(env, LongBuffer.wrap(positions),
                    new long[]{batch, 1})));
            feeds.put(GroupQueryAttentionRewrite.SEQLENS_K, track(created, OnnxTensor.createTensor(env,
                    IntBuffer.wrap(seqlens), new long[]{batch})));
            feeds.put(GroupQueryAttentionRewrite.TOTAL_SEQUENCE_LENGTH, track(created, OnnxTensor.createTensor(env,
                    kv.capacity())));
            Map<String, OnnxValue> pinned = new HashMap<>();
            List<OnnxTensor> past = kv.inputs();
            List<OnnxTensor> present = kv.outputs();
            for (int i = 0; i < pastNames.size(); i++) {
                feeds.put(pastNames.get(i), past.get(i));
                pinned.put(presentNames.get(i), present.get(i));
            }
            // from the pool: a fresh buffer this size is mapped anew, and faulted in, at every step
            logits = buffers.take(batch * config.vocabSize());
            pinned.put(LastTokenLogits.LAST_LOGITS, track(created, OnnxTensor.createTensor(env, logits,
                    new long[]{batch, 1, config.vocabSize()})));
            OrtSession step = smallDecodeSession != null && batch < parallelDecodeRows ? smallDecodeSession : decodeSession;
            // every output is pinned: the result holds nothing of its own
            run(step, feeds, Set.of(), pinned, control).close();
            kv.appended();
            float[] last = new float[batch * config.vocabSize()];
            logits.rewind();
            logits.get(last);
            return last;
        } catch (OrtException e) {
            throw new IllegalStateException("decode step of model " + directory + " failed (batch " + batch + ", capacity "
                    + kv.capacity() + "): " + e.getMessage(), e);
        } finally {
            created.forEach(OnnxTensor::close);
            if (logits != null) {
                buffers.give(logits);
            }
        }
    }

    /**
     * The one place where this model's sessions run: the prefill and copying steps ({@link #forward}) and
     * the in-place steps ({@link #decode}) all come through here.
     */
    private OrtSession.Result run(OrtSession session, Map<String, OnnxTensor> feeds, Set<String> fetched,
                                  Map<String, OnnxValue> pinned, RunControl control) throws OrtException {
        OrtSession.Result result = control == null ? session.run(feeds, fetched, pinned)
                : session.run(feeds, fetched, pinned, control.options());
        long in = 0;
        for (OnnxTensor t : feeds.values()) {
            in += RunTransfers.bytes(t);
        }
        long out = 0;
        // a tensor pinned under several names (an unrolled chunk's presents, one buffer) crosses once
        Set<OnnxValue> distinct = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
        distinct.addAll(pinned.values());
        for (OnnxValue v : distinct) {
            out += RunTransfers.bytes(v);
        }
        for (Map.Entry<String, OnnxValue> e : result) {
            if (!pinned.containsKey(e.getKey())) {
                out += RunTransfers.bytes(e.getValue());
            }
        }
        transfers.add(in, out);
        return result;
    }

    /**
     * Bytes handed to and returned from this model's session runs so far (every input and output tensor of
     * every run, pinned direct buffers included), and the runs: what crosses between Java and ONNX Runtime.
     */
    public RunTransfers transfers() {
        return transfers.snapshot();
    }

    /**
     * How this model decodes, as its load log line says: the attention (in place or copying), chunks or one step
     * a run, and why a faster way was not taken (a graph that cannot be wrapped, a session that did not start).
     */
    public String decoding() {
        return decoding;
    }

    /** Whether decode chunks append to KV buffers in place (the chunk wraps the in-place step); fixed at load. */
    boolean chunksInPlace() {
        return chunkSession != null && decodeSession != null;
    }

    /**
     * Whether decode chunks read the KV buffers from outside their loop and return the chunk's keys and values, which
     * {@link #chunk} appends ({@link ChunkSegmentAttention}), rather than carrying the whole cache; fixed at load.
     */
    boolean chunksReadPast() {
        return chunkReadsPast;
    }

    /**
     * Whether the decode chunk is the in-place step unrolled {@link #chunkSteps()} times, every copy appending to the
     * KV buffers in place ({@link UnrolledDecodeChunk}), rather than a Loop; fixed at load.
     */
    boolean chunksUnrolled() {
        return chunkUnrolled;
    }

    /** Most steps a row one decode-chunk run takes; 0 when this model decodes one step a run. Fixed at load. */
    public int chunkSteps() {
        return chunkSteps;
    }

    /**
     * Makes every following chunk run fail with {@code fault} before it starts (null: run again), as a device
     * running out of memory would; for the tests of the fallback to steps.
     */
    void failChunks(RuntimeException fault) {
        this.chunkFault = fault;
    }

    /**
     * The result of a chunk run.
     *
     * @param steps  steps the loop ran (at least 1)
     * @param tokens [steps, batch] row-major tokens chosen at each step
     * @param cache  the cache after the chunk: the past and every token fed, {@code steps} positions longer; the
     *               caller closes it
     */
    record Chunk(int steps, long[] tokens, KvCache cache) {
    }

    /**
     * Runs up to {@code rows.steps()} steps in the decode-chunk graph ({@link DecodeChunkGraph}).
     *
     * @param rows      each row's token to feed first and how to choose its next ones
     * @param positions each row's position of that token
     * @param mask      [batch, past] the past's attention mask (copying layout; null in place)
     * @param past      the cache, read and not closed (copying layout; null in place)
     * @param kv        the KV buffers the chunk appends to (in place, {@link #chunksInPlace()}; null when copying)
     * @return the chunk; its cache is null in place ({@code kv} then holds every row {@code steps} positions longer)
     * @throws IllegalStateException if the model has no chunk graph or the run fails (the past is left as it was; in
     *                               place, the rows' positions past their lengths may have been written)
     */
    Chunk chunk(ChunkRows rows, long[] positions, long[] mask, KvCache past, KvBuffer kv, RunControl control) {
        if (chunkSession == null) {
            throw new IllegalStateException("model " + directory + " has no decode-chunk graph");
        }
        RuntimeException fault = chunkFault;
        if (fault != null) {
            throw fault;
        }
        if ((past == null) != chunksInPlace() || (kv == null) == (past == null)) {
            throw new IllegalStateException("model " + directory + "'s decode chunks take " + (chunksInPlace() ? "KV buffers"
                    : "a KV cache"));
        }
        int batch = past != null ? past.batch() : kv.batch();
        int vocab = config.vocabSize();
        int maxSteps = rows.steps();
        OrtSession runner = smallChunkSession != null && batch < parallelDecodeRows ? smallChunkSession : chunkSession;
        // the small session's form may differ from the large one's (a loop for few rows, the step unrolled for many)
        boolean unrolled = runner.getOutputNames().contains(UnrolledDecodeChunk.GOING);
        boolean readsPast = runner.getOutputNames().contains(DecodeChunkGraph.chunkOutput(0, "key"));
        long[] tokens = new long[batch];
        long[] remaining = new long[batch];
        long[] generated = new long[batch];
        long[] minNew = new long[batch];
        long[] topK = new long[batch];
        byte[] seen = new byte[batch * vocab];
        // an unrolled chunk runs all its copies: uniforms for each, and rows done after the steps asked
        int copies = unrolled ? chunkSteps : maxSteps;
        float[] uniforms = new float[copies * batch];
        for (int b = 0; b < batch; b++) {
            tokens[b] = rows.tokens()[b];
            remaining[b] = unrolled ? Math.min(rows.remaining()[b], maxSteps) : rows.remaining()[b];
            generated[b] = rows.generated()[b];
            minNew[b] = rows.minNewTokens()[b];
            topK[b] = rows.topK()[b];
            java.util.BitSet s = rows.seen()[b];
            for (int t = s.nextSetBit(0); t >= 0 && t < vocab; t = s.nextSetBit(t + 1)) {
                seen[b * vocab + t] = 1;
            }
            if (rows.temperature()[b] > 0) {
                for (int k = 0; k < maxSteps; k++) {
                    uniforms[k * batch + b] = rows.uniforms()[b][k];
                }
            }
        }
        List<OnnxTensor> created = new ArrayList<>();
        OrtSession.Result result = null;
        try {
            Map<String, OnnxTensor> feeds = new HashMap<>();
            long[] shape = {batch};
            feeds.put(DecodeChunkGraph.TOKEN, track(created, OnnxTensor.createTensor(env, LongBuffer.wrap(tokens), shape)));
            feeds.put(DecodeChunkGraph.POSITION, track(created, OnnxTensor.createTensor(env, LongBuffer.wrap(positions), shape)));
            if (past != null) {
                feeds.put(DecodeChunkGraph.ATTENTION_MASK, track(created, OnnxTensor.createTensor(env, LongBuffer.wrap(mask),
                        new long[]{batch, past.length()})));
            } else {
                int[] seqlens = new int[batch];
                for (int b = 0; b < batch; b++) {
                    seqlens[b] = kv.length(b);
                    if (seqlens[b] + Math.min(maxSteps, rows.remaining()[b]) > kv.capacity()) {
                        throw new IllegalStateException("row " + b + " of the KV buffer (" + seqlens[b] + " of " + kv.capacity()
                                + " positions) has no room for " + Math.min(maxSteps, rows.remaining()[b]) + " more");
                    }
                }
                feeds.put(DecodeChunkGraph.SEQLENS, track(created, OnnxTensor.createTensor(env, IntBuffer.wrap(seqlens), shape)));
                if (!readsPast) {
                    feeds.put(GroupQueryAttentionRewrite.TOTAL_SEQUENCE_LENGTH, track(created, OnnxTensor.createTensor(env,
                            kv.capacity())));
                }
            }
            feeds.put(DecodeChunkGraph.REMAINING, track(created, OnnxTensor.createTensor(env, LongBuffer.wrap(remaining), shape)));
            feeds.put(DecodeChunkGraph.GENERATED, track(created, OnnxTensor.createTensor(env, LongBuffer.wrap(generated), shape)));
            feeds.put(DecodeChunkGraph.MIN_NEW_TOKENS, track(created, OnnxTensor.createTensor(env, LongBuffer.wrap(minNew),
                    shape)));
            if (!unrolled) {
                feeds.put(DecodeChunkGraph.MAX_STEPS, track(created, OnnxTensor.createTensor(env, (long) maxSteps)));
            }
            feeds.put(DecodeChunkGraph.TEMPERATURE, track(created, OnnxTensor.createTensor(env,
                    FloatBuffer.wrap(rows.temperature()), shape)));
            feeds.put(DecodeChunkGraph.TOP_K, track(created, OnnxTensor.createTensor(env, LongBuffer.wrap(topK), shape)));
            feeds.put(DecodeChunkGraph.TOP_P, track(created, OnnxTensor.createTensor(env, FloatBuffer.wrap(rows.topP()), shape)));
            feeds.put(DecodeChunkGraph.REPETITION_PENALTY, track(created, OnnxTensor.createTensor(env,
                    FloatBuffer.wrap(rows.repetitionPenalty()), shape)));
            feeds.put(DecodeChunkGraph.SEEN, track(created, OnnxTensor.createTensor(env, java.nio.ByteBuffer.wrap(seen),
                    new long[]{batch, vocab}, ai.onnxruntime.OnnxJavaType.BOOL)));
            feeds.put(DecodeChunkGraph.UNIFORMS, track(created, OnnxTensor.createTensor(env, FloatBuffer.wrap(uniforms),
                    new long[]{copies, batch})));
            List<OnnxTensor> cached = past != null ? past.tensors() : kv.inputs();
            Set<String> fetched = new LinkedHashSet<>();
            fetched.add(DecodeChunkGraph.TOKENS);
            List<String> presents = new ArrayList<>();
            Map<String, OnnxValue> pinned = new HashMap<>();
            for (int layer = 0, i = 0; layer < config.layers(); layer++) {
                for (String kind : List.of("key", "value")) {
                    feeds.put(DecodeChunkGraph.pastInput(layer, kind), cached.get(i));
                    presents.add(readsPast ? DecodeChunkGraph.chunkOutput(layer, kind)
                            : DecodeChunkGraph.presentOutput(layer, kind));
                    if (unrolled) {
                        // every copy's attention writes into the buffers its past is read from: it appends in place
                        for (int copy = 0; copy < copies; copy++) {
                            pinned.put(UnrolledDecodeChunk.presentOutput(copy, layer, kind), kv.outputs().get(i));
                        }
                    } else if (kv != null && !readsPast) {
                        // the loop's last keys and values land in the buffers it started from
                        pinned.put(DecodeChunkGraph.presentOutput(layer, kind), kv.outputs().get(i));
                    }
                    i++;
                }
            }
            if (kv == null || readsPast) {
                fetched.addAll(presents);
            }
            if (unrolled) {
                fetched.add(UnrolledDecodeChunk.GOING);
            }
            result = run(runner, feeds, fetched, pinned, control);
            OnnxTensor chosen = (OnnxTensor) result.get(DecodeChunkGraph.TOKENS).orElseThrow(
                    () -> new IllegalStateException("the decode-chunk run returned no tokens"));
            int steps = Math.toIntExact(chosen.getInfo().getShape()[0]);
            if (unrolled) {
                steps = unrolledSteps(result, maxSteps);
            }
            LongBuffer chosenBuffer = chosen.getLongBuffer();
            long[] out = new long[steps * batch];
            chosenBuffer.get(out);
            if (kv != null && readsPast) {
                List<FloatBuffer> appended = new ArrayList<>(presents.size());
                for (String name : presents) {
                    appended.add(((OnnxTensor) result.get(name).orElseThrow(
                            () -> new IllegalStateException("the decode-chunk run returned no " + name))).getFloatBuffer());
                }
                kv.append(appended, steps);
                return new Chunk(steps, out, null);
            }
            if (kv != null) {
                kv.appended(steps);
                return new Chunk(steps, out, null);
            }
            List<OnnxTensor> presentTensors = new ArrayList<>(presents.size());
            for (String name : presents) {
                presentTensors.add((OnnxTensor) result.get(name).orElseThrow(
                        () -> new IllegalStateException("the decode-chunk run returned no " + name)));
            }
            KvCache cache = new KvCache(presentTensors, result, batch, past.length() + steps);
            result = null;
            return new Chunk(steps, out, cache);
        } catch (OrtException e) {
            throw new IllegalStateException("decode chunk of model " + directory + " failed (batch " + batch + ", "
                    + (past != null ? "past " + past.length() : "capacity " + kv.capacity()) + ", up to " + maxSteps
                    + " steps): " + e.getMessage(), e);
        } finally {
            if (result != null) {
                result.close();
            }
            created.forEach(OnnxTensor::close);
        }
    }

    /**
     * The steps an unrolled chunk ran for its rows: up to the first copy after which no row was going, at most the
     * steps asked (the copies after are garbage, see {@link UnrolledDecodeChunk}).
     */
    private static int unrolledSteps(OrtSession.Result result, int maxSteps) throws OrtException {
        boolean[] going = (boolean[]) result.get(UnrolledDecodeChunk.GOING).orElseThrow(
                () -> new IllegalStateException("the unrolled decode chunk returned no '" + UnrolledDecodeChunk.GOING + "'"))
                .getValue();
        int steps = 1;
        while (steps < maxSteps && going[steps - 1]) {
            steps++;
        }
        return steps;
    }

    private static OnnxTensor track(List<OnnxTensor> created, OnnxTensor t) {
        created.add(t);
        return t;
    }

    @Override
    public void close() {
        try {
            if (smallChunkSession != null) {
                smallChunkSession.close();
            }
            if (chunkSession != null) {
                chunkSession.close();
            }
            if (smallDecodeSession != null) {
                smallDecodeSession.close();
            }
            if (verifySession != null) {
                verifySession.close();
            }
            if (prefillSession != null) {
                prefillSession.close();
            }
            if (decodeSession != null) {
                decodeSession.close();
            }
            session.close();
        } catch (OrtException e) {
            throw new IllegalStateException("cannot close the ONNX Runtime session of " + directory, e);
        }
    }

    /**
     * The result of a step.
     *
     * @param lastLogits [batch, vocab] row-major logits of each row's last position
     * @param cache      keys and values of past + new positions; the caller closes it
     */
    public record Step(float[] lastLogits, KvCache cache) {
    }
}

package io.tunestream.serving.model;

import io.tunestream.model.generate.GenerationOptions;
import io.tunestream.model.generate.GenerationRequest;
import io.tunestream.model.generate.GenerationResult;
import io.tunestream.model.generate.RowError;
import io.tunestream.model.generate.Generator;
import io.tunestream.model.generate.GeneratorConfig;
import io.tunestream.model.generate.PrefixCache;
import io.tunestream.model.generate.PromptLookup;
import io.tunestream.model.onnx.DecoderModel;
import io.tunestream.model.onnx.RuntimeConfig;
import io.tunestream.model.prompt.TaskTemplate;
import io.tunestream.model.prompt.DeepPromptTable;
import io.tunestream.model.prompt.VirtualTokenTable;
import io.tunestream.schemas.adapters.AdapterCheck;
import io.tunestream.model.tokenize.HuggingFaceTextTokenizer;
import io.tunestream.schemas.ErrorKind;
import io.tunestream.schemas.FinishReason;
import io.tunestream.model.onnx.RunControl;
import io.tunestream.serving.batch.BatchAnswerer;
import io.tunestream.serving.batch.BatchCancellation;
import io.tunestream.serving.batch.TransientBatchFailure;
import io.tunestream.serving.batch.BatchItem;
import io.tunestream.serving.batch.BatchOutcome;
import io.tunestream.serving.batch.ServingModelInfo;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The {@link BatchAnswerer} backed by the model runtime: one {@link Generator} call per batch (per
 * distinct sequence limit, which is normally one), each row with its own template, adapter and options.
 *
 * <p>Owns the model and the tokenizer it loads; {@link #close()} releases them.
 */
public final class ModelBatchAnswerer implements BatchAnswerer, AutoCloseable {

    private final DecoderModel model;
    private final HuggingFaceTextTokenizer tokenizer;
    private final ServingModelInfo info;
    private final Map<Integer, Generator> generatorsBySequenceLimit = new ConcurrentHashMap<>();
    /** Shared by the generators of every sequence limit (a task's start does not depend on it); null when off. */
    private final PrefixCache prefixCache;
    /** Decoded tables of the adapter versions batches used lately, bounded in bytes (the store holds every version). */
    private final AdapterTableCache adapterTables;
    /** Drafts of a batch down to one greedy row ({@code decode.lookup.tokens}, {@code decode.lookup.ngram}). */
    private final PromptLookup promptLookup;

    private ModelBatchAnswerer(DecoderModel model, HuggingFaceTextTokenizer tokenizer, long prefixCacheBytes,
                               long adapterTableCacheBytes, PromptLookup promptLookup) {
        this.model = model;
        this.promptLookup = promptLookup;
        this.tokenizer = tokenizer;
        this.prefixCache = prefixCacheBytes > 0 ? new PrefixCache(prefixCacheBytes) : null;
        this.adapterTables = new AdapterTableCache(adapterTableCacheBytes);
        this.info = new ServingModelInfo(model.fingerprint(), model.config().hiddenSize(),
                model.config().maxPositions(), Optional.of(new AdapterCheck.Decoder(model.config().layers(),
                model.config().kvHeads(), model.config().headDim())), model.config().bosTokenId().isPresent());
    }

    /** Loads the model and its tokenizer from {@code modelDir}, with a prefix cache of the default bound. */
    public static ModelBatchAnswerer load(Path modelDir, RuntimeConfig runtime) {
        return load(modelDir, runtime, io.tunestream.serving.ServingConfig.DEFAULT_PREFIX_CACHE_BYTES);
    }

    /**
     * Loads the model and its tokenizer from {@code modelDir}.
     *
     * @param prefixCacheBytes bound of the prefix cache ({@code prefix.cache.bytes}); 0 for none
     */
    public static ModelBatchAnswerer load(Path modelDir, RuntimeConfig runtime, long prefixCacheBytes) {
        return load(modelDir, runtime, prefixCacheBytes, io.tunestream.serving.ServingConfig.DEFAULT_ADAPTER_CACHE_BYTES);
    }

    /**
     * Loads the model and its tokenizer from {@code modelDir}.
     *
     * @param prefixCacheBytes       bound of the prefix cache ({@code prefix.cache.bytes}); 0 for none
     * @param adapterTableCacheBytes bound of the decoded adapter tables ({@code adapters.cache.bytes}); 0 decodes
     *                               every row's table anew
     */
    public static ModelBatchAnswerer load(Path modelDir, RuntimeConfig runtime, long prefixCacheBytes,
                                          long adapterTableCacheBytes) {
        return load(modelDir, runtime, prefixCacheBytes, adapterTableCacheBytes, PromptLookup.DEFAULT);
    }

    /**
     * Loads the model and its tokenizer from {@code modelDir}.
     *
     * @param prefixCacheBytes       bound of the prefix cache ({@code prefix.cache.bytes}); 0 for none
     * @param adapterTableCacheBytes bound of the decoded adapter tables ({@code adapters.cache.bytes}); 0 decodes
     *                               every row's table anew
     * @param promptLookup           prompt-lookup drafts ({@code decode.lookup.tokens}, {@code decode.lookup.ngram});
     *                               {@link PromptLookup#OFF} for none
     */
    public static ModelBatchAnswerer load(Path modelDir, RuntimeConfig runtime, long prefixCacheBytes,
                                          long adapterTableCacheBytes, PromptLookup promptLookup) {
        java.util.Objects.requireNonNull(promptLookup, "promptLookup (PromptLookup.OFF for none)");
        if (prefixCacheBytes < 0) {
            throw new IllegalArgumentException("prefix cache bytes must be >= 0, got " + prefixCacheBytes);
        }
        if (adapterTableCacheBytes < 0) {
            throw new IllegalArgumentException("adapter cache bytes must be >= 0, got " + adapterTableCacheBytes);
        }
        // without lookup nothing runs verification passes: no session (and copy of the weights) for them
        DecoderModel model = DecoderModel.load(modelDir, promptLookup.enabled() ? runtime : runtime.withVerifySession(false));
        try {
            return new ModelBatchAnswerer(model, HuggingFaceTextTokenizer.load(modelDir), prefixCacheBytes,
                    adapterTableCacheBytes, promptLookup);
        } catch (RuntimeException e) {
            model.close();
            throw e;
        }
    }

    @Override
    public ServingModelInfo model() {
        return info;
    }

    @Override
    public List<BatchOutcome> answer(List<BatchItem> items) {
        return answer(items, new BatchCancellation());
    }

    /**
     * Runs the batch with ONNX Runtime's terminate flag tied to {@code cancellation}: cancelling it stops the
     * session call in progress. An out-of-memory failure of the runtime is thrown as a splittable
     * {@link TransientBatchFailure}.
     */
    @Override
    public List<BatchOutcome> answer(List<BatchItem> items, BatchCancellation cancellation) {
        // rows with the same sequence limit run together; normally every task uses the model's positions
        Map<Integer, List<Integer>> rowsByLimit = new LinkedHashMap<>();
        BatchOutcome[] outcomes = new BatchOutcome[items.size()];
        List<GenerationRequest> requests = new ArrayList<>(items.size());
        for (int i = 0; i < items.size(); i++) {
            BatchItem item = items.get(i);
            try {
                requests.add(toRequest(item));
                int limit = Math.min(item.template().getMaxSeqLength(), info.maxPositions());
                rowsByLimit.computeIfAbsent(limit, l -> new ArrayList<>()).add(i);
            } catch (IllegalArgumentException e) {
                requests.add(null);
                outcomes[i] = new BatchOutcome.Failed(ErrorKind.INVALID_REQUEST, where(item) + e.getMessage());
            }
        }
        for (Map.Entry<Integer, List<Integer>> group : rowsByLimit.entrySet()) {
            List<Integer> rows = group.getValue();
            List<GenerationResult> results;
            try (RunControl control = RunControl.create()) {
                Runnable unregister = cancellation.onCancel(control::terminate);
                try {
                    results = generator(group.getKey()).generate(rows.stream().map(requests::get).toList(), control);
                } finally {
                    unregister.run();
                }
            }
            for (int r = 0; r < rows.size(); r++) {
                GenerationResult result = results.get(r);
                if (result.isError() && result.errorKind() == RowError.OUT_OF_MEMORY) {
                    throw new TransientBatchFailure("batch of " + rows.size() + " rows: " + result.error(), true);
                }
                int i = rows.get(r);
                outcomes[i] = toOutcome(items.get(i), result);
            }
        }
        return Arrays.asList(outcomes);
    }

    private Generator generator(int sequenceLimit) {
        return generatorsBySequenceLimit.computeIfAbsent(sequenceLimit,
                limit -> new Generator(model, tokenizer, new GeneratorConfig(limit, true, promptLookup), prefixCache));
    }

    @Override
    public Optional<PrefixCache> prefixCache() {
        return Optional.ofNullable(prefixCache);
    }

    private static String where(BatchItem item) {
        return "request " + item.requestId() + ", task " + item.task() + ": ";
    }

    /** The decoded adapter tables it keeps (bounded by {@code adapters.cache.bytes}). */
    public AdapterTableCache adapterTables() {
        return adapterTables;
    }

    @Override
    public Optional<AdapterTableCache> adapterTableCache() {
        return Optional.of(adapterTables);
    }

    /** The model runtime's request for {@code item}. */
    private GenerationRequest toRequest(BatchItem item) {
        io.tunestream.schemas.TaskTemplate t = item.template();
        var template = new TaskTemplate(t.getTask(), t.getPromptTemplate(), t.getPromptTemplateFields(),
                t.getAnswerOnlyLoss(), t.getAnswerField(), t.getTruncateField(), t.getVirtualTokenSplits(),
                t.getTotalVirtualTokens(), t.getAddBos());
        // a deep-prompt adapter (checked against the model's layers, kv heads and head size when stored) fills
        // the row's KV-cache prefix instead of the template's virtual-token slots
        Optional<AdapterTableCache.Tables> tables = item.adapter().map(adapterTables::tables);
        Optional<DeepPromptTable> deep = tables.flatMap(AdapterTableCache.Tables::deepPrompt);
        Optional<VirtualTokenTable> table = tables.flatMap(AdapterTableCache.Tables::virtualTokens);
        var o = item.request().getOptions();
        var options = new GenerationOptions(o.getMaxNewTokens(), o.getMinNewTokens(), o.getTemperature(), o.getTopK(),
                o.getTopP(), o.getRepetitionPenalty(), List.copyOf(o.getStop()),
                o.getSeed() == null ? OptionalLong.empty() : OptionalLong.of(o.getSeed()));
        return new GenerationRequest(item.requestId(), template, item.request().getFields(), table, options,
                item.adapter().isEmpty() && t.getAllowBaseModel(), deep);
    }

    private static BatchOutcome toOutcome(BatchItem item, GenerationResult result) {
        if (result.isError()) {
            return new BatchOutcome.Failed(errorKind(result.errorKind()), where(item) + result.error());
        }
        FinishReason reason = switch (result.finishReason()) {
            case STOP -> FinishReason.STOP;
            case LENGTH -> FinishReason.LENGTH;
            case EOS -> FinishReason.EOS;
            case ERROR -> FinishReason.ERROR;
        };
        return new BatchOutcome.Generated(result.text(), result.promptTokens(), result.completionTokens(), reason);
    }

    /** The answer's error kind for the model runtime's class of row error. */
    static ErrorKind errorKind(RowError error) {
        return switch (error) {
            case INVALID_INPUT -> ErrorKind.INVALID_REQUEST;
            case PROMPT_TOO_LONG -> ErrorKind.PROMPT_TOO_LONG;
            case NO_ADAPTER -> ErrorKind.NO_ADAPTER;
            case ADAPTER_MISMATCH -> ErrorKind.ADAPTER_MISMATCH;
            case GENERATION_FAILED, OUT_OF_MEMORY -> ErrorKind.GENERATION_FAILED;
            case CANCELLED -> ErrorKind.TIMEOUT;
        };
    }

    /** The loaded model, for benchmarks that call the runtime directly next to the served path. */
    public DecoderModel modelForBenchmarks() {
        return model;
    }

    /** The loaded tokenizer, for benchmarks that call the runtime directly next to the served path. */
    public HuggingFaceTextTokenizer tokenizerForBenchmarks() {
        return tokenizer;
    }

    @Override
    public void close() {
        tokenizer.close();
        model.close();
    }
}

package io.tunestream.model.generate;

import io.tunestream.model.onnx.ChunkFailedException;
import io.tunestream.model.onnx.ChunkRows;
import io.tunestream.model.onnx.ComputedPrefix;
import io.tunestream.model.onnx.DecodeState;
import io.tunestream.model.onnx.DecoderModel;
import io.tunestream.model.onnx.RunControl;
import io.tunestream.model.onnx.KvPrefix;
import io.tunestream.model.prompt.DeepPromptTable;
import io.tunestream.model.prompt.Prompt;
import io.tunestream.model.prompt.PromptBuilder;
import io.tunestream.model.prompt.PromptMode;
import io.tunestream.model.prompt.PromptTooLongException;
import io.tunestream.model.prompt.TaskTemplate;
import io.tunestream.model.prompt.VirtualTokenTable;
import io.tunestream.model.tokenize.TextTokenizer;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.LongAdder;

/**
 * Batched generation where every row has its own task, template, adapter and options.
 *
 * <p>Rows are left-padded to the longest prompt (mask 0 on pads, positions counted from each row's
 * first real token: cumsum(mask) - 1), run together, and dropped from the batch (and its KV cache)
 * as soon as they finish. A row whose input is bad (unknown field, missing answer field, adapter of
 * another model or width, prompt that cannot be truncated) gets an ERROR result naming its task;
 * the other rows are answered.
 *
 * <p>Does not own the model or the tokenizer. Thread-safe: each call has its own state.
 */
public final class Generator {

    private final DecoderModel model;
    private final TextTokenizer tokenizer;
    private final PromptBuilder prompts;
    private final GeneratorConfig config;
    private final int[] eosIds;
    /** Shared prompt starts, or null: every row is prefilled whole. */
    private final PrefixCache prefixCache;
    private final LongAdder lookupPasses = new LongAdder();
    private final LongAdder draftedTokens = new LongAdder();
    private final LongAdder acceptedTokens = new LongAdder();
    private final LongAdder rejectedPasses = new LongAdder();

    /**
     * A generator that prefills every row whole.
     *
     * @throws IllegalArgumentException if {@code config.maxSequenceLength} exceeds the model's positions
     */
    public Generator(DecoderModel model, TextTokenizer tokenizer, GeneratorConfig config) {
        this(model, tokenizer, config, null);
    }

    /**
     * A generator that takes each row's shared start (virtual tokens or deep prompt, then the template text
     * before the first field) from {@code prefixCache}, computing it once per template and adapter, and
     * prefills only the rest of the row. A row uses the positions its prompt has in common with the cached
     * start (at least one position of its own is always prefilled); a row with none in common, or whose start
     * cannot be computed, is prefilled whole. The tokens are those of prefilling whole.
     *
     * @param prefixCache shared by the generators of one model, or null for none
     * @throws IllegalArgumentException if {@code config.maxSequenceLength} exceeds the model's positions
     */
    public Generator(DecoderModel model, TextTokenizer tokenizer, GeneratorConfig config, PrefixCache prefixCache) {
        if (config.maxSequenceLength() > model.config().maxPositions()) {
            throw new IllegalArgumentException("maxSequenceLength " + config.maxSequenceLength() + " exceeds the "
                    + model.config().maxPositions() + " positions of model " + model.directory());
        }
        this.model = model;
        this.tokenizer = tokenizer;
        this.prompts = new PromptBuilder(tokenizer, model.config().bosTokenId());
        this.config = config;
        this.eosIds = model.config().eosTokenIds().stream().mapToInt(Integer::intValue).toArray();
        this.prefixCache = prefixCache;
    }

    /** A generator with the KV cache and the model's whole position range. */
    public static Generator withDefaults(DecoderModel model, TextTokenizer tokenizer) {
        return new Generator(model, tokenizer, new GeneratorConfig(model.config().maxPositions(), true));
    }

    /** What prompt-lookup decoding ({@link GeneratorConfig#promptLookup()}) did in this generator's calls so far. */
    public PromptLookupCounts promptLookupCounts() {
        return new PromptLookupCounts(lookupPasses.sum(), draftedTokens.sum(), acceptedTokens.sum(),
                rejectedPasses.sum());
    }

    /** Generates every request as one batch; results come back in request order. */
    public List<GenerationResult> generate(List<GenerationRequest> requests) {
        return generate(requests, null);
    }

    /**
     * Generates every request as one batch that {@code control} can stop from another thread: the session
     * call in progress is terminated and no further step runs; the unfinished rows get a
     * {@link RowError#CANCELLED} result. A failure that says the runtime ran out of memory gives
     * {@link RowError#OUT_OF_MEMORY} results (a smaller batch may succeed), any other {@link
     * RowError#GENERATION_FAILED}.
     *
     * @param control null for a generation nobody cancels
     */
    public List<GenerationResult> generate(List<GenerationRequest> requests, RunControl control) {
        GenerationResult[] results = new GenerationResult[requests.size()];
        List<Row> rows = new ArrayList<>();
        // the starts this batch took: its rows share them even when the cache cannot keep them (bound too small)
        Map<PrefixCache.Key, PrefixCache.Entry> batchStarts = new HashMap<>();
        for (int i = 0; i < requests.size(); i++) {
            GenerationRequest request = requests.get(i);
            try {
                rows.add(prepare(i, request, batchStarts, control));
            } catch (IllegalArgumentException e) {
                results[i] = GenerationResult.failed(request.id(), kindOf(e), e.getMessage());
            }
        }
        if (!rows.isEmpty()) {
            try {
                decode(rows, control);
            } catch (RuntimeException e) {
                boolean cancelled = control != null && control.isTerminated();
                RowError kind = cancelled ? RowError.CANCELLED
                        : isOutOfMemory(e) ? RowError.OUT_OF_MEMORY : RowError.GENERATION_FAILED;
                String message = cancelled ? "generation cancelled" : "generation failed: " + e.getMessage();
                for (Row row : rows) {
                    if (row.finish == null) {
                        row.fail(kind, message);
                    }
                }
            }
        }
        for (Row row : rows) {
            results[row.index] = row.result();
        }
        return List.of(results);
    }

    private Row prepare(int index, GenerationRequest request, Map<PrefixCache.Key, PrefixCache.Entry> batchStarts,
                        RunControl control) {
        TaskTemplate template = request.template();
        String task = template.taskName();
        int hidden = model.config().hiddenSize();
        // a template without answer_field (NeMo's intent_and_slot) generates after the whole prompt, as NeMo's
        // inference does: PromptBuilder leaves out only the answer field
        Optional<VirtualTokenTable> table = request.virtualTokens();
        Optional<DeepPromptTable> deep = request.deepPrompt();
        if (deep.isPresent()) {
            DeepPromptTable d = deep.get();
            if (!d.modelFingerprint().equals(model.fingerprint())) {
                throw new RowRejected(RowError.ADAPTER_MISMATCH, "task '" + task + "': the deep prompt was tuned for model "
                        + d.modelFingerprint() + ", not for the loaded model " + model.fingerprint());
            }
            try {
                d.checkFits(model.config());
            } catch (IllegalArgumentException e) {
                throw new RowRejected(RowError.ADAPTER_MISMATCH, e.getMessage());
            }
            if (table.isEmpty()) {
                // the prefix takes the place of the template's virtual-token slots
                template = template.withoutVirtualTokens();
            }
        }
        if (table.isEmpty() && template.totalVirtualTokens() > 0) {
            if (!request.allowPlainPrompt()) {
                throw new RowRejected(RowError.NO_ADAPTER, "task '" + task + "': no virtual-token table (adapter) for a template with "
                        + template.totalVirtualTokens() + " virtual tokens, and the request does not allow the plain prompt");
            }
            template = template.withoutVirtualTokens();
        }
        if (table.isPresent()) {
            VirtualTokenTable t = table.get();
            if (!t.modelFingerprint().equals(model.fingerprint())) {
                throw new RowRejected(RowError.ADAPTER_MISMATCH, "task '" + task + "': the adapter was tuned for model " + t.modelFingerprint()
                        + ", not for the loaded model " + model.fingerprint());
            }
            if (t.hidden() != hidden) {
                throw new RowRejected(RowError.ADAPTER_MISMATCH, "task '" + task + "': the virtual-token table is " + t.hidden()
                        + " wide but the model's hidden size is " + hidden);
            }
            if (t.rows() != template.totalVirtualTokens()) {
                throw new RowRejected(RowError.ADAPTER_MISMATCH, "task '" + task + "': the virtual-token table has " + t.rows()
                        + " rows but the template takes total_virtual_tokens = " + template.totalVirtualTokens());
            }
        }
        GenerationOptions options = request.options();
        int prefix = deep.map(DeepPromptTable::virtualTokens).orElse(0);
        int room = config.maxSequenceLength() - options.maxNewTokens() - prefix;
        if (room <= 0) {
            throw new PromptTooLongException("task '" + task + "': maxNewTokens " + options.maxNewTokens()
                    + (prefix > 0 ? " and the deep prompt's " + prefix + " virtual tokens" : "")
                    + " leave no room for a prompt in max_seq_length " + config.maxSequenceLength());
        }
        Prompt prompt = prompts.build(template, request.fields(), PromptMode.INFERENCE, room);
        float[] embeds = embed(prompt, table);
        BitSet seen = new BitSet(model.config().vocabSize());
        for (int id : prompt.realTokenIds()) {
            seen.set(id);
        }
        SplittableRandom random = new SplittableRandom(options.seed().orElseGet(System::nanoTime));
        Prefilled prefilled = prefixCache == null ? new Prefilled(embeds, deep)
                : afterCachedStart(template, table, deep, prompt, embeds, batchStarts, control);
        return new Row(index, request.id(), options, prompt.length(), prompt.realTokenIds(), prefilled, deep, seen,
                random);
    }

    /** {@code prompt}'s embeddings, [length, hidden] row-major: token embeddings and the table's virtual rows. */
    private float[] embed(Prompt prompt, Optional<VirtualTokenTable> table) {
        int hidden = model.config().hiddenSize();
        float[] embeds = new float[prompt.length() * hidden];
        for (int p = 0; p < prompt.length(); p++) {
            if (prompt.isVirtual(p)) {
                table.orElseThrow().copyRow(prompt.virtualRows()[p], embeds, p * hidden);
            } else {
                model.embedToken(prompt.tokenIds()[p], embeds, p * hidden);
            }
        }
        return embeds;
    }

    /**
     * What the prefill runs for a row: the prompt positions after the ones it shares with its cached start,
     * and that start's keys and values (after the deep prompt's) as the row's prefix; or, with nothing shared,
     * the whole prompt after the deep prompt.
     */
    private Prefilled afterCachedStart(TaskTemplate template, Optional<VirtualTokenTable> table,
                                       Optional<DeepPromptTable> deep, Prompt prompt, float[] embeds,
                                       Map<PrefixCache.Key, PrefixCache.Entry> batchStarts, RunControl control) {
        Prefilled whole = new Prefilled(embeds, deep);
        PrefixCache.Key key = new PrefixCache.Key(model.fingerprint(), template, table, deep);
        PrefixCache.Entry entry = batchStarts.get(key);
        if (entry != null) {
            prefixCache.hitInBatch();
        } else {
            entry = prefixCache.get(key).orElse(null);
        }
        if (entry == null) {
            Prompt start = prompts.sharedStart(template);
            Optional<ComputedPrefix> computed = Optional.empty();
            if (start.length() > 0) {
                try {
                    computed = Optional.of(ComputedPrefix.compute(model, embed(start, table), deep, control));
                } catch (RuntimeException e) {
                    // the row runs whole; a model failure that matters fails the batch's own prefill
                    prefixCache.failed();
                    return whole;
                }
            }
            entry = new PrefixCache.Entry(start, computed);
            prefixCache.put(key, entry);
        }
        batchStarts.put(key, entry);
        if (entry.prefix().isEmpty()) {
            return whole;
        }
        // BPE may merge the start's last token with the field after it: use only the positions in common, and
        // leave the row at least one position of its own to prefill (its logits are the first token's)
        Prompt start = entry.start();
        int limit = Math.min(start.length(), prompt.length() - 1);
        int shared = 0;
        while (shared < limit && start.tokenIds()[shared] == prompt.tokenIds()[shared]
                && start.virtualRows()[shared] == prompt.virtualRows()[shared]) {
            shared++;
        }
        if (shared == 0) {
            prefixCache.fellBack();
            return whole;
        }
        prefixCache.reused(shared);
        int hidden = model.config().hiddenSize();
        int deepPositions = deep.map(DeepPromptTable::virtualTokens).orElse(0);
        return new Prefilled(Arrays.copyOfRange(embeds, shared * hidden, embeds.length),
                Optional.of(entry.prefix().get().firstPositions(deepPositions + shared)));
    }

    /**
     * What the prefill runs for a row.
     *
     * @param embeds [length, hidden] embeddings of the positions the prefill computes
     * @param prefix the keys and values before them (deep prompt, cached start), or empty
     */
    private record Prefilled(float[] embeds, Optional<? extends KvPrefix> prefix) {
    }

    /**
     * Decodes the rows as one batch until every row has finished. The loop only picks tokens; the model's
     * {@link DecodeState} runs them and keeps the cache, whichever kind the model has. A batch down to one greedy row
     * whose state verifies drafts runs a verification pass instead of a step whenever {@link PromptLookup} has a draft
     * ({@link #verifyDraft}), with or without a draft.
     */
    private void decode(List<Row> rows, RunControl control) {
        int capacity = 0;
        List<float[]> prompts = new ArrayList<>(rows.size());
        List<Optional<? extends KvPrefix>> prefixes = new ArrayList<>(rows.size());
        for (Row row : rows) {
            prompts.add(row.prefilled.embeds());
            prefixes.add(row.prefilled.prefix());
            // the token that finishes a row is never fed back, so a row holds at most this many positions
            int prefix = row.deepPrompt.map(DeepPromptTable::virtualTokens).orElse(0);
            capacity = Math.max(capacity, prefix + Math.min(row.promptLength + row.options.maxNewTokens(),
                    config.maxSequenceLength() - prefix));
        }
        try (DecodeState state = model.newDecodeState(capacity, config.useKvCache(), control)) {
            checkNotTerminated(control);
            List<Row> active = advance(state, rows, state.prefill(prompts, prefixes));
            boolean inModel = state.chunkSteps() > 0;
            while (!active.isEmpty()) {
                checkNotTerminated(control);
                if (inModel) {
                    try {
                        active = acceptChunk(state, active, state.generateChunk(chunkRows(active, state.chunkSteps())));
                        continue;
                    } catch (ChunkFailedException e) {
                        // logged by the state, whose cache is as before the chunk: this batch goes on one step a run
                        inModel = false;
                    }
                }
                if (active.size() == 1 && looksUp(state, active.get(0))) {
                    Row row = active.get(0);
                    active = verifyDraft(state, row, draft(state, row)) ? active : List.of();
                    continue;
                }
                active = advance(state, active, state.step(active.stream().mapToInt(r -> r.lastToken).toArray()));
            }
        }
    }

    /**
     * Whether the batch's only row decodes by verification passes: drafting is on, the row is greedy (its picks depend
     * on the logits alone, so picking them from a pass is picking them from steps) and the state verifies. Such a row
     * runs every token through passes, with a draft or without one: a pass of one token costs what a step costs, and
     * alternating between the step's session and the pass's (each with its own copy of the weights) cost more than
     * the drafts saved (GenerationBenchmark, BENCHMARKS.md).
     */
    private boolean looksUp(DecodeState state, Row row) {
        return config.promptLookup().enabled() && row.options.isGreedy() && state.verifiablePositions() > 0;
    }

    /**
     * The row's prompt-lookup draft, cut to its remaining tokens (a pass chooses up to the draft and one more) and the
     * state's room; empty when there is no draft.
     */
    private int[] draft(DecodeState state, Row row) {
        int room = Math.min(state.verifiablePositions(), row.remaining()) - 1;
        if (room <= 0) {
            return new int[0];
        }
        int[] sequence = row.lookupSequence();
        return config.promptLookup().draft(sequence, sequence.length, room);
    }

    /**
     * Feeds the row its last token and the draft (possibly empty) in one verification pass, then picks the row's tokens as steps would:
     * from the logits of fed position 0, then, while the pick equals the draft's next token and the row goes on, from
     * the next position. The picks are the row's tokens, never the draft; the state keeps the fed positions whose
     * tokens were picked (the next pass or step feeds the last pick).
     *
     * @return whether the row goes on
     */
    private boolean verifyDraft(DecodeState state, Row row, int[] draft) {
        int[] fed = new int[draft.length + 1];
        fed[0] = row.lastToken;
        System.arraycopy(draft, 0, fed, 1, draft.length);
        float[] logits = state.verify(fed);
        int picked = 0;
        int first = -1;
        while (true) {
            int token = pick(logits, picked, row);
            first = picked == 0 ? token : first;
            row.accept(token);
            picked++;
            if (row.finish != null || picked == fed.length || token != fed[picked]) {
                break;
            }
        }
        lookupPasses.increment();
        draftedTokens.add(draft.length);
        acceptedTokens.add(picked - 1);
        if (draft.length > 0 && first != draft[0]) {
            rejectedPasses.increment();
        }
        if (row.finish != null) {
            return false;
        }
        state.keepVerified(picked);
        return true;
    }

    /**
     * Picks each active row's next token from its logits and drops the rows that finished from the state.
     *
     * @return the rows that go on, in order
     */
    private List<Row> advance(DecodeState state, List<Row> active, float[] logits) {
        int[][] chosen = new int[active.size()][];
        for (int b = 0; b < active.size(); b++) {
            chosen[b] = new int[] {pick(logits, b, active.get(b))};
        }
        return acceptChunk(state, active, chosen);
    }

    /**
     * Gives each active row its chosen tokens in order until it finishes (end of sequence, a stop string, its
     * length: a row is cut at the first), and drops the rows that finished from the state.
     *
     * @return the rows that go on, in order
     */
    private static List<Row> acceptChunk(DecodeState state, List<Row> active, int[][] chosen) {
        List<Row> still = new ArrayList<>();
        int[] keep = new int[active.size()];
        for (int b = 0; b < active.size(); b++) {
            Row row = active.get(b);
            int accepted = 0;
            while (accepted < chosen[b].length && row.finish == null) {
                row.accept(chosen[b][accepted++]);
            }
            row.usedUniforms(accepted);
            if (row.finish == null) {
                keep[still.size()] = b;
                still.add(row);
            }
        }
        if (!still.isEmpty() && still.size() < active.size()) {
            // finished rows stop costing work
            state.keepRows(Arrays.copyOf(keep, still.size()));
        }
        return still;
    }

    /**
     * Each active row's last token and what the model needs to choose its next ones, for as many steps as the longest
     * row may still take, at most {@code chunkSteps}: a sampling row's uniforms are drawn from its own random source,
     * in the order the step path would draw them.
     */
    private static ChunkRows chunkRows(List<Row> active, int chunkSteps) {
        int n = active.size();
        int steps = 1;
        for (Row row : active) {
            steps = Math.max(steps, Math.min(chunkSteps, row.remaining()));
        }
        int[] tokens = new int[n];
        int[] remaining = new int[n];
        int[] generated = new int[n];
        int[] minNew = new int[n];
        float[] temperature = new float[n];
        int[] topK = new int[n];
        float[] topP = new float[n];
        float[] penalty = new float[n];
        BitSet[] seen = new BitSet[n];
        float[][] uniforms = new float[n][];
        for (int b = 0; b < n; b++) {
            Row row = active.get(b);
            GenerationOptions o = row.options;
            tokens[b] = row.lastToken;
            remaining[b] = row.remaining();
            generated[b] = row.completionTokens;
            minNew[b] = o.minNewTokens();
            temperature[b] = (float) o.temperature();
            topK[b] = o.topK();
            topP[b] = (float) o.topP();
            penalty[b] = (float) o.repetitionPenalty();
            seen[b] = row.seen;
            uniforms[b] = new float[o.isGreedy() ? 0 : steps];
            for (int k = 0; k < uniforms[b].length; k++) {
                uniforms[b][k] = (float) row.uniform(k);
            }
        }
        return new ChunkRows(steps, tokens, remaining, generated, minNew, temperature, topK, topP, penalty, seen, uniforms);
    }

    private int pick(float[] logits, int b, Row row) {
        int vocab = model.config().vocabSize();
        return TokenSampler.next(logits, b * vocab, vocab, row.options, row.seen, row.completionTokens, eosIds,
                () -> row.uniform(0));
    }

    private static void checkNotTerminated(RunControl control) {
        if (control != null && control.isTerminated()) {
            throw new IllegalStateException("generation cancelled");
        }
    }

    /** Whether {@code e} (or a cause) is the runtime running out of memory: ORT's CUDA and CPU allocators say so. */
    private static boolean isOutOfMemory(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
            String m = t.getMessage() == null ? "" : t.getMessage().toLowerCase(java.util.Locale.ROOT);
            if (t instanceof OutOfMemoryError || m.contains("out of memory") || m.contains("failed to allocate memory")
                    || m.contains("cudaerrormemoryallocation")) {
                return true;
            }
        }
        return false;
    }

    private boolean isEos(int token) {
        for (int eos : eosIds) {
            if (eos == token) {
                return true;
            }
        }
        return false;
    }

    /** The decoding state of one row; confined to the generate call that made it. */
    private final class Row {
        final int index;
        final String id;
        final GenerationOptions options;
        final int promptLength;
        /** The prompt's token ids without its virtual tokens: what prompt lookup drafts from, with the row's tokens. */
        final int[] promptIds;
        final Prefilled prefilled;
        final Optional<DeepPromptTable> deepPrompt;
        final BitSet seen;
        final SplittableRandom random;
        final List<Integer> tokens = new ArrayList<>();
        /** Draws of {@link #random} made for a chunk and not yet used by a token: the next tokens use them first. */
        final List<Double> drawn = new ArrayList<>();
        int completionTokens;
        int lastToken;
        FinishReason finish;
        String text;
        String error;
        RowError errorKind;

        Row(int index, String id, GenerationOptions options, int promptLength, int[] promptIds, Prefilled prefilled,
            Optional<DeepPromptTable> deepPrompt, BitSet seen, SplittableRandom random) {
            this.index = index;
            this.id = id;
            this.options = options;
            this.promptLength = promptLength;
            this.promptIds = promptIds;
            this.prefilled = prefilled;
            this.deepPrompt = deepPrompt;
            this.seen = seen;
            this.random = random;
        }

        void accept(int token) {
            completionTokens++;
            lastToken = token;
            if (isEos(token)) {
                finish = FinishReason.EOS;
                return;
            }
            tokens.add(token);
            seen.set(token);
            if (!options.stopStrings().isEmpty()) {
                String decoded = tokenizer.decode(tokenArray());
                int cut = -1;
                for (String stop : options.stopStrings()) {
                    int at = decoded.indexOf(stop);
                    if (at >= 0 && (cut < 0 || at < cut)) {
                        cut = at;
                    }
                }
                if (cut >= 0) {
                    finish = FinishReason.STOP;
                    text = decoded.substring(0, cut);
                    return;
                }
            }
            int prefix = deepPrompt.map(DeepPromptTable::virtualTokens).orElse(0);
            if (tokens.size() >= options.maxNewTokens()
                    || prefix + promptLength + completionTokens >= config.maxSequenceLength()) {
                finish = FinishReason.LENGTH;
            }
        }

        /** The row's k-th next uniform draw (0: the next token's), drawn from its random source when first asked for. */
        double uniform(int k) {
            while (drawn.size() <= k) {
                drawn.add(random.nextDouble());
            }
            return drawn.get(k);
        }

        /** The next {@code count} tokens were chosen: a sampling row's draws for them are spent. */
        void usedUniforms(int count) {
            if (!options.isGreedy()) {
                drawn.subList(0, Math.min(count, drawn.size())).clear();
            }
        }

        /** Tokens the row may still choose before {@link #accept} finishes it for its length. */
        int remaining() {
            int prefix = deepPrompt.map(DeepPromptTable::virtualTokens).orElse(0);
            return Math.min(options.maxNewTokens() - tokens.size(),
                    config.maxSequenceLength() - prefix - promptLength - completionTokens);
        }

        void fail(RowError kind, String message) {
            finish = FinishReason.ERROR;
            errorKind = kind;
            error = message;
        }

        /** The prompt's token ids, then the row's tokens so far. */
        int[] lookupSequence() {
            int[] sequence = Arrays.copyOf(promptIds, promptIds.length + tokens.size());
            for (int i = 0; i < tokens.size(); i++) {
                sequence[promptIds.length + i] = tokens.get(i);
            }
            return sequence;
        }

        int[] tokenArray() {
            return tokens.stream().mapToInt(Integer::intValue).toArray();
        }

        GenerationResult result() {
            if (finish == FinishReason.ERROR) {
                return GenerationResult.failed(id, errorKind, error);
            }
            String out = text != null ? text : tokenizer.decode(tokenArray());
            return new GenerationResult(id, out, tokenArray(), promptLength, completionTokens, finish, null, null);
        }
    }

    private static RowError kindOf(IllegalArgumentException e) {
        if (e instanceof RowRejected rejected) {
            return rejected.kind;
        }
        return e instanceof PromptTooLongException ? RowError.PROMPT_TOO_LONG : RowError.INVALID_INPUT;
    }

    /** A row refused before generation, with the class of the refusal. */
    private static final class RowRejected extends IllegalArgumentException {
        private final RowError kind;

        RowRejected(RowError kind, String message) {
            super(message);
            this.kind = kind;
        }
    }
}

package io.tunestream.serving.ops;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.tunestream.schemas.ErrorKind;
import java.time.Duration;
import java.util.Objects;

/**
 * The serving app's own meters, named once here. Prometheus names (after Micrometer's conversion):
 * {@code tunestream_batch_size}, {@code tunestream_queue_time_seconds} and
 * {@code tunestream_generation_time_seconds} (histograms: {@code _bucket{le}}), {@code tunestream_generated_tokens_total} (tokens/s is
 * its rate; {@code tunestream_generation_tokens_per_second} is the per-batch figure),
 * {@code tunestream_answers_total{task,adapter_version}} (a version's series is removed when the adapters store drops
 * the version), {@code tunestream_errors_total{kind}},
 * {@code tunestream_adapters_refused_total{task,reason}}, {@code tunestream_dead_letters_total{topic,reason}},
 * {@code tunestream_registry_waits_total{topic}}, {@code tunestream_templates_refused_total{task,reason}},
 * {@code tunestream_batches_timed_out_total}, {@code tunestream_model_stuck_calls},
 * {@code tunestream_batches_handed_back_total}, {@code tunestream_batches_refused_by_executor_total},
 * {@code tunestream_batch_retries_total}, {@code tunestream_batch_splits_total},
 * {@code tunestream_duplicates_total}, {@code tunestream_backpressure_wait_seconds},
 * {@code tunestream_answers_shrunk_total}, and for the prefix cache {@code tunestream_prefix_cache_hits_total},
 * {@code _misses_total}, {@code _fallbacks_total}, {@code _failures_total}, {@code _evictions_total},
 * {@code _reused_positions_total}, {@code tunestream_prefix_cache_bytes} and {@code tunestream_prefix_cache_entries},
 * and for the decoded adapter tables {@code tunestream_adapter_tables_hits_total}, {@code _misses_total},
 * {@code _evictions_total}, {@code tunestream_adapter_tables_bytes} and {@code tunestream_adapter_tables_entries}.
 */
public final class ServingMetrics {

    private final MeterRegistry registry;
    private final DistributionSummary batchSize;
    private final Timer queueTime;
    private final Timer generationTime;
    private final Counter generatedTokens;
    private final DistributionSummary tokensPerSecond;

    public ServingMetrics(MeterRegistry registry) {
        this.registry = Objects.requireNonNull(registry, "registry");
        this.batchSize = DistributionSummary.builder("tunestream.batch.size")
                .description("Requests in each batch run").publishPercentileHistogram(false).register(registry);
        // histograms (..._seconds_bucket) so that dashboards can show percentiles across pods
        this.queueTime = Timer.builder("tunestream.queue.time").publishPercentileHistogram()
                .description("From a request's arrival to the start of its batch").register(registry);
        this.generationTime = Timer.builder("tunestream.generation.time").publishPercentileHistogram()
                .description("Time a batch spent in the model").register(registry);
        this.generatedTokens = Counter.builder("tunestream.generated.tokens")
                .description("Tokens generated; its rate is the serving tokens/s").register(registry);
        this.tokensPerSecond = DistributionSummary.builder("tunestream.generation.tokens.per.second")
                .description("Tokens generated per second of model time, per batch").register(registry);
    }

    /** A batch of {@code rows} ran for {@code elapsed} and generated {@code tokens} tokens. */
    public void batchRan(int rows, Duration elapsed, long tokens) {
        batchSize.record(rows);
        generationTime.record(elapsed);
        generatedTokens.increment(tokens);
        double seconds = elapsed.toNanos() / 1e9;
        if (seconds > 0) {
            tokensPerSecond.record(tokens / seconds);
        }
    }

    public void queued(Duration waited) {
        queueTime.record(waited);
    }

    /** An answer with generated text went out; {@code adapterVersion} null means the plain base model. */
    public void answered(String task, Integer adapterVersion) {
        registry.counter("tunestream.answers", "task", task,
                "adapter_version", adapterVersion == null ? "none" : adapterVersion.toString()).increment();
    }

    /**
     * The adapters store dropped {@code task}'s {@code adapterVersion} (beyond the versions kept, or the task deleted):
     * its answers counter goes too, so the meters stay bounded by the versions kept, however many versions
     * thousands of tasks publish over time. A batch in flight with that version may count it once more.
     */
    public void adapterVersionDropped(String task, int adapterVersion) {
        var counter = registry.find("tunestream.answers").tags("task", task, "adapter_version",
                Integer.toString(adapterVersion)).counter();
        if (counter != null) {
            registry.remove(counter);
        }
    }

    /** An error answer went out. */
    public void errorAnswered(ErrorKind kind) {
        registry.counter("tunestream.errors", "kind", kind.name()).increment();
    }

    /** A published adapter was refused and will never be applied. */
    public void adapterRefused(String task, String reason) {
        registry.counter("tunestream.adapters.refused", "task", task, "reason", reason).increment();
    }

    /** A batch passed its deadline: it was cancelled and its {@code rows} requests answered TIMEOUT. */
    public void batchTimedOut(int rows) {
        registry.counter("tunestream.batches.timed.out").increment();
    }

    /** Batches in flight were cancelled because their task closed (revocation, shutdown); their requests stay buffered. */
    public void batchesHandedBack(int batches) {
        registry.counter("tunestream.batches.handed.back").increment(batches);
    }

    /** The model executor's queue was full: the batch stays buffered and is tried again. */
    public void batchRefusedByExecutor() {
        registry.counter("tunestream.batches.refused.by.executor").increment();
    }

    /** A batch failed transiently and is retried. */
    public void batchRetried() {
        registry.counter("tunestream.batch.retries").increment();
    }

    /** A batch failed for lack of memory and is retried in two halves. */
    public void batchSplit() {
        registry.counter("tunestream.batch.splits").increment();
    }

    /** A request whose id was answered within the dedupe window was not answered again. */
    public void duplicate() {
        registry.counter("tunestream.duplicates").increment();
    }

    /** The stream thread held back input this long because a partition's buffer was over its limit. */
    public void backPressureWaited(Duration waited) {
        Timer.builder("tunestream.backpressure.wait")
                .description("Time the stream thread held input back because a buffer was full").register(registry)
                .record(waited);
    }

    /** An answer did not fit the answers topic: its error message was truncated or its text replaced by an error. */
    public void answerShrunk() {
        registry.counter("tunestream.answers.shrunk").increment();
    }

    /** Exposes {@code tunestream_model_stuck_calls}: cancelled model calls that have not returned within the grace. */
    public void bindLiveness(io.tunestream.serving.batch.ModelLiveness liveness) {
        io.micrometer.core.instrument.Gauge.builder("tunestream.model.stuck.calls", liveness,
                        io.tunestream.serving.batch.ModelLiveness::stuckCalls)
                .description("Cancelled model calls still running after the grace period (the app is not live)")
                .register(registry);
    }

    /**
     * A record of {@code topic} that can never be read went to the dead-letter topic;
     * {@code reason} is the class of the failure (the exception's simple name).
     */
    public void deadLettered(String topic, String reason) {
        registry.counter("tunestream.dead.letters", "topic", topic, "reason", reason).increment();
    }

    /** Decoding a record of {@code topic} has to wait: the schema registry cannot be reached. */
    public void registryWait(String topic) {
        registry.counter("tunestream.registry.waits", "topic", topic).increment();
    }

    /** A published task template was refused (its rules do not hold) and is not stored. */
    public void templateRefused(String task, String reason) {
        registry.counter("tunestream.templates.refused", "task", task, "reason", reason).increment();
    }

    /** Exposes the prefix cache's counters (read at each scrape) and what it holds. */
    public void bindPrefixCache(io.tunestream.model.generate.PrefixCache cache) {
        functionCounter("hits", "Prompt starts found in the prefix cache", cache, c -> c.stats().hits());
        functionCounter("misses", "Prompt starts computed and put in the prefix cache", cache, c -> c.stats().misses());
        functionCounter("fallbacks", "Rows sharing no position with their cached start (prefilled whole)", cache,
                c -> c.stats().fallbacks());
        functionCounter("failures", "Prompt starts that could not be computed (rows prefilled whole)", cache,
                c -> c.stats().failures());
        functionCounter("evictions", "Entries evicted to stay within prefix.cache.bytes", cache, c -> c.stats().evictions());
        functionCounter("reused.positions", "Prompt positions taken from the prefix cache instead of prefilled", cache,
                c -> c.stats().reusedPositions());
        io.micrometer.core.instrument.Gauge.builder("tunestream.prefix.cache.bytes", cache, c -> c.stats().bytes())
                .description("Bytes the prefix cache holds").baseUnit("bytes").register(registry);
        io.micrometer.core.instrument.Gauge.builder("tunestream.prefix.cache.entries", cache, c -> c.stats().entries())
                .description("Entries the prefix cache holds").register(registry);
    }

    private void functionCounter(String name, String description, io.tunestream.model.generate.PrefixCache cache,
                                 java.util.function.ToDoubleFunction<io.tunestream.model.generate.PrefixCache> count) {
        io.micrometer.core.instrument.FunctionCounter.builder("tunestream.prefix.cache." + name, cache, count)
                .description(description).register(registry);
    }

    /** Exports what the decoded adapter tables do ({@code adapters.cache.bytes}). */
    public void bindAdapterTables(io.tunestream.serving.model.AdapterTableCache tables) {
        io.micrometer.core.instrument.FunctionCounter.builder("tunestream.adapter.tables.hits", tables,
                t -> t.stats().hits()).description("Adapter versions whose decoded table was kept").register(registry);
        io.micrometer.core.instrument.FunctionCounter.builder("tunestream.adapter.tables.misses", tables,
                t -> t.stats().misses()).description("Adapter tables decoded from the store's records").register(registry);
        io.micrometer.core.instrument.FunctionCounter.builder("tunestream.adapter.tables.evictions", tables,
                t -> t.stats().evictions()).description("Decoded tables evicted to stay within adapters.cache.bytes")
                .register(registry);
        io.micrometer.core.instrument.Gauge.builder("tunestream.adapter.tables.bytes", tables, t -> t.stats().bytes())
                .description("Bytes the decoded adapter tables hold").baseUnit("bytes").register(registry);
        io.micrometer.core.instrument.Gauge.builder("tunestream.adapter.tables.entries", tables,
                t -> t.stats().entries()).description("Decoded adapter tables held").register(registry);
    }
}

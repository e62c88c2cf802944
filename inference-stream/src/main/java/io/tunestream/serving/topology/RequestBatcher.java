package io.tunestream.serving.topology;

import io.tunestream.schemas.AdapterVersion;
import io.tunestream.schemas.Answer;
import io.tunestream.schemas.AnswerError;
import io.tunestream.schemas.ErrorKind;
import io.tunestream.schemas.FinishReason;
import io.tunestream.schemas.InferenceRequest;
import io.tunestream.schemas.TaskTemplate;
import io.tunestream.serving.adapters.AdapterSelection;
import io.tunestream.serving.batch.BatchAnswerer;
import io.tunestream.serving.batch.BatchItem;
import io.tunestream.serving.batch.BatchOutcome;
import io.tunestream.serving.ops.ServingMetrics;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.processor.PunctuationType;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Validates each request, answers the invalid ones at once, and buffers the others in a persistent,
 * changelogged store until a batch runs: when {@code maxBatchSize} requests wait, or when the oldest
 * has waited {@code maxWait} (checked by a wall-clock punctuator). A batch takes the oldest requests
 * whatever their task or adapter and resolves each one's template and adapter as they are now. The
 * {@link BatchAnswerer} runs on the model executor, not on the stream thread, so polling, commits and
 * heartbeats go on during long generations and {@code max.poll.interval.ms} is never at risk; up to
 * {@code maxBatchesInFlight} batches per task are in flight. When one is done (checked on the next record or punctuation)
 * the stream thread forwards one answer per request and deletes them from the buffer.
 *
 * <p>Forwarding and deleting happen in the task's exactly-once transaction together with the input
 * offsets: a crash before the commit rolls all of it back, the buffer is restored without the
 * answers, and the batch runs again. The buffer key is the request's input offset (zero-padded),
 * so a record processed again after a crash overwrites its own entry and the buffer iterates in
 * arrival order.
 */
final class RequestBatcher implements Processor<String, InferenceRequest, String, Answer> {

    private static final Logger LOG = LoggerFactory.getLogger(RequestBatcher.class);

    private final String bufferStoreName;
    private final String templateStoreName;
    private final String adapterStoreName;
    private final BatchingSettings settings;
    private final BatchAnswerer answerer;
    private final RequestValidator validator;
    private final ServingMetrics metrics;
    private final Clock clock;
    private final Executor executor;

    private ProcessorContext<String, Answer> context;
    private KeyValueStore<String, BufferedRequest> buffer;
    private KeyValueStore<String, TaskTemplate> templates;
    private KeyValueStore<String, AdapterVersion> adapters;
    private int buffered;
    private final ArrayDeque<InFlight> inFlight = new ArrayDeque<>();
    private final Set<String> inFlightKeys = new HashSet<>();

    /** A batch handed to the model; its requests stay buffered under {@code bufferKeys} until it completes. */
    private record InFlight(List<String> bufferKeys, List<BatchItem> items, List<BufferedRequest> rows,
                            long startMillis, CompletableFuture<TimedOutcomes> outcomes) {
    }

    private record TimedOutcomes(List<BatchOutcome> outcomes, Duration elapsed) {
    }

    RequestBatcher(String bufferStoreName, String templateStoreName, String adapterStoreName, BatchingSettings settings,
                   BatchAnswerer answerer, Executor executor, ServingMetrics metrics, Clock clock) {
        this.bufferStoreName = bufferStoreName;
        this.templateStoreName = templateStoreName;
        this.adapterStoreName = adapterStoreName;
        this.settings = settings;
        this.answerer = answerer;
        this.validator = new RequestValidator(answerer.model(), settings.maxPromptChars());
        this.metrics = metrics;
        this.clock = clock;
        this.executor = executor;
    }

    @Override
    public void init(ProcessorContext<String, Answer> context) {
        this.context = context;
        this.buffer = context.getStateStore(bufferStoreName);
        this.templates = context.getStateStore(templateStoreName);
        this.adapters = context.getStateStore(adapterStoreName);
        // init runs after the buffer is restored: what a crash left behind is counted and will run
        buffered = 0;
        try (KeyValueIterator<String, BufferedRequest> it = buffer.all()) {
            while (it.hasNext()) {
                it.next();
                buffered++;
            }
        }
        if (buffered > 0) {
            LOG.info("task {}: {} buffered requests restored, they will be answered", context.taskId(), buffered);
        }
        context.schedule(settings.punctuateInterval(), PunctuationType.WALL_CLOCK_TIME, this::runDueBatches);
    }

    @Override
    public void process(Record<String, InferenceRequest> record) {
        InferenceRequest request = record.value();
        if (request == null) {
            if (record.key() != null) {
                forwardError(record.key(), "", new AnswerError(ErrorKind.INVALID_REQUEST,
                        "request " + record.key() + ": empty value (tombstone) on the requests topic"), 0);
            }
            return;
        }
        Optional<TaskTemplate> template = Optional.ofNullable(request.getTask()).map(templates::get);
        Optional<AnswerError> invalid = validator.check(record.key(), request, template);
        if (invalid.isPresent()) {
            String id = request.getRequestId() == null || request.getRequestId().isBlank()
                    ? record.key() : request.getRequestId();
            if (id == null) {
                LOG.error("request without key nor requestId dropped: {}", invalid.get().getMessage());
                return;
            }
            forwardError(id, request.getTask(), invalid.get(), 0);
            return;
        }
        long offset = RequestDecoder.inputOffset(record.headers()).orElseThrow(() -> new IllegalStateException(
                "request " + request.getRequestId() + ": no input offset to key the batch buffer with"));
        buffer.put(bufferKey(offset), new BufferedRequest(clock.millis(), request));
        buffered++;
        if (buffered - inFlightKeys.size() >= settings.maxBatchSize()
                || !inFlight.isEmpty() && inFlight.peek().outcomes().isDone()) {
            runDueBatches(clock.millis());
        }
    }

    private static String bufferKey(long offset) {
        return String.format("%019d", offset);
    }

    /**
     * Completes the batches in flight that the model has answered (in the order they started), then
     * starts batches that are due (full, or their oldest request waited maxWait) while fewer than
     * {@code maxBatchesInFlight} are in flight, at most {@code maxBatchesPerPunctuation} per call.
     * Never waits for the model: the stream thread keeps polling and committing while batches run.
     */
    private void runDueBatches(long now) {
        int started = 0;
        while (true) {
            while (!inFlight.isEmpty() && inFlight.peek().outcomes().isDone()) {
                complete(inFlight.poll());
            }
            if (inFlight.size() >= settings.maxBatchesInFlight() || started >= settings.maxBatchesPerPunctuation()
                    || buffered - inFlightKeys.size() <= 0) {
                return;
            }
            List<KeyValue<String, BufferedRequest>> batch = oldestWaiting(settings.maxBatchSize());
            if (batch.isEmpty()) {
                buffered = inFlightKeys.size();
                return;
            }
            boolean full = batch.size() >= settings.maxBatchSize();
            boolean waitedEnough = clock.millis() - batch.get(0).value.arrivedAtMillis() >= settings.maxWait().toMillis();
            if (!full && !waitedEnough) {
                return;
            }
            start(batch);
            started++;
        }
    }

    /** The oldest buffered requests that are not in a batch in flight. */
    private List<KeyValue<String, BufferedRequest>> oldestWaiting(int limit) {
        var batch = new ArrayList<KeyValue<String, BufferedRequest>>(limit);
        try (KeyValueIterator<String, BufferedRequest> it = buffer.all()) {
            while (it.hasNext() && batch.size() < limit) {
                KeyValue<String, BufferedRequest> entry = it.next();
                if (!inFlightKeys.contains(entry.key)) {
                    batch.add(entry);
                }
            }
        }
        return batch;
    }

    /**
     * Resolves each request's template and adapter as they are now, answers the ones that cannot run,
     * and hands the others to the model on the executor. Their buffer entries stay until the batch
     * completes, so a crash or a revocation before then hands the batch back.
     */
    private void start(List<KeyValue<String, BufferedRequest>> batch) {
        long start = clock.millis();
        var items = new ArrayList<BatchItem>(batch.size());
        var rows = new ArrayList<BufferedRequest>(batch.size());
        var keys = new ArrayList<String>(batch.size());
        for (KeyValue<String, BufferedRequest> entry : batch) {
            BufferedRequest waiting = entry.value;
            InferenceRequest request = waiting.request();
            long queued = start - waiting.arrivedAtMillis();
            metrics.queued(Duration.ofMillis(Math.max(0, queued)));
            TaskTemplate template = templates.get(request.getTask());
            AdapterSelection selection = template == null
                    ? new AdapterSelection.Refuse(new AnswerError(ErrorKind.UNKNOWN_TASK, "request "
                            + request.getRequestId() + ", task " + request.getTask()
                            + ": the task's template was deleted while the request waited"))
                    : AdapterSelection.select(adapters, request, template);
            if (selection instanceof AdapterSelection.Refuse refuse) {
                forwardError(request.getRequestId(), request.getTask(), refuse.error(), queued);
                buffer.delete(entry.key);
                buffered--;
            } else if (selection instanceof AdapterSelection.Use use) {
                items.add(new BatchItem(request, template, use.adapter()));
                rows.add(waiting);
                keys.add(entry.key);
            }
        }
        if (items.isEmpty()) {
            return;
        }
        List<BatchItem> batchItems = List.copyOf(items);
        CompletableFuture<TimedOutcomes> outcomes;
        try {
            outcomes = CompletableFuture.supplyAsync(() -> {
                long t0 = System.nanoTime();
                List<BatchOutcome> result = answerer.answer(batchItems);
                return new TimedOutcomes(result, Duration.ofNanos(System.nanoTime() - t0));
            }, executor);
        } catch (RejectedExecutionException e) {
            LOG.warn("task {}: the model executor refused a batch of {} (shutting down); it stays buffered",
                    context.taskId(), batchItems.size());
            return;
        }
        inFlight.add(new InFlight(keys, batchItems, rows, start, outcomes));
        inFlightKeys.addAll(keys);
    }

    /** Forwards one answer per request of a batch the model has finished and drops it from the buffer. */
    private void complete(InFlight batch) {
        List<BatchItem> items = batch.items();
        List<BatchOutcome> outcomes;
        Duration elapsed;
        try {
            TimedOutcomes timed = batch.outcomes().join();
            outcomes = timed.outcomes();
            elapsed = timed.elapsed();
            if (outcomes.size() != items.size()) {
                throw new IllegalStateException("the answerer returned " + outcomes.size() + " outcomes for "
                        + items.size() + " requests");
            }
        } catch (RuntimeException e) {
            Throwable cause = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
            LOG.error("task {}: batch of {} requests failed", context.taskId(), items.size(), cause);
            String message = "batch of " + items.size() + " failed: " + cause;
            outcomes = items.stream().<BatchOutcome>map(i -> new BatchOutcome.Failed(ErrorKind.GENERATION_FAILED,
                    "request " + i.requestId() + ", task " + i.task() + ": " + message)).toList();
            elapsed = Duration.ofMillis(clock.millis() - batch.startMillis());
        }
        long end = clock.millis();
        long tokens = 0;
        for (int i = 0; i < items.size(); i++) {
            BatchItem item = items.get(i);
            long queued = batch.startMillis() - batch.rows().get(i).arrivedAtMillis();
            BatchOutcome outcome = outcomes.get(i);
            if (outcome instanceof BatchOutcome.Failed failed) {
                forwardError(item.requestId(), item.task(), new AnswerError(failed.kind(), failed.message()), queued);
            } else if (outcome instanceof BatchOutcome.Generated generated) {
                Integer version = item.adapter().map(AdapterVersion::getVersion).orElse(null);
                tokens += generated.completionTokens();
                forward(Answer.newBuilder()
                        .setRequestId(item.requestId())
                        .setTask(item.task())
                        .setAdapterVersion(version)
                        .setText(generated.text())
                        .setPromptTokens(generated.promptTokens())
                        .setCompletionTokens(generated.completionTokens())
                        .setFinishReason(generated.finishReason())
                        .setModelFingerprint(answerer.model().fingerprint())
                        .setQueueMillis(Math.max(0, queued))
                        .setGenerationMillis(elapsed.toMillis())
                        .setBatchSize(items.size())
                        .setAnsweredAtMillis(end)
                        .build());
                metrics.answered(item.task(), version);
            }
        }
        batch.bufferKeys().forEach(buffer::delete);
        batch.bufferKeys().forEach(inFlightKeys::remove);
        buffered = Math.max(0, buffered - items.size());
        metrics.batchRan(items.size(), elapsed, tokens);
    }

    @Override
    public void close() {
        if (!inFlight.isEmpty()) {
            // not forwarded, still buffered: the next owner of the task (or the next start) runs them again
            LOG.info("task {}: {} batches ({} requests) in flight handed back", context.taskId(), inFlight.size(),
                    inFlightKeys.size());
            inFlight.clear();
            inFlightKeys.clear();
        }
    }

    private void forwardError(String requestId, String task, AnswerError error, long queued) {
        long now = clock.millis();
        forward(Answer.newBuilder()
                .setRequestId(requestId)
                .setTask(task == null ? "" : task)
                .setAdapterVersion(null)
                .setFinishReason(FinishReason.ERROR)
                .setModelFingerprint(answerer.model().fingerprint())
                .setQueueMillis(Math.max(0, queued))
                .setError(error)
                .setAnsweredAtMillis(now)
                .build());
        metrics.errorAnswered(error.getKind());
        LOG.debug("error answer {}: {}", error.getKind(), error.getMessage());
    }

    private void forward(Answer answer) {
        context.forward(new Record<>(answer.getRequestId(), answer, answer.getAnsweredAtMillis()));
    }
}

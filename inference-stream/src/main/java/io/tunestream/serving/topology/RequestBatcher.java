package io.tunestream.serving.topology;

import io.tunestream.schemas.AdapterVersion;
import io.tunestream.schemas.DeadLetters;
import io.tunestream.schemas.Answer;
import io.tunestream.schemas.AnswerError;
import io.tunestream.schemas.ErrorKind;
import io.tunestream.schemas.FinishReason;
import io.tunestream.schemas.InferenceRequest;
import io.tunestream.schemas.RequestLimits;
import io.tunestream.schemas.TaskTemplate;
import io.tunestream.serving.adapters.AdapterSelection;
import io.tunestream.serving.batch.BatchAnswerer;
import io.tunestream.serving.batch.BatchCancellation;
import io.tunestream.serving.batch.BatchItem;
import io.tunestream.serving.batch.BatchOutcome;
import io.tunestream.serving.batch.ModelLiveness;
import io.tunestream.serving.ops.ServingMetrics;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.processor.PunctuationType;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.processor.api.RecordMetadata;
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
 *
 * <p>What keeps a partition from getting stuck or lost:
 * <ul>
 *   <li><b>Sizes.</b> A request id (record key) over {@link RequestLimits#MAX_REQUEST_ID_CHARS} cannot key an
 *       answer: it goes to the dead-letter topic with the reason and a pointer to the request (topic, partition,
 *       offset), not its bytes (they would not fit either). Other limits get an {@code INVALID_REQUEST} answer.
 *       Every answer is fitted to the answers topic's record limit ({@link AnswerFit}) before it is forwarded.</li>
 *   <li><b>Deadline.</b> A batch in flight longer than {@code batchTimeout} is cancelled (the model runtime
 *       terminates its native call) and its requests answered {@code TIMEOUT}; its late outcomes are dropped. If
 *       the call has not returned {@code cancelGrace} later, {@link ModelLiveness} reports the app not live.</li>
 *   <li><b>Age.</b> With {@code requestMaxAge} set, a request older than that when it arrives or when its batch
 *       starts is answered {@code EXPIRED} instead of running.</li>
 *   <li><b>Back-pressure.</b> Kafka Streams cannot pause one processor, so when the partition's buffer holds more
 *       than {@code maxBufferedRequests}, {@link #process} completes the batches in flight and waits (on the
 *       oldest batch, at most {@code bufferFullMaxWait}, far below the transaction timeout) before it returns:
 *       the stream thread takes no further record meanwhile, so the input rate falls to what the model answers.
 *       The wait is bounded, so the buffer can still exceed the limit by one record per wait.</li>
 *   <li><b>Rebalance.</b> When the task closes (revocation, shutdown) its batches in flight are cancelled at once;
 *       their requests stay buffered for the next owner.</li>
 *   <li><b>Duplicates.</b> The ids answered in the last {@code dedupeWindow} are kept in a changelogged store
 *       (purged by a wall-clock punctuator); a request with such an id is not answered again, only counted. A
 *       {@code TIMEOUT} answer is not kept: the sender may try again with the same id.</li>
 * </ul>
 */
final class RequestBatcher implements Processor<String, InferenceRequest, String, Object> {

    private static final Logger LOG = LoggerFactory.getLogger(RequestBatcher.class);

    private final String bufferStoreName;
    private final String answeredStoreName;
    private final String templateStoreName;
    private final String adapterStoreName;
    private final BatchingSettings settings;
    private final BatchAnswerer answerer;
    private final RequestValidator validator;
    private final AnswerFit fit;
    private final ServingMetrics metrics;
    private final ModelLiveness liveness;
    private final Clock clock;
    private final Executor executor;

    private ProcessorContext<String, Object> context;
    private KeyValueStore<String, BufferedRequest> buffer;
    private KeyValueStore<String, Long> answered;
    private KeyValueStore<String, TaskTemplate> templates;
    private KeyValueStore<String, AdapterVersion> adapters;
    private int buffered;
    private final ArrayDeque<InFlight> inFlight = new ArrayDeque<>();
    private final Set<String> inFlightKeys = new HashSet<>();

    /** A batch handed to the model; its requests stay buffered under {@code bufferKeys} until it completes. */
    private record InFlight(List<String> bufferKeys, List<BatchItem> items, List<BufferedRequest> rows,
                            long startMillis, BatchCancellation cancellation,
                            CompletableFuture<TimedOutcomes> outcomes) {
    }

    private record TimedOutcomes(List<BatchOutcome> outcomes, Duration elapsed) {
    }

    RequestBatcher(String bufferStoreName, String answeredStoreName, String templateStoreName,
                   String adapterStoreName, BatchingSettings settings, BatchAnswerer answerer, Executor executor,
                   ServingMetrics metrics, ModelLiveness liveness, Clock clock) {
        this.bufferStoreName = bufferStoreName;
        this.answeredStoreName = answeredStoreName;
        this.templateStoreName = templateStoreName;
        this.adapterStoreName = adapterStoreName;
        this.settings = settings;
        this.answerer = answerer;
        this.validator = new RequestValidator(answerer.model(), settings.maxPromptChars());
        this.fit = new AnswerFit(settings.maxAnswerBytes());
        this.metrics = metrics;
        this.liveness = liveness;
        this.clock = clock;
        this.executor = executor;
    }

    @Override
    public void init(ProcessorContext<String, Object> context) {
        this.context = context;
        this.buffer = context.getStateStore(bufferStoreName);
        this.answered = context.getStateStore(answeredStoreName);
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
        if (!settings.dedupeWindow().isZero()) {
            context.schedule(settings.dedupePurgeInterval(), PunctuationType.WALL_CLOCK_TIME,
                    now -> purgeAnswered());
        }
    }

    @Override
    public void process(Record<String, InferenceRequest> record) {
        InferenceRequest request = record.value();
        Optional<String> badId = RequestLimits.checkRequestId(record.key())
                .or(() -> request == null ? Optional.empty() : RequestLimits.checkRequestId(request.getRequestId()));
        if (badId.isPresent()) {
            deadLetter(record.key(), badId.get() + ": an answer cannot be keyed by it", context.recordMetadata(),
                    RequestDecoder.inputOffset(record.headers()).map(OptionalLong::of).orElse(OptionalLong.empty()));
            return;
        }
        if (request == null) {
            if (record.key() != null && !isDuplicate(record.key())) {
                forwardError(record.key(), "", new AnswerError(ErrorKind.INVALID_REQUEST,
                        "request " + record.key() + ": empty value (tombstone) on the requests topic"), 0);
            }
            return;
        }
        String id = request.getRequestId() == null || request.getRequestId().isBlank()
                ? record.key() : request.getRequestId();
        if (id != null && isDuplicate(id)) {
            return;
        }
        Optional<TaskTemplate> template = Optional.ofNullable(request.getTask()).map(templates::get);
        Optional<AnswerError> invalid = validator.check(record.key(), request, template);
        if (invalid.isPresent()) {
            if (id == null) {
                LOG.error("request without key nor requestId dropped: {}", invalid.get().getMessage());
                return;
            }
            forwardError(id, request.getTask(), invalid.get(), 0);
            return;
        }
        long now = clock.millis();
        if (expired(request, record.timestamp(), now)) {
            forwardExpired(request, record.timestamp(), now, 0);
            return;
        }
        // the decoder names the input offset in a header: records it releases from a punctuation have no metadata
        long offset = RequestDecoder.inputOffset(record.headers()).orElseThrow(() -> new IllegalStateException(
                "request " + request.getRequestId() + ": no input offset to key the batch buffer with"));
        buffer.put(bufferKey(offset), new BufferedRequest(now, request));
        buffered++;
        if (buffered - inFlightKeys.size() >= settings.maxBatchSize()
                || !inFlight.isEmpty() && inFlight.peek().outcomes().isDone()) {
            runDueBatches(clock.millis());
        }
        if (buffered > settings.maxBufferedRequests()) {
            relieveBackPressure();
        }
    }

    private static String bufferKey(long offset) {
        return String.format("%019d", offset);
    }

    /**
     * Holds the stream thread while the buffer is over its limit: completes the batches in flight, starts due
     * ones, and waits for the oldest batch, for at most {@code bufferFullMaxWait} in all.
     */
    private void relieveBackPressure() {
        long startNanos = System.nanoTime();
        long deadline = startNanos + settings.bufferFullMaxWait().toNanos();
        runDueBatches(clock.millis());
        while (buffered > settings.maxBufferedRequests() && !inFlight.isEmpty()) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                break;
            }
            try {
                inFlight.peek().outcomes().get(left, TimeUnit.NANOSECONDS);
            } catch (TimeoutException e) {
                break;
            } catch (ExecutionException e) {
                // the failure is answered by complete()
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
            runDueBatches(clock.millis());
        }
        metrics.backPressureWaited(Duration.ofNanos(System.nanoTime() - startNanos));
    }

    /**
     * Cancels the batches past their deadline, completes the batches in flight that the model has answered
     * (in the order they started), then starts batches that are due (full, or their oldest request waited
     * maxWait) while fewer than {@code maxBatchesInFlight} are in flight, at most
     * {@code maxBatchesPerPunctuation} per call. Never waits for the model: the stream thread keeps polling and
     * committing while batches run.
     */
    private void runDueBatches(long now) {
        timeOutLateBatches(clock.millis());
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
            if (!start(batch)) {
                return; // the model queue is full: try again at the next punctuation
            }
            started++;
        }
    }

    /** Cancels every batch in flight past its deadline and answers its requests {@code TIMEOUT}. */
    private void timeOutLateBatches(long now) {
        for (Iterator<InFlight> it = inFlight.iterator(); it.hasNext(); ) {
            InFlight batch = it.next();
            if (batch.outcomes().isDone() || now - batch.startMillis() < settings.batchTimeout().toMillis()) {
                continue;
            }
            it.remove();
            batch.cancellation().cancel();
            liveness.cancelled(batch.outcomes());
            LOG.warn("task {}: batch of {} requests still running after {} ms: cancelled, answered TIMEOUT",
                    context.taskId(), batch.items().size(), now - batch.startMillis());
            for (int i = 0; i < batch.items().size(); i++) {
                BatchItem item = batch.items().get(i);
                forwardError(item.requestId(), item.task(), new AnswerError(ErrorKind.TIMEOUT, "request "
                        + item.requestId() + ", task " + item.task() + ": the batch of " + batch.items().size()
                        + " did not finish within batch.timeout.ms " + settings.batchTimeout().toMillis()
                        + " and was cancelled"), batch.startMillis() - batch.rows().get(i).arrivedAtMillis());
            }
            release(batch);
            metrics.batchTimedOut(batch.items().size());
        }
    }

    /** Drops a finished (or abandoned) batch's requests from the buffer. */
    private void release(InFlight batch) {
        batch.bufferKeys().forEach(buffer::delete);
        batch.bufferKeys().forEach(inFlightKeys::remove);
        buffered = Math.max(0, buffered - batch.items().size());
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
     * Resolves each request's template and adapter as they are now, answers the ones that cannot run (or are
     * too old), and hands the others to the model on the executor. Their buffer entries stay until the batch
     * completes, so a crash or a revocation before then hands the batch back.
     *
     * @return false when the model executor refused the batch (its queue is full); it stays buffered
     */
    private boolean start(List<KeyValue<String, BufferedRequest>> batch) {
        long start = clock.millis();
        var items = new ArrayList<BatchItem>(batch.size());
        var rows = new ArrayList<BufferedRequest>(batch.size());
        var keys = new ArrayList<String>(batch.size());
        for (KeyValue<String, BufferedRequest> entry : batch) {
            BufferedRequest waiting = entry.value;
            InferenceRequest request = waiting.request();
            long queued = start - waiting.arrivedAtMillis();
            metrics.queued(Duration.ofMillis(Math.max(0, queued)));
            if (expired(request, waiting.arrivedAtMillis(), start)) {
                forwardExpired(request, waiting.arrivedAtMillis(), start, queued);
                buffer.delete(entry.key);
                buffered--;
                continue;
            }
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
            return true;
        }
        List<BatchItem> batchItems = List.copyOf(items);
        var cancellation = new BatchCancellation();
        CompletableFuture<TimedOutcomes> outcomes;
        try {
            outcomes = CompletableFuture.supplyAsync(() -> {
                if (cancellation.isCancelled()) {
                    throw new IllegalStateException("cancelled before it ran");
                }
                long t0 = System.nanoTime();
                List<BatchOutcome> result = answerer.answer(batchItems, cancellation);
                return new TimedOutcomes(result, Duration.ofNanos(System.nanoTime() - t0));
            }, executor);
        } catch (RejectedExecutionException e) {
            LOG.warn("task {}: the model executor refused a batch of {} (its queue is full, or it is shutting "
                    + "down); it stays buffered", context.taskId(), batchItems.size());
            metrics.batchRefusedByExecutor();
            return false;
        }
        inFlight.add(new InFlight(keys, batchItems, rows, start, cancellation, outcomes));
        inFlightKeys.addAll(keys);
        return true;
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
            if (isDuplicate(item.requestId())) {
                continue;
            }
            if (outcome instanceof BatchOutcome.Failed failed) {
                forwardError(item.requestId(), item.task(), new AnswerError(failed.kind(), failed.message()), queued);
            } else if (outcome instanceof BatchOutcome.Generated generated) {
                Integer version = item.adapter().map(AdapterVersion::getVersion).orElse(null);
                tokens += generated.completionTokens();
                if (forward(Answer.newBuilder()
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
                        .build())) {
                    metrics.answered(item.task(), version);
                }
            }
        }
        release(batch);
        metrics.batchRan(items.size(), elapsed, tokens);
    }

    /**
     * Cancels the batches in flight (their outcomes will never be forwarded) so the model is free at once
     * for the partitions this instance keeps; their requests stay buffered and the task's next owner (or the
     * next start) runs them again.
     */
    @Override
    public void close() {
        if (!inFlight.isEmpty()) {
            LOG.info("task {}: {} batches ({} requests) in flight cancelled and handed back", context.taskId(),
                    inFlight.size(), inFlightKeys.size());
            for (InFlight batch : inFlight) {
                batch.cancellation().cancel();
            }
            metrics.batchesHandedBack(inFlight.size());
            inFlight.clear();
            inFlightKeys.clear();
        }
    }

    /** Whether {@code requestId} was answered within the dedupe window; a duplicate is counted. */
    private boolean isDuplicate(String requestId) {
        if (settings.dedupeWindow().isZero()) {
            return false;
        }
        Long at = answered.get(requestId);
        if (at != null && clock.millis() - at < settings.dedupeWindow().toMillis()) {
            metrics.duplicate();
            LOG.debug("request {} was answered {} ms ago: not answered again", requestId, clock.millis() - at);
            return true;
        }
        return false;
    }

    /** Drops the answered ids older than the dedupe window. */
    private void purgeAnswered() {
        long oldest = clock.millis() - settings.dedupeWindow().toMillis();
        var expired = new ArrayList<String>();
        try (KeyValueIterator<String, Long> it = answered.all()) {
            while (it.hasNext()) {
                KeyValue<String, Long> entry = it.next();
                if (entry.value <= oldest) {
                    expired.add(entry.key);
                }
            }
        }
        expired.forEach(answered::delete);
    }

    /** Whether the request is older than {@code requestMaxAge}, counted from its creation or else {@code sinceMillis}. */
    private boolean expired(InferenceRequest request, long sinceMillis, long now) {
        return !settings.requestMaxAge().isZero() && now - createdOr(request, sinceMillis)
                > settings.requestMaxAge().toMillis();
    }

    private static long createdOr(InferenceRequest request, long sinceMillis) {
        return request.getCreatedAtMillis() > 0 ? request.getCreatedAtMillis() : sinceMillis;
    }

    private void forwardExpired(InferenceRequest request, long sinceMillis, long now, long queued) {
        forwardError(request.getRequestId(), request.getTask(), new AnswerError(ErrorKind.EXPIRED, "request "
                + request.getRequestId() + ", task " + request.getTask() + ": " + (now - createdOr(request, sinceMillis))
                + " ms old, more than request.max.age.ms " + settings.requestMaxAge().toMillis()), queued);
    }

    private void forwardError(String requestId, String task, AnswerError error, long queued) {
        long now = clock.millis();
        boolean sent = forward(Answer.newBuilder()
                .setRequestId(requestId)
                // a task name over the limit is not repeated (the message names it, abbreviated)
                .setTask(task == null || task.length() > RequestLimits.MAX_TASK_CHARS ? "" : task)
                .setAdapterVersion(null)
                .setFinishReason(FinishReason.ERROR)
                .setModelFingerprint(answerer.model().fingerprint())
                .setQueueMillis(Math.max(0, queued))
                .setError(error)
                .setAnsweredAtMillis(now)
                .build());
        if (sent) {
            metrics.errorAnswered(error.getKind());
            LOG.debug("error answer {}: {}", error.getKind(), error.getMessage());
        }
    }

    /**
     * Forwards the answer fitted to the answers topic, remembers its id for the dedupe window, and says
     * whether it went out as it was (true) or shrunk into an error or dead-lettered (false).
     */
    private boolean forward(Answer answer) {
        Optional<Answer> fitted = fit.fit(answer);
        if (fitted.isEmpty()) {
            // the current record (if any) is not necessarily this request: no pointer
            deadLetter(answer.getRequestId(), "request " + RequestLimits.abbreviate(answer.getRequestId(), 32)
                    + ": no answer to it fits the answers topic's record limit of " + settings.maxAnswerBytes()
                    + " bytes", Optional.empty(), OptionalLong.empty());
            return false;
        }
        Answer out = fitted.get();
        if (out != answer) {
            LOG.warn("answer to request {} shrunk to fit the answers topic: {}", out.getRequestId(),
                    RequestLimits.abbreviate(out.getError().getMessage(), 200));
            metrics.answerShrunk();
        }
        context.forward(new Record<String, Object>(out.getRequestId(), out, out.getAnsweredAtMillis()),
                ServingTopology.ANSWERS_SINK);
        // a TIMEOUT invites the sender to try again, with the same id
        if (!settings.dedupeWindow().isZero()
                && (out.getError() == null || out.getError().getKind() != ErrorKind.TIMEOUT)) {
            answered.put(out.getRequestId(), clock.millis());
        }
        if (out != answer && answer.getError() == null) {
            metrics.errorAnswered(out.getError().getKind());
            return false;
        }
        return true;
    }

    /**
     * Sends a pointer to a request that cannot be answered to the dead-letter topic: the reason, and where the
     * request is ({@code source}: topic, partition, offset) when known. Its key is the request key cut to 64
     * characters; there is no value (the request may not fit the dead-letter topic either).
     */
    private void deadLetter(String key, String reason, Optional<RecordMetadata> source, OptionalLong offset) {
        String topic = source.map(RecordMetadata::topic).orElse("");
        int partition = source.map(RecordMetadata::partition).orElse(-1);
        long at = offset.orElse(source.map(RecordMetadata::offset).orElse(-1L));
        var headers = DeadLetters.headers(null, reason, new IllegalArgumentException(RequestLimits.class.getName()),
                topic, partition, at);
        String shortKey = key == null ? null : key.length() <= 64 ? key : key.substring(0, 64);
        LOG.warn("request {} at {}-{} offset {} sent to the dead-letter topic: {}", RequestLimits.abbreviate(key, 64),
                topic, partition, at, reason);
        metrics.deadLettered(topic, RequestLimits.class.getSimpleName());
        context.forward(new Record<String, Object>(shortKey, null, clock.millis(), headers),
                ServingTopology.UNANSWERABLE_SINK);
    }

}

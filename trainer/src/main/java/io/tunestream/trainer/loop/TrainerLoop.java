package io.tunestream.trainer.loop;

import io.tunestream.schemas.AdapterCheckpoint;
import io.tunestream.schemas.AdapterVersion;
import io.tunestream.schemas.DeadLetters;
import io.tunestream.schemas.ExampleKey;
import io.tunestream.schemas.Feedback;
import io.tunestream.schemas.LabelledExample;
import io.tunestream.schemas.RunStatus;
import io.tunestream.schemas.TaskNames;
import io.tunestream.schemas.TaskTemplate;
import io.tunestream.schemas.template.TemplateRules;
import io.tunestream.schemas.AccessTable;
import io.tunestream.schemas.TopicSpec;
import io.tunestream.schemas.TrainingRun;
import io.tunestream.schemas.kafka.KafkaClientConfig;
import io.tunestream.schemas.registry.Decoded;
import io.tunestream.schemas.registry.RecordDecoder;
import io.tunestream.schemas.registry.RegistryUnavailableException;
import io.tunestream.schemas.kafka.KafkaPreflight;
import io.tunestream.trainer.feedback.FeedbackConversion;
import io.tunestream.trainer.feedback.FeedbackOutcome;
import io.tunestream.trainer.run.RunOutcome;
import io.tunestream.trainer.run.TaskRunner;
import io.tunestream.trainer.state.RetrainingTrigger;
import io.tunestream.trainer.state.TaskSnapshot;
import io.tunestream.trainer.state.TaskState;
import io.tunestream.trainer.state.TaskStates;
import io.tunestream.trainer.state.TrackedExample;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.RetriableException;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The trainer's consumer loop, on its own thread: rebuilds every task's state from the compacted
 * topics and {@code examples} (read from the beginning at each start), turns {@code feedback} into
 * examples (written back to {@code examples}, so they are durable and every trainer sees them;
 * feedback offsets are committed in the group once those writes are acknowledged), and starts a
 * run when a task is due ({@link RetrainingTrigger}).
 *
 * <p>Values are read as bytes and decoded with {@link RecordDecoder}, which tells two failures apart:
 * <ul>
 *   <li>transient (the registry cannot be reached, a write is not acknowledged): every input is
 *       paused, the failed record and those after it are read again after an exponential backoff
 *       ({@link InputRetry}), health reports {@code degraded: registry unreachable}, no run starts,
 *       and nothing is skipped;</li>
 *   <li>poison (the bytes can never be read, or a decoded record cannot be processed): the record goes
 *       to the trainer's dead-letter topic as it arrived, with the reason and its topic, partition and
 *       offset in headers ({@link DeadLetters}), and the loop goes on. A poison adapter or checkpoint
 *       record still counts its version ({@link VersionHeader}), so no version number is reused.</li>
 * </ul>
 *
 * <p>Runs go to a single worker thread, one at a time; the loop keeps polling meanwhile (each poll
 * waits at most the poll timeout), so it never blocks on training. The worker publishes the run's
 * outcome ({@link RunPublisher}); the loop then applies a published adapter to the task's state
 * before it may start the task's next run, so versions never collide.
 *
 * <p>Feedback is paused until the state topics are caught up (it needs the templates). After the
 * catch-up, examples not newer than a task's serving adapter count as used (see
 * {@link TaskState#markUsedUpToServing()}).
 */
public final class TrainerLoop implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(TrainerLoop.class);
    private static final Duration SHUTDOWN_GRACE = Duration.ofSeconds(30);
    private static final Duration PREFLIGHT_TIMEOUT = Duration.ofSeconds(30);

    /** Loads what runs tasks (the model), on the loop's thread at start. */
    @FunctionalInterface
    public interface RunnerLoader {
        TaskRunner load();
    }

    /** A write the loop made could not be done now (not acknowledged, or refused before sending): retry. */
    private static final class WriteUnavailableException extends RuntimeException {
        WriteUnavailableException(String message, Throwable cause) {
            super(message, cause);
        }
    }

    private final KafkaClientConfig kafka;
    private final LoopSettings settings;
    private final String groupId;
    private final TrainerTopics topics;
    private final RunnerLoader loader;
    private final TrainerMetrics metrics;
    private final Clock clock;
    private final RunPhase.Listener phases;
    private final TaskStates states;
    private final InputRetry retry;
    private final ExecutorService worker;
    private final Thread thread;

    private volatile boolean stopping;
    private volatile boolean modelLoaded;
    private volatile boolean assigned;
    private volatile boolean caughtUp;
    private volatile Throwable failure;
    private volatile String runningTask;
    private volatile String publishDegraded;
    private volatile KafkaConsumer<byte[], byte[]> consumer;

    private TaskRunner runner;
    private RunPublisher publisher;
    private InputDecoders decoders;
    private KafkaProducer<String, SpecificRecord> examplesProducer;
    private KafkaProducer<byte[], byte[]> deadLetterProducer;
    private DeadLetterLog deadLettered;
    /** Dead letters of the batch in hand, entered in the log once acknowledged. */
    private final List<ConsumerRecord<byte[], byte[]>> pendingDeadLetters = new ArrayList<>();
    private Future<Finished> inFlight;
    private boolean pausedForRetry;
    private boolean brokerFailed;
    private Map<TopicPartition, Long> catchUpTargets = Map.of();
    private List<TopicPartition> feedbackPartitions = List.of();

    /** What a run's worker hands back: the outcome, and the version it tried to publish (0 if none). */
    private record Finished(RunOutcome outcome, int attemptedVersion) {
    }

    /** A loop with the default settings but the group and poll timeout, and no phase listener. */
    public TrainerLoop(KafkaClientConfig kafka, String groupId, Duration pollTimeout, TrainerTopics topics,
                       RunnerLoader loader, TrainerMetrics metrics, Clock clock) {
        this(kafka, LoopSettings.of(groupId, pollTimeout), topics, loader, metrics, clock, RunPhase.Listener.NONE);
    }

    /**
     * @param phases hears the phases of every run ({@link RunPhase}); {@link RunPhase.Listener#NONE} in production
     */
    public TrainerLoop(KafkaClientConfig kafka, LoopSettings settings, TrainerTopics topics, RunnerLoader loader,
                       TrainerMetrics metrics, Clock clock, RunPhase.Listener phases) {
        this.kafka = Objects.requireNonNull(kafka, "kafka");
        this.settings = Objects.requireNonNull(settings, "settings");
        this.groupId = settings.groupId();
        this.topics = Objects.requireNonNull(topics, "topics");
        this.loader = Objects.requireNonNull(loader, "loader");
        this.metrics = Objects.requireNonNull(metrics, "metrics");
        this.clock = Objects.requireNonNull(clock, "clock");
        this.phases = Objects.requireNonNull(phases, "phases");
        this.states = new TaskStates(settings.maxExamplesPerTask());
        this.retry = new InputRetry(settings.retryInitial(), settings.retryMax(), clock);
        this.worker = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "trainer-run-" + groupId);
            t.setDaemon(true);
            return t;
        });
        this.thread = new Thread(this::loop, "trainer-loop-" + groupId);
    }

    /** Starts the loop thread. */
    public TrainerLoop start() {
        thread.start();
        return this;
    }

    /** The loop thread is running (or starting) and has not failed. */
    public boolean isAlive() {
        return thread.isAlive() && failure == null;
    }

    /** The model is loaded and the consumer has its partitions. */
    public boolean isReady() {
        return isAlive() && modelLoaded && assigned;
    }

    public boolean isModelLoaded() {
        return modelLoaded;
    }

    public boolean isAssigned() {
        return assigned;
    }

    /** The state topics have been read up to where they ended at start. */
    public boolean isCaughtUp() {
        return caughtUp;
    }

    /**
     * While reading or publishing is held up by a transient failure: {@code degraded: registry unreachable
     * (…)}, {@code degraded: Kafka write not acknowledged (…)} or {@code degraded: cannot publish (…)};
     * empty when both work.
     */
    public Optional<String> degraded() {
        Optional<String> reading = retry.degraded();
        return reading.isPresent() ? reading : Optional.ofNullable(publishDegraded);
    }

    /** Why the loop stopped, when it failed. */
    public Optional<Throwable> failure() {
        return Optional.ofNullable(failure);
    }

    /** The task whose run is in progress. */
    public Optional<String> runningTask() {
        return Optional.ofNullable(runningTask);
    }

    private void loop() {
        try {
            runner = loader.load();
            modelLoaded = true;
            checkPlatform();
            decoders = new InputDecoders(kafka.registry());
            examplesProducer = new KafkaProducer<>(kafka.producerProperties(groupId + "-examples"));
            Map<String, Object> deadLetters = new HashMap<>(kafka.producerProperties(groupId + "-dlq"));
            deadLetters.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
            deadLetters.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
            deadLetterProducer = new KafkaProducer<>(deadLetters);
            publisher = new RunPublisher(kafka, groupId + "-publisher", groupId + "-publisher", topics, phases);
            Map<String, Object> reading = new HashMap<>(kafka.consumerProperties(groupId + "-state", groupId));
            // bytes in: RecordDecoder tells a registry outage (wait) from a poison record (dead letter)
            reading.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
            reading.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
            consumer = new KafkaConsumer<>(reading);
            deadLettered = DeadLetterLog.read(consumer, topics.deadLetters(), Duration.ofSeconds(30));
            assign();
            while (!stopping) {
                try {
                    pollOnce();
                    if (brokerFailed) {
                        brokerFailed = false;
                        retry.succeeded();
                    }
                } catch (RetriableException e) {
                    // a metadata or offset request timed out (broker out of reach): nothing was handled, wait and poll again
                    brokerFailed = true;
                    Duration wait = retry.failed("broker unreachable", e);
                    metrics.retry("broker unreachable");
                    LOG.warn("broker unreachable, polling again in {} ms: {}", wait.toMillis(), e.toString());
                    Thread.sleep(wait.toMillis());
                }
            }
        } catch (WakeupException e) {
            if (!stopping) {
                failure = e;
                LOG.error("trainer loop woken up unexpectedly", e);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            if (!stopping) {
                failure = e;
                LOG.error("trainer loop interrupted", e);
            }
        } catch (Throwable t) {
            failure = t;
            LOG.error("trainer loop stopped: {}", t.toString(), t);
        } finally {
            shutdownWorker();
            closeQuietly(consumer);
            closeQuietly(examplesProducer);
            closeQuietly(deadLetterProducer);
            closeQuietly(publisher);
            closeQuietly(decoders);
            if (runner instanceof AutoCloseable closeable && worker.isTerminated()) {
                closeQuietly(closeable);
            }
        }
    }

    /**
     * The trainer creates nothing ({@code ingest setup}, as the admin principal, does): its topics
     * must exist and allow what the {@link AccessTable} TRAINER rows give it, and their schemas
     * must be registered; otherwise it stops here with a message naming the principal and what is missing.
     */
    private void checkPlatform() {
        LOG.info("trainer {} checking Kafka {}", groupId, kafka.describe());
        var names = new AccessTable.Names(topics.prefix(), "", groupId, "");
        KafkaPreflight.check(kafka, AccessTable.topicOperations(AccessTable.Role.TRAINER, names,
                topics.specs().stream().map(TopicSpec::name).toList()), PREFLIGHT_TIMEOUT);
        try {
            KafkaPreflight.checkSchemas(kafka.registry(), topics.specs());
        } catch (RegistryUnavailableException e) {
            // an outage is not a missing schema: start, and let the inputs wait for the registry
            LOG.warn("trainer {}: {}; starting anyway, inputs wait for the registry", groupId, e.getMessage());
        }
    }

    private void assign() {
        List<TopicPartition> state = new ArrayList<>();
        for (String topic : topics.stateTopics()) {
            state.addAll(partitions(topic));
        }
        feedbackPartitions = partitions(topics.feedback());
        List<TopicPartition> all = new ArrayList<>(state);
        all.addAll(feedbackPartitions);
        consumer.assign(all);
        consumer.seekToBeginning(state);
        Map<TopicPartition, OffsetAndMetadata> committed = consumer.committed(new HashSet<>(feedbackPartitions));
        for (TopicPartition p : feedbackPartitions) {
            OffsetAndMetadata at = committed.get(p);
            if (at == null) {
                consumer.seekToBeginning(List.of(p));
            } else {
                consumer.seek(p, at.offset());
            }
        }
        consumer.pause(feedbackPartitions);
        catchUpTargets = new HashMap<>(consumer.endOffsets(state));
        assigned = true;
        LOG.info("trainer assigned {} partitions; catching up to {}", all.size(), catchUpTargets);
    }

    private List<TopicPartition> partitions(String topic) {
        List<PartitionInfo> infos = consumer.partitionsFor(topic, Duration.ofSeconds(30));
        if (infos == null || infos.isEmpty()) {
            throw new IllegalStateException("topic " + topic + " has no partitions (does it exist?)");
        }
        return infos.stream().map(i -> new TopicPartition(topic, i.partition())).toList();
    }

    private void pollOnce() {
        resumeAfterBackoff();
        ConsumerRecords<byte[], byte[]> records = consumer.poll(settings.pollTimeout());
        if (!records.isEmpty()) {
            handleBatch(records);
        }
        if (!caughtUp && !pausedForRetry && reachedCatchUpTargets()) {
            caughtUp = true;
            states.all().forEach(TaskState::markUsedUpToServing);
            consumer.resume(feedbackPartitions);
            LOG.info("trainer caught up: {} tasks", states.all().size());
        }
        collectFinishedRun();
        // no run while reading is held up: the state may miss records, and publishing needs the registry too
        if (caughtUp && inFlight == null && !pausedForRetry) {
            startDueRun();
        }
    }

    /**
     * Handles a batch in order. A transient failure stops it at the failed record: every partition
     * goes back to its first record not handled, and reading pauses for the backoff. The feedback
     * handled is committed once the examples and dead letters it produced are acknowledged; if they
     * are not, the batch's feedback is read again (the examples it makes keep their keys, so a second
     * conversion replaces the first).
     */
    private void handleBatch(ConsumerRecords<byte[], byte[]> records) {
        Map<TopicPartition, Long> first = new HashMap<>();
        Map<TopicPartition, Long> next = new HashMap<>();
        for (TopicPartition tp : records.partitions()) {
            first.put(tp, records.records(tp).get(0).offset());
            next.put(tp, records.records(tp).get(0).offset());
        }
        Map<TopicPartition, OffsetAndMetadata> feedbackDone = new HashMap<>();
        List<Future<RecordMetadata>> writes = new ArrayList<>();
        RuntimeException transientFailure = null;
        String what = null;
        batch:
        for (TopicPartition tp : records.partitions()) {
            for (ConsumerRecord<byte[], byte[]> record : records.records(tp)) {
                try {
                    handle(record, writes);
                } catch (RegistryUnavailableException e) {
                    transientFailure = e;
                    what = "registry unreachable";
                    break batch;
                } catch (WriteUnavailableException e) {
                    transientFailure = e;
                    what = "Kafka write not acknowledged";
                    break batch;
                }
                next.put(tp, record.offset() + 1);
                if (record.topic().equals(topics.feedback())) {
                    feedbackDone.put(tp, new OffsetAndMetadata(record.offset() + 1));
                }
            }
        }
        try {
            awaitWritten(writes);
            pendingDeadLetters.forEach(r -> deadLettered.add(r.topic(), r.partition(), r.offset()));
            if (!feedbackDone.isEmpty()) {
                consumer.commitSync(feedbackDone);
            }
        } catch (WakeupException e) {
            throw e;
        } catch (WriteUnavailableException | KafkaException e) {
            // not acknowledged: nothing of this batch's feedback counts as done; state records are re-applied as is
            next.putAll(first);
            transientFailure = e;
            what = "Kafka write not acknowledged";
        }
        pendingDeadLetters.clear();
        if (transientFailure == null) {
            retry.succeeded();
            return;
        }
        next.forEach(consumer::seek);
        Duration wait = retry.failed(what, transientFailure);
        consumer.pause(consumer.assignment());
        pausedForRetry = true;
        metrics.retry(what);
        LOG.warn("inputs paused for {} ms, nothing skipped: {}: {}", wait.toMillis(), what, transientFailure.getMessage());
    }

    private void resumeAfterBackoff() {
        if (!pausedForRetry || retry.waiting()) {
            return;
        }
        Set<TopicPartition> resume = new HashSet<>(consumer.assignment());
        if (!caughtUp) {
            feedbackPartitions.forEach(resume::remove);
        }
        consumer.resume(resume);
        pausedForRetry = false;
    }

    private void awaitWritten(List<Future<RecordMetadata>> writes) {
        if (writes.isEmpty()) {
            return;
        }
        examplesProducer.flush();
        deadLetterProducer.flush();
        for (Future<RecordMetadata> written : writes) {
            try {
                written.get();
            } catch (ExecutionException e) {
                throw new WriteUnavailableException("an example made from feedback or a dead letter was not "
                        + "acknowledged: " + e.getCause(), e.getCause());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new WakeupException();
            }
        }
    }

    private boolean reachedCatchUpTargets() {
        for (Map.Entry<TopicPartition, Long> target : catchUpTargets.entrySet()) {
            if (consumer.position(target.getKey()) < target.getValue()) {
                return false;
            }
        }
        return true;
    }

    private void handle(ConsumerRecord<byte[], byte[]> record, List<Future<RecordMetadata>> writes) {
        String topic = record.topic();
        String key = record.key() == null ? null : new String(record.key(), StandardCharsets.UTF_8);
        RecordDecoder<?> decoder = decoders.of(topic, topics);
        Decoded<?> decoded = decoder.decode(topic, record.headers(), record.value());
        if (decoded instanceof Decoded.Poison<?> poison) {
            if (topic.equals(topics.adapters()) || topic.equals(topics.checkpoints())) {
                VersionHeader.read(record.headers()).ifPresent(v -> {
                    if (key != null) {
                        states.task(key).versionSeen(v);
                    }
                });
            }
            deadLetter(record, poison.reason(), poison.cause(), writes);
            return;
        }
        Object value = ((Decoded.Value<?>) decoded).value();
        try {
            apply(topic, key, value, record.timestamp(), writes);
        } catch (WriteUnavailableException | RegistryUnavailableException e) {
            throw e;
        } catch (RuntimeException e) {
            // read, but unusable here (a bad key, a conversion that throws): it would fail the same way again
            deadLetter(record, "cannot process a record of " + topic + ": " + RecordDecoder.reason(e), e, writes);
        }
    }

    private void apply(String topic, String key, Object value, long timestampMillis, List<Future<RecordMetadata>> writes) {
        if (topic.equals(topics.templates())) {
            if (value == null) {
                states.task(key).template(null);
            } else {
                TaskTemplate template = (TaskTemplate) value;
                List<String> problems = TemplateRules.problems(template);
                if (!problems.isEmpty()) {
                    // the rule ingest checks before sending; dead-lettered with the problems as the reason
                    throw new IllegalArgumentException("template breaks the template rule: " + String.join("; ", problems));
                }
                states.task(TaskNames.require(template.getTask())).template(template);
            }
        } else if (topic.equals(topics.examples())) {
            if (value != null) {
                LabelledExample example = (LabelledExample) value;
                ExampleKey id = ExampleKey.of(example);
                ExampleKey.parse(key).filter(k -> !k.equals(id)).ifPresent(k -> {
                    // a tombstone for the key would not delete what the value names
                    throw new IllegalArgumentException("key '" + key + "' does not name the example it holds ('" + id
                            + "')");
                });
                states.task(example.getTask()).example(new TrackedExample(example, states.nextSequence(),
                        timestampMillis));
                metrics.example(example.getTask());
            } else {
                delete(key);
            }
        } else if (topic.equals(topics.adapters())) {
            if (value != null) {
                AdapterVersion adapter = (AdapterVersion) value;
                states.task(adapter.getTask()).serving(adapter);
            }
        } else if (topic.equals(topics.checkpoints())) {
            if (value != null) {
                AdapterCheckpoint checkpoint = (AdapterCheckpoint) value;
                states.task(checkpoint.getTask()).checkpoint(checkpoint);
            }
        } else if (topic.equals(topics.feedback())) {
            if (value != null) {
                handle((Feedback) value, writes);
            }
        }
    }

    /** A tombstone on examples: the example of its key is deleted (a task-only key names no example). */
    private void delete(String key) {
        Optional<ExampleKey> example = ExampleKey.parse(key);
        if (example.isEmpty()) {
            LOG.warn("examples: a tombstone with key '{}' names no example (expected <task>/<exampleId>), ignored", key);
            metrics.skipped("tombstone without example key", 1);
            return;
        }
        boolean held = states.task(example.get().task()).remove(example.get().exampleId());
        metrics.deleted(example.get().task());
        LOG.debug("task {}: example {} deleted ({})", example.get().task(), example.get().exampleId(),
                held ? "was held" : "was not held");
    }

    private void deadLetter(ConsumerRecord<byte[], byte[]> record, String reason, Throwable cause,
                            List<Future<RecordMetadata>> writes) {
        if (deadLettered.contains(record.topic(), record.partition(), record.offset())) {
            // read again from the beginning of a state topic after a restart: its dead letter is there already
            LOG.debug("{} partition {} offset {}: already dead-lettered: {}", record.topic(), record.partition(),
                    record.offset(), reason);
            return;
        }
        pendingDeadLetters.add(record);
        LOG.warn("{} partition {} offset {}: dead-lettered to {}: {}", record.topic(), record.partition(),
                record.offset(), topics.deadLetters(), reason);
        metrics.deadLettered(record.topic());
        writes.add(deadLetterProducer.send(DeadLetters.of(topics.deadLetters(), record, reason, cause)));
    }

    private void handle(Feedback feedback, List<Future<RecordMetadata>> examplesWritten) {
        metrics.feedback(feedback.getVerdict().name());
        FeedbackOutcome outcome = FeedbackConversion.convert(feedback, states.task(feedback.getTask()).template(),
                clock.millis());
        if (outcome instanceof FeedbackOutcome.NewExample made) {
            LabelledExample example = made.example();
            String key = ExampleKey.of(example).toString();
            try {
                examplesWritten.add(examplesProducer.send(new ProducerRecord<>(topics.examples(), key, example)));
            } catch (KafkaException e) {
                // refused before sending (the serializer could not reach the registry, the buffer is full): retry
                throw new WriteUnavailableException("task " + feedback.getTask() + ": the example made from feedback "
                        + feedback.getRequestId() + " could not be sent: " + e.getMessage(), e);
            }
        } else if (outcome instanceof FeedbackOutcome.Skipped skipped) {
            LOG.info("task {}: feedback on request {} skipped: {}", feedback.getTask(), feedback.getRequestId(),
                    skipped.reason());
            metrics.skipped("feedback: " + skipped.reason(), 1);
        }
    }

    private void startDueRun() {
        long now = clock.millis();
        // each task's examples are scanned once a poll: the due check and the oldest waiting example
        TaskState state = null;
        String why = null;
        long oldest = Long.MAX_VALUE;
        for (TaskState s : states.all()) {
            Optional<String> reason = RetrainingTrigger.due(s, now);
            if (reason.isPresent()) {
                long first = s.firstUnusedAtMillis().orElse(Long.MAX_VALUE);
                if (state == null || first < oldest) {
                    state = s;
                    why = reason.get();
                    oldest = first;
                }
            }
        }
        if (state == null) {
            return;
        }
        TaskSnapshot snapshot = state.startRun();
        String runId = snapshot.task() + "-" + UUID.randomUUID();
        String reason = why;
        LOG.info("task {}: starting run {}: {}", snapshot.task(), runId, reason);
        metrics.runStarted(snapshot.task());
        runningTask = snapshot.task();
        inFlight = worker.submit(() -> execute(snapshot, runId, reason));
    }

    /**
     * On the worker thread: the run, then its outcome published. A publication that fails may still
     * have committed (a commit whose answer was lost), so its version counts as taken.
     */
    private Finished execute(TaskSnapshot snapshot, String runId, String why) {
        long started = clock.millis();
        RunOutcome outcome;
        int attempted = 0;
        try {
            TrainingRun start = TrainingRun.newBuilder().setRunId(runId).setTask(snapshot.task())
                    .setStatus(RunStatus.STARTED).setMessage("started: " + why).setStartedAtMillis(started)
                    .setUpdatedAtMillis(started).build();
            try {
                publisher.progress(start);
            } catch (RunPublisher.FatalPublishException e) {
                throw e;
            } catch (RuntimeException e) {
                LOG.warn("task {}: start of run {} not recorded: {}", snapshot.task(), runId, e.toString());
            }
            phases.reached(RunPhase.RUN_STARTED, snapshot.task(), 0);
            outcome = runner.run(snapshot, runId, running -> {
                try {
                    publisher.progress(running);
                } catch (RuntimeException e) {
                    LOG.warn("task {}: progress of run {} not recorded: {}", snapshot.task(), runId, e.toString());
                }
            });
            if (outcome instanceof RunOutcome.Published published) {
                attempted = published.adapter().getVersion();
            }
            publishUntilDone(outcome);
        } catch (RuntimeException e) {
            LOG.error("task {}: run {} failed: {}", snapshot.task(), runId, e.toString(), e);
            outcome = new RunOutcome.Failed(TrainingRun.newBuilder().setRunId(runId).setTask(snapshot.task())
                    .setStatus(RunStatus.FAILED).setMessage("task '" + snapshot.task() + "': " + e.getMessage())
                    .setStartedAtMillis(started).setUpdatedAtMillis(clock.millis()).build());
            try {
                publisher.publish(outcome);
            } catch (RuntimeException again) {
                LOG.error("task {}: the FAILED record of run {} could not be written either: {}", snapshot.task(), runId,
                        again.toString());
            }
        }
        metrics.runEnded(snapshot.task(), outcome, Duration.ofMillis(clock.millis() - started));
        return new Finished(outcome, attempted);
    }

    /**
     * Publishes the outcome, again and again after a backoff while the transaction is aborted for a
     * transient reason (the registry or the broker out of reach): the run's work is not thrown away and
     * nothing is skipped. Gives up when the producer is fenced or the loop stops.
     */
    private void publishUntilDone(RunOutcome outcome) {
        InputRetry publishing = new InputRetry(settings.retryInitial(), settings.retryMax(), clock);
        while (true) {
            try {
                publisher.publish(outcome);
                publishDegraded = null;
                return;
            } catch (RunPublisher.FatalPublishException e) {
                publishDegraded = null;
                throw e;
            } catch (RuntimeException e) {
                if (stopping) {
                    publishDegraded = null;
                    throw e;
                }
                Duration wait = publishing.failed("cannot publish", e);
                publishDegraded = publishing.degraded().orElse(null);
                metrics.retry("cannot publish");
                LOG.warn("task {}: publishing run {} again in {} ms: {}", outcome.run().getTask(),
                        outcome.run().getRunId(), wait.toMillis(), e.getMessage());
                try {
                    Thread.sleep(wait.toMillis());
                } catch (InterruptedException interrupted) {
                    Thread.currentThread().interrupt();
                    publishDegraded = null;
                    throw new IllegalStateException("task " + outcome.run().getTask() + ": stopped while publishing run "
                            + outcome.run().getRunId() + "; nothing published", interrupted);
                }
            }
        }
    }

    private void collectFinishedRun() {
        if (inFlight == null || !inFlight.isDone()) {
            return;
        }
        try {
            Finished finished = inFlight.get();
            RunOutcome outcome = finished.outcome();
            states.task(outcome.run().getTask()).versionSeen(finished.attemptedVersion());
            if (outcome instanceof RunOutcome.Published published) {
                TaskState state = states.task(published.adapter().getTask());
                state.serving(published.adapter());
                state.checkpoint(published.checkpoint());
            }
            LOG.info("task {}: run {} ended {}: {}", outcome.run().getTask(), outcome.run().getRunId(),
                    outcome.run().getStatus(), outcome.run().getMessage());
        } catch (ExecutionException e) {
            LOG.error("run of task {} ended with an error: {}", runningTask, e.getCause().toString(), e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            inFlight = null;
            runningTask = null;
        }
    }

    private void shutdownWorker() {
        worker.shutdownNow();
        try {
            if (!worker.awaitTermination(SHUTDOWN_GRACE.toMillis(), TimeUnit.MILLISECONDS)) {
                LOG.warn("the run of task {} did not stop within {}; the model is left open", runningTask, SHUTDOWN_GRACE);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Stops the loop (an in-progress run is interrupted at its next epoch) and waits for the thread. */
    @Override
    public void close() {
        stopping = true;
        KafkaConsumer<byte[], byte[]> c = consumer;
        if (c != null) {
            c.wakeup();
        }
        try {
            thread.join(SHUTDOWN_GRACE.toMillis() + settings.pollTimeout().toMillis() + 5_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void closeQuietly(AutoCloseable closeable) {
        if (closeable == null) {
            return;
        }
        try {
            closeable.close();
        } catch (Exception e) {
            LOG.warn("closing {}: {}", closeable.getClass().getSimpleName(), e.toString());
        }
    }
}

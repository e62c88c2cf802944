package io.tunestream.trainer.loop;

import io.tunestream.schemas.AdapterCheckpoint;
import io.tunestream.schemas.AdapterVersion;
import io.tunestream.schemas.Feedback;
import io.tunestream.schemas.LabelledExample;
import io.tunestream.schemas.RunStatus;
import io.tunestream.schemas.TaskTemplate;
import io.tunestream.schemas.AccessTable;
import io.tunestream.schemas.TopicSpec;
import io.tunestream.schemas.TrainingRun;
import io.tunestream.schemas.kafka.KafkaClientConfig;
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
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.RecordDeserializationException;
import org.apache.kafka.common.errors.WakeupException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The trainer's consumer loop, on its own thread: rebuilds every task's state from the compacted
 * topics and {@code examples} (read from the beginning at each start), turns {@code feedback} into
 * examples (written back to {@code examples}, so they are durable and every trainer sees them;
 * feedback offsets are committed in the group once those writes are acknowledged), and starts a
 * run when a task is due ({@link RetrainingTrigger}).
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

    private final KafkaClientConfig kafka;
    private final String groupId;
    private final Duration pollTimeout;
    private final TrainerTopics topics;
    private final RunnerLoader loader;
    private final TrainerMetrics metrics;
    private final Clock clock;
    private final TaskStates states = new TaskStates();
    private final ExecutorService worker;
    private final Thread thread;

    private volatile boolean stopping;
    private volatile boolean modelLoaded;
    private volatile boolean assigned;
    private volatile boolean caughtUp;
    private volatile Throwable failure;
    private volatile String runningTask;
    private volatile KafkaConsumer<String, Object> consumer;

    private TaskRunner runner;
    private RunPublisher publisher;
    private KafkaProducer<String, SpecificRecord> examplesProducer;
    private Future<RunOutcome> inFlight;
    private Map<TopicPartition, Long> catchUpTargets = Map.of();
    private List<TopicPartition> feedbackPartitions = List.of();

    public TrainerLoop(KafkaClientConfig kafka, String groupId, Duration pollTimeout, TrainerTopics topics,
                       RunnerLoader loader, TrainerMetrics metrics, Clock clock) {
        this.kafka = Objects.requireNonNull(kafka, "kafka");
        this.groupId = Objects.requireNonNull(groupId, "groupId");
        this.pollTimeout = Objects.requireNonNull(pollTimeout, "pollTimeout");
        this.topics = Objects.requireNonNull(topics, "topics");
        this.loader = Objects.requireNonNull(loader, "loader");
        this.metrics = Objects.requireNonNull(metrics, "metrics");
        this.clock = Objects.requireNonNull(clock, "clock");
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
            examplesProducer = new KafkaProducer<>(kafka.producerProperties(groupId + "-examples"));
            publisher = new RunPublisher(kafka, groupId + "-publisher", groupId + "-publisher", topics);
            consumer = new KafkaConsumer<>(kafka.consumerProperties(groupId + "-state", groupId));
            assign();
            while (!stopping) {
                pollOnce();
            }
        } catch (WakeupException e) {
            if (!stopping) {
                failure = e;
                LOG.error("trainer loop woken up unexpectedly", e);
            }
        } catch (Throwable t) {
            failure = t;
            LOG.error("trainer loop stopped: {}", t.toString(), t);
        } finally {
            shutdownWorker();
            closeQuietly(consumer);
            closeQuietly(examplesProducer);
            closeQuietly(publisher);
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
        KafkaPreflight.checkSchemas(kafka.registry(), topics.specs());
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
        ConsumerRecords<String, Object> records;
        try {
            records = consumer.poll(pollTimeout);
        } catch (RecordDeserializationException e) {
            LOG.warn("skipping the record at {} offset {}: {} ({})", e.topicPartition(), e.offset(), e.getMessage(),
                    String.valueOf(e.getCause()), e.getCause());
            metrics.skipped("undeserializable record", 1);
            consumer.seek(e.topicPartition(), e.offset() + 1);
            return;
        }
        Map<TopicPartition, OffsetAndMetadata> feedbackDone = new HashMap<>();
        List<Future<RecordMetadata>> examplesWritten = new ArrayList<>();
        for (ConsumerRecord<String, Object> record : records) {
            try {
                handle(record, examplesWritten);
            } catch (RuntimeException e) {
                LOG.warn("topic {} partition {} offset {} (key {}): record skipped: {}", record.topic(), record.partition(),
                        record.offset(), record.key(), e.toString(), e);
                metrics.skipped("unusable record: " + e.getClass().getSimpleName(), 1);
            }
            if (record.topic().equals(topics.feedback())) {
                feedbackDone.put(new TopicPartition(record.topic(), record.partition()),
                        new OffsetAndMetadata(record.offset() + 1));
            }
        }
        if (!feedbackDone.isEmpty()) {
            // the examples made from this feedback are acknowledged before the feedback counts as done; if one
            // cannot be written the loop stops without committing, and a restart converts the feedback again
            examplesProducer.flush();
            for (Future<RecordMetadata> written : examplesWritten) {
                awaitWritten(written);
            }
            consumer.commitSync(feedbackDone);
        }
        if (!caughtUp && reachedCatchUpTargets()) {
            caughtUp = true;
            states.all().forEach(TaskState::markUsedUpToServing);
            consumer.resume(feedbackPartitions);
            LOG.info("trainer caught up: {} tasks", states.all().size());
        }
        collectFinishedRun();
        if (caughtUp && inFlight == null) {
            startDueRun();
        }
    }

    private static void awaitWritten(Future<RecordMetadata> written) {
        try {
            written.get();
        } catch (ExecutionException e) {
            throw new IllegalStateException("an example made from feedback could not be written to the examples topic; "
                    + "the feedback offsets are not committed: " + e.getCause(), e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while writing examples made from feedback", e);
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

    private void handle(ConsumerRecord<String, Object> record, List<Future<RecordMetadata>> examplesWritten) {
        String topic = record.topic();
        Object value = record.value();
        if (topic.equals(topics.templates())) {
            if (value == null) {
                states.task(record.key()).template(null);
            } else if (value instanceof TaskTemplate template) {
                states.task(template.getTask()).template(template);
            } else {
                unexpected(record);
            }
        } else if (topic.equals(topics.examples())) {
            if (value instanceof LabelledExample example) {
                states.task(example.getTask()).example(new TrackedExample(example, states.nextSequence(),
                        record.timestamp()));
                metrics.example(example.getTask());
            } else if (value != null) {
                unexpected(record);
            }
        } else if (topic.equals(topics.adapters())) {
            if (value instanceof AdapterVersion adapter) {
                states.task(adapter.getTask()).serving(adapter);
            } else if (value != null) {
                unexpected(record);
            }
        } else if (topic.equals(topics.checkpoints())) {
            if (value instanceof AdapterCheckpoint checkpoint) {
                states.task(checkpoint.getTask()).checkpoint(checkpoint);
            } else if (value != null) {
                unexpected(record);
            }
        } else if (topic.equals(topics.feedback())) {
            if (value instanceof Feedback feedback) {
                handle(feedback, examplesWritten);
            } else if (value != null) {
                unexpected(record);
            }
        }
    }

    private void handle(Feedback feedback, List<Future<RecordMetadata>> examplesWritten) {
        metrics.feedback(feedback.getVerdict().name());
        FeedbackOutcome outcome = FeedbackConversion.convert(feedback, states.task(feedback.getTask()).template(),
                clock.millis());
        if (outcome instanceof FeedbackOutcome.NewExample made) {
            LabelledExample example = made.example();
            examplesWritten.add(examplesProducer.send(new ProducerRecord<>(topics.examples(), example.getTask(), example)));
        } else if (outcome instanceof FeedbackOutcome.Skipped skipped) {
            LOG.info("task {}: feedback on request {} skipped: {}", feedback.getTask(), feedback.getRequestId(),
                    skipped.reason());
            metrics.skipped("feedback: " + skipped.reason(), 1);
        }
    }

    private void unexpected(ConsumerRecord<String, Object> record) {
        LOG.warn("topic {} partition {} offset {}: unexpected value type {}, skipped", record.topic(), record.partition(),
                record.offset(), record.value().getClass().getName());
        metrics.skipped("unexpected record type", 1);
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

    /** On the worker thread: the run, then its outcome published. */
    private RunOutcome execute(TaskSnapshot snapshot, String runId, String why) {
        long started = clock.millis();
        RunOutcome outcome;
        try {
            TrainingRun start = TrainingRun.newBuilder().setRunId(runId).setTask(snapshot.task())
                    .setStatus(RunStatus.STARTED).setMessage("started: " + why).setStartedAtMillis(started)
                    .setUpdatedAtMillis(started).build();
            publisher.progress(start);
            outcome = runner.run(snapshot, runId, running -> {
                try {
                    publisher.progress(running);
                } catch (RuntimeException e) {
                    LOG.warn("task {}: progress of run {} not recorded: {}", snapshot.task(), runId, e.toString());
                }
            });
            publisher.publish(outcome);
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
        return outcome;
    }

    private void collectFinishedRun() {
        if (inFlight == null || !inFlight.isDone()) {
            return;
        }
        try {
            RunOutcome outcome = inFlight.get();
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
        KafkaConsumer<String, Object> c = consumer;
        if (c != null) {
            c.wakeup();
        }
        try {
            thread.join(SHUTDOWN_GRACE.toMillis() + pollTimeout.toMillis() + 5_000);
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

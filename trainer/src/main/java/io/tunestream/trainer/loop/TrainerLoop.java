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
import io.tunestream.schemas.kafka.TaskPartitioner;
import io.tunestream.schemas.registry.Decoded;
import io.tunestream.schemas.registry.RecordDecoder;
import io.tunestream.schemas.registry.RegistryUnavailableException;
import io.tunestream.schemas.registry.SchemaRegistrationException;
import io.tunestream.schemas.kafka.KafkaPreflight;
import io.tunestream.schemas.TaskControl;
import io.tunestream.schemas.adapters.AdapterCheck;
import io.tunestream.schemas.peft.PeftAdapter;
import io.tunestream.schemas.peft.PeftFormatException;
import io.tunestream.trainer.control.CommandRefused;
import io.tunestream.trainer.control.ControlResult;
import io.tunestream.trainer.control.NextRun;
import io.tunestream.trainer.control.RunView;
import io.tunestream.trainer.control.TaskCommands;
import io.tunestream.trainer.control.TaskDetail;
import io.tunestream.trainer.control.TaskView;
import io.tunestream.trainer.control.TriggerResult;
import io.tunestream.trainer.control.VersionView;
import io.tunestream.trainer.feedback.FeedbackConversion;
import io.tunestream.trainer.feedback.FeedbackOutcome;
import io.tunestream.trainer.peft.PeftImport;
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
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.function.Supplier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.clients.consumer.CloseOptions;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerGroupMetadata;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.CooperativeStickyAssignor;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.AuthorizationException;
import org.apache.kafka.common.errors.InvalidProducerEpochException;
import org.apache.kafka.common.errors.OutOfOrderSequenceException;
import org.apache.kafka.common.errors.ProducerFencedException;
import org.apache.kafka.common.errors.RetriableException;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The trainer's consumer loop, on its own thread. One replica among several: replicas share one
 * consumer group (static membership, {@code group.instance.id} = the replica id) on the
 * task-partitioned topics {@code examples} and {@code feedback}, and a replica trains and publishes
 * only the tasks whose {@code examples} partition it owns ({@link TaskPartitioner}).
 *
 * <p>Two consumers, both used on this thread only (a consumer is not thread-safe):
 * <ul>
 *   <li>the state consumer, {@code assign()}-ed to every partition of the compacted topics every replica
 *       needs whole ({@code task-templates}, {@code adapters}, {@code adapter-checkpoints}), read
 *       read_committed from the beginning at start and then followed;</li>
 *   <li>the group consumer, subscribed to {@code examples} and {@code feedback} with the cooperative
 *       sticky assignor. On assignment of an {@code examples} partition the replica reads it from the
 *       beginning (rebuilding its tasks' examples), waits until the partition's committed offset is stable
 *       (KIP-447: a previous owner's publish transaction is resolved) and then reads {@code adapters} and
 *       checkpoints to their end, before any run of those tasks numbers a version. On revocation it
 *       drops the tasks' examples and abandons their runs.</li>
 * </ul>
 *
 * <p>Feedback (keyed by request id) is converted by whichever replica owns its partition: the examples
 * it makes and the feedback offsets are committed in one transaction ({@code <group>-feedback-<replica>}),
 * and the examples land on the task's {@code examples} partition, for the task's owner.
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
 * <p>Runs go to a pool of {@link LoopSettings#parallelRuns()} worker threads, at most one run per task;
 * the loop keeps polling meanwhile. Publication is fenced ({@link RunPublisher}): a version's
 * transaction carries the offsets of the task's {@code examples} partition with the group metadata this
 * thread read at its last poll, so a replica that lost the task cannot publish for it. A run whose task
 * is revoked is abandoned (interrupted; its FAILED record says so) and the new owner resumes it exactly from
 * the checkpoint it wrote at its last epoch's end (written only while this replica owns the task). A fenced producer (another process with this replica's transactional id) stops the
 * loop: liveness goes DOWN.
 *
 * <p>The REST API's commands ({@link TaskCommands}: list, detail, trigger, pause/resume, rollback, import) are
 * queued by request threads and carried out on this thread after each poll, answered through futures; changes are
 * made by a task's owner only. Kept versions ({@code adapter-history}), paused tasks ({@code task-controls}) and the
 * recent run records ({@code training-runs}) are read whole like the other state topics. Tables published without a
 * run (a rollback, an import) go through one method, {@code publishAsNextVersion}: checked, numbered, sealed by the
 * runner and published fenced, as a run's version is.
 *
 * <p>Feedback is paused until the state topics are caught up (it needs the templates). After the
 * catch-up of an assignment, examples not newer than a task's serving adapter count as used (see
 * {@link TaskState#markUsedUpToServing()}).
 */
public final class TrainerLoop implements AutoCloseable, TaskCommands {

    private static final Logger LOG = LoggerFactory.getLogger(TrainerLoop.class);
    private static final Duration SHUTDOWN_GRACE = Duration.ofSeconds(30);
    private static final Duration PREFLIGHT_TIMEOUT = Duration.ofSeconds(30);
    /** How long one attempt to read a stable committed offset may block the loop (retried at the next poll). */
    private static final Duration SETTLE_ATTEMPT = Duration.ofMillis(500);
    private static final Duration STATE_POLL = Duration.ofMillis(10);
    private static final Duration CLIENT_CLOSE = Duration.ofSeconds(5);

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

    /**
     * What the run workers may know of the group, replaced (never changed) by the loop thread after each poll:
     * the consumer's group metadata and, per owned {@code examples} partition, the number of the assignment
     * that gave it to this replica (a run started under another number has lost its task meanwhile).
     */
    private record Ownership(ConsumerGroupMetadata group, Map<Integer, Long> epochs) {
        static final Ownership NONE = new Ownership(null, Map.of());
    }

    /**
     * A run in progress: its future, where its ownership stands, and its stage ({@link #TRAINING}, then
     * {@link #PUBLISHING}, or {@link #STOPPED} by a shutdown before it publishes): a shutdown interrupts a
     * run that trains, and lets one that publishes finish its transaction.
     */
    private record InFlight(Future<Finished> future, String runId, int partition, long epoch, AtomicInteger stage) {
    }

    private static final int TRAINING = 0;
    private static final int PUBLISHING = 1;
    private static final int STOPPED = 2;

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
    private volatile String publishDegraded;
    private volatile Ownership ownership = Ownership.NONE;
    private volatile Set<String> running = Set.of();
    private volatile KafkaConsumer<byte[], byte[]> stateConsumer;
    private volatile KafkaConsumer<byte[], byte[]> groupConsumer;

    private TaskRunner runner;
    private RunPublisher publisher;
    private InputDecoders decoders;
    private KafkaProducer<String, SpecificRecord> feedbackProducer;
    private boolean feedbackTransactionOpen;
    private KafkaProducer<byte[], byte[]> deadLetterProducer;
    private DeadLetterLog deadLettered;
    /** Dead letters of the batch in hand, entered in the log once acknowledged. */
    private final List<ConsumerRecord<byte[], byte[]>> pendingDeadLetters = new ArrayList<>();
    private final Map<String, InFlight> inFlight = new HashMap<>();
    private boolean pausedForRetry;
    private boolean brokerFailed;
    private Map<TopicPartition, Long> stateTargets = Map.of();
    /** Owned examples partitions and the assignment number that gave each. */
    private final Map<Integer, Long> owned = new HashMap<>();
    private long assignments;
    /** Owned examples partitions whose committed offset has not been read stable yet. */
    private final Set<TopicPartition> unsettled = new HashSet<>();
    /** Positions the consumers must reach before the owned tasks may run (set when an assignment settles). */
    private final Map<TopicPartition, Long> ownerTargets = new HashMap<>();
    private boolean ownershipSettled;
    private int examplesPartitions;
    /** The API's commands, carried out on this thread between polls ({@link TaskCommands}). */
    private final BlockingQueue<Pending> commands = new LinkedBlockingQueue<>();
    /** Set when the loop stops: commands queued from then on are refused at once. */
    private volatile boolean commandsClosed;

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
        this.states = new TaskStates(settings.maxExamplesPerTask(), settings.keptVersions());
        this.retry = new InputRetry(settings.retryInitial(), settings.retryMax(), clock);
        String replica = settings.replicaId();
        AtomicInteger workers = new AtomicInteger();
        this.worker = Executors.newFixedThreadPool(settings.parallelRuns(), r -> {
            Thread t = new Thread(r, "trainer-run-" + groupId + "-" + replica + "-" + workers.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        this.thread = new Thread(this::loop, "trainer-loop-" + groupId + "-" + replica);
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

    /** The state partitions are assigned and the group has given this replica its partitions (maybe none). */
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

    /** A task whose run is in progress (the first by name when several are). */
    public Optional<String> runningTask() {
        return running.stream().sorted().findFirst();
    }

    /** The tasks whose runs are in progress. */
    public Set<String> runningTasks() {
        return running;
    }

    /** The {@code examples} partitions this replica owns now (its tasks are those partitioned there). */
    public Set<Integer> ownedPartitions() {
        return ownership.epochs().keySet();
    }

    private void loop() {
        try {
            runner = loader.load();
            modelLoaded = true;
            checkPlatform();
            decoders = new InputDecoders(kafka.registry());
            String replica = settings.replicaId();
            Map<String, Object> feedbackWriter = new HashMap<>(kafka.transactionalProducerProperties(
                    groupId + "-feedback-" + replica, settings.feedbackTransactionalId()));
            feedbackWriter.put(ProducerConfig.TRANSACTION_TIMEOUT_CONFIG, (int) settings.transactionTimeout().toMillis());
            feedbackProducer = new KafkaProducer<>(feedbackWriter);
            // aborts what a predecessor with this replica id left open
            feedbackProducer.initTransactions();
            Map<String, Object> deadLetters = new HashMap<>(kafka.producerProperties(groupId + "-dlq-" + replica));
            deadLetters.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
            deadLetters.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
            deadLetterProducer = new KafkaProducer<>(deadLetters);
            publisher = new RunPublisher(kafka, groupId + "-publisher-" + replica, settings.publisherTransactionalId(),
                    settings.transactionTimeout(), topics, phases);
            stateConsumer = new KafkaConsumer<>(bytes(kafka.consumerProperties(groupId + "-state-" + replica, null)));
            deadLettered = DeadLetterLog.read(stateConsumer, topics.deadLetters(), Duration.ofSeconds(30));
            assignState();
            Map<String, Object> group = bytes(kafka.consumerProperties(groupId + "-" + replica, groupId));
            group.put(ConsumerConfig.GROUP_INSTANCE_ID_CONFIG, replica);
            group.put(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, (int) settings.sessionTimeout().toMillis());
            group.put(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG,
                    (int) Math.max(100, settings.sessionTimeout().toMillis() / 5));
            // partitions that stay with this replica in a rebalance are not revoked: their runs go on
            group.put(ConsumerConfig.PARTITION_ASSIGNMENT_STRATEGY_CONFIG, CooperativeStickyAssignor.class.getName());
            groupConsumer = new KafkaConsumer<>(group);
            examplesPartitions = partitions(groupConsumer, topics.examples()).size();
            groupConsumer.subscribe(List.of(topics.examples(), topics.feedback()), new Rebalance());
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
            failPendingCommands();
            shutdownWorker();
            closeQuietly(groupConsumer);
            closeQuietly(stateConsumer);
            closeQuietly(feedbackProducer);
            closeQuietly(deadLetterProducer);
            closeQuietly(publisher);
            closeQuietly(decoders);
            if (runner instanceof AutoCloseable closeable && worker.isTerminated()) {
                closeQuietly(closeable);
            }
        }
    }

    /** Bytes in: RecordDecoder tells a registry outage (wait) from a poison record (dead letter). */
    private static Map<String, Object> bytes(Map<String, Object> consumer) {
        Map<String, Object> reading = new HashMap<>(consumer);
        reading.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        reading.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        return reading;
    }

    /**
     * The trainer creates nothing ({@code ingest setup}, as the admin principal, does): its topics
     * must exist and allow what the {@link AccessTable} TRAINER rows give it, and their schemas
     * must be registered; otherwise it stops here with a message naming the principal and what is missing.
     */
    private void checkPlatform() {
        LOG.info("trainer {} replica {} checking Kafka {}", groupId, settings.replicaId(), kafka.describe());
        var names = new AccessTable.Names(topics.prefix(), "", groupId, "");
        KafkaPreflight.check(kafka, AccessTable.topicOperations(AccessTable.Role.TRAINER, names,
                topics.specs().stream().map(TopicSpec::name).toList()), PREFLIGHT_TIMEOUT);
        while (true) {
            try {
                KafkaPreflight.checkSchemas(kafka.registry(), topics.specs());
                retry.succeeded();
                return;
            } catch (RegistryUnavailableException e) {
                if (stopping) {
                    throw e;
                }
                // the registry cannot be reached (no answer): a transient outage, waited out as when reading
                Duration wait = retry.failed("registry unreachable", e);
                metrics.retry("registry unreachable");
                LOG.warn("schemas cannot be checked, the registry is unreachable; checking again in {} ms: {}",
                        wait.toMillis(), e.getMessage());
                try {
                    Thread.sleep(wait.toMillis());
                } catch (InterruptedException interrupted) {
                    Thread.currentThread().interrupt();
                    throw new WakeupException();
                }
            }
        }
    }

    /** Every partition of the topics every replica needs whole, from the beginning. */
    private void assignState() {
        List<TopicPartition> state = new ArrayList<>();
        for (String topic : topics.sharedStateTopics()) {
            state.addAll(partitions(stateConsumer, topic));
        }
        stateConsumer.assign(state);
        stateConsumer.seekToBeginning(state);
        stateTargets = new HashMap<>(stateConsumer.endOffsets(state));
        LOG.info("trainer replica {}: reading {} state partitions up to {}", settings.replicaId(), state.size(),
                stateTargets);
    }

    private static List<TopicPartition> partitions(KafkaConsumer<?, ?> consumer, String topic) {
        List<PartitionInfo> infos = consumer.partitionsFor(topic, Duration.ofSeconds(30));
        if (infos == null || infos.isEmpty()) {
            throw new IllegalStateException("topic " + topic + " has no partitions (does it exist?)");
        }
        return infos.stream().map(i -> new TopicPartition(topic, i.partition())).toList();
    }

    /** The {@code examples} partition of a task: where its owner reads it. */
    private int partitionOf(String task) {
        return TaskPartitioner.partitionOf(task, examplesPartitions);
    }

    private boolean owns(String task) {
        return ownershipSettled && owned.containsKey(partitionOf(task));
    }

    /** Runs on this thread inside {@code groupConsumer.poll}. */
    private final class Rebalance implements ConsumerRebalanceListener {

        @Override
        public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
            drop(partitions, "revoked");
        }

        @Override
        public void onPartitionsLost(Collection<TopicPartition> partitions) {
            drop(partitions, "lost");
        }

        @Override
        public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
            List<TopicPartition> examples = new ArrayList<>();
            List<TopicPartition> feedback = new ArrayList<>();
            for (TopicPartition p : partitions) {
                (p.topic().equals(topics.examples()) ? examples : feedback).add(p);
            }
            long epoch = ++assignments;
            for (TopicPartition p : examples) {
                owned.put(p.partition(), epoch);
                unsettled.add(p);
            }
            if (!examples.isEmpty()) {
                // the tasks' examples are rebuilt from the topic; committed examples offsets only fence
                groupConsumer.seekToBeginning(examples);
                ownershipSettled = false;
            }
            if (!caughtUp && !feedback.isEmpty()) {
                groupConsumer.pause(feedback);
            }
            if (pausedForRetry) {
                groupConsumer.pause(partitions);
            }
            publishOwnership();
            assigned = true;
            LOG.info("trainer replica {}: assigned {}", settings.replicaId(), partitions);
        }

        private void drop(Collection<TopicPartition> partitions, String how) {
            Set<Integer> gone = new HashSet<>();
            for (TopicPartition p : partitions) {
                if (p.topic().equals(topics.examples())) {
                    owned.remove(p.partition());
                    unsettled.remove(p);
                    ownerTargets.remove(p);
                    gone.add(p.partition());
                }
            }
            if (gone.isEmpty()) {
                LOG.info("trainer replica {}: {} {}", settings.replicaId(), how, partitions);
                return;
            }
            for (TaskState state : states.all()) {
                if (gone.contains(partitionOf(state.task()))) {
                    state.forgetExamples();
                }
            }
            inFlight.forEach((task, run) -> {
                // a run that publishes already is left to finish: its transaction commits under the generation
                // that still owned the task, or the group refuses its offsets and nothing is published
                if (gone.contains(run.partition()) && run.stage().compareAndSet(TRAINING, STOPPED)) {
                    LOG.warn("task {}: its partition was {}; the run in progress is abandoned", task, how);
                    run.future().cancel(true);
                }
            });
            publishOwnership();
            LOG.info("trainer replica {}: {} {}", settings.replicaId(), how, partitions);
        }
    }

    private void publishOwnership() {
        ConsumerGroupMetadata group = groupConsumer.groupMetadata();
        ownership = new Ownership(group, Map.copyOf(owned));
    }

    private void pollOnce() {
        resumeAfterBackoff();
        ConsumerRecords<byte[], byte[]> state = stateConsumer.poll(STATE_POLL);
        if (!state.isEmpty()) {
            handleBatch(stateConsumer, state);
        }
        ConsumerRecords<byte[], byte[]> records = groupConsumer.poll(settings.pollTimeout());
        publishOwnership();
        if (!records.isEmpty()) {
            handleBatch(groupConsumer, records);
        }
        if (!caughtUp && !pausedForRetry && reached(stateConsumer, stateTargets)) {
            caughtUp = true;
            Set<TopicPartition> feedback = new HashSet<>(groupConsumer.assignment());
            feedback.removeIf(p -> !p.topic().equals(topics.feedback()));
            groupConsumer.resume(feedback);
            LOG.info("trainer replica {} caught up on the state topics: {} tasks", settings.replicaId(),
                    states.all().size());
        }
        settleOwnership();
        collectFinishedRuns();
        runCommands();
        // no run while reading is held up: the state may miss records, and publishing needs the registry too
        if (caughtUp && ownershipSettled && !pausedForRetry) {
            startDueRuns();
        }
    }

    /**
     * Once the committed offsets of newly owned examples partitions are stable (a previous owner's publish
     * transaction, which carried them, is committed or aborted), the adapters and checkpoints are read to
     * their end and the examples partitions to theirs: only then are the tasks' version numbers known.
     */
    private void settleOwnership() {
        if (ownershipSettled || pausedForRetry) {
            return;
        }
        if (!unsettled.isEmpty()) {
            Set<TopicPartition> settling = Set.copyOf(unsettled);
            try {
                // read_committed: waits while a transaction holds pending offsets of these partitions
                groupConsumer.committed(settling, SETTLE_ATTEMPT);
            } catch (org.apache.kafka.common.errors.TimeoutException e) {
                LOG.info("trainer replica {}: committed offsets of {} not stable yet (an open transaction of the "
                        + "previous owner); waiting", settings.replicaId(), settling);
                return;
            }
            ownerTargets.putAll(groupConsumer.endOffsets(settling));
            List<TopicPartition> versions = new ArrayList<>(partitions(stateConsumer, topics.adapters()));
            versions.addAll(partitions(stateConsumer, topics.checkpoints()));
            ownerTargets.putAll(stateConsumer.endOffsets(versions));
            unsettled.removeAll(settling);
        }
        for (Map.Entry<TopicPartition, Long> target : ownerTargets.entrySet()) {
            TopicPartition p = target.getKey();
            KafkaConsumer<byte[], byte[]> consumer = p.topic().equals(topics.examples()) ? groupConsumer : stateConsumer;
            if (consumer.position(p) < target.getValue()) {
                return;
            }
        }
        ownerTargets.clear();
        ownershipSettled = true;
        states.all().stream().filter(s -> owned.containsKey(partitionOf(s.task())))
                .forEach(TaskState::markUsedUpToServing);
        LOG.info("trainer replica {}: owns examples partitions {}", settings.replicaId(), owned.keySet());
    }

    private static boolean reached(KafkaConsumer<byte[], byte[]> consumer, Map<TopicPartition, Long> targets) {
        for (Map.Entry<TopicPartition, Long> target : targets.entrySet()) {
            if (consumer.position(target.getKey()) < target.getValue()) {
                return false;
            }
        }
        return true;
    }

    /**
     * Handles a batch in order. A transient failure stops it at the failed record: every partition
     * goes back to its first record not handled, and reading pauses for the backoff. The feedback
     * handled is committed with the examples it made, in one transaction with its offsets; if that
     * transaction fails, the batch is read again (the examples it makes keep their keys, so a second
     * conversion replaces the first).
     */
    private void handleBatch(KafkaConsumer<byte[], byte[]> consumer, ConsumerRecords<byte[], byte[]> records) {
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
            commitFeedback(feedbackDone);
        } catch (WakeupException e) {
            throw e;
        } catch (WriteUnavailableException | KafkaException e) {
            // not acknowledged: nothing of this batch's feedback counts as done; state records are re-applied as is
            abortFeedback();
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
        stateConsumer.pause(stateConsumer.assignment());
        groupConsumer.pause(groupConsumer.assignment());
        pausedForRetry = true;
        metrics.retry(what);
        LOG.warn("inputs paused for {} ms, nothing skipped: {}: {}", wait.toMillis(), what, transientFailure.getMessage());
    }

    /**
     * Commits the examples made from feedback with the feedback's offsets, in the group, in one transaction.
     * A fenced producer (another process runs with this replica id) cannot go on: the loop stops.
     */
    private void commitFeedback(Map<TopicPartition, OffsetAndMetadata> feedbackDone) {
        if (feedbackDone.isEmpty() && !feedbackTransactionOpen) {
            return;
        }
        beginFeedbackTransaction();
        try {
            if (!feedbackDone.isEmpty()) {
                feedbackProducer.sendOffsetsToTransaction(feedbackDone, groupConsumer.groupMetadata());
            }
            feedbackProducer.commitTransaction();
            feedbackTransactionOpen = false;
        } catch (ProducerFencedException | InvalidProducerEpochException | OutOfOrderSequenceException
                 | AuthorizationException e) {
            feedbackTransactionOpen = false;
            throw new IllegalStateException("replica " + settings.replicaId() + ": the feedback producer ("
                    + settings.feedbackTransactionalId() + ") cannot continue (another process with this replica id?): "
                    + e, e);
        }
    }

    private void beginFeedbackTransaction() {
        if (!feedbackTransactionOpen) {
            feedbackProducer.beginTransaction();
            feedbackTransactionOpen = true;
        }
    }

    private void abortFeedback() {
        if (!feedbackTransactionOpen) {
            return;
        }
        feedbackTransactionOpen = false;
        try {
            feedbackProducer.abortTransaction();
        } catch (ProducerFencedException | InvalidProducerEpochException e) {
            throw new IllegalStateException("replica " + settings.replicaId() + ": the feedback producer was fenced: "
                    + e, e);
        }
    }

    private void resumeAfterBackoff() {
        if (!pausedForRetry || retry.waiting()) {
            return;
        }
        stateConsumer.resume(stateConsumer.assignment());
        Set<TopicPartition> resume = new HashSet<>(groupConsumer.assignment());
        if (!caughtUp) {
            resume.removeIf(p -> p.topic().equals(topics.feedback()));
        }
        groupConsumer.resume(resume);
        pausedForRetry = false;
    }

    private void awaitWritten(List<Future<RecordMetadata>> writes) {
        if (writes.isEmpty()) {
            return;
        }
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

    private void handle(ConsumerRecord<byte[], byte[]> record, List<Future<RecordMetadata>> writes) {
        String topic = record.topic();
        String key = record.key() == null ? null : new String(record.key(), StandardCharsets.UTF_8);
        RecordDecoder<?> decoder = decoders.of(topic, topics);
        Decoded<?> decoded = decoder.decode(topic, record.headers(), record.value());
        if (decoded instanceof Decoded.Poison<?> poison) {
            if (topic.equals(topics.adapters()) || topic.equals(topics.checkpoints()) || topic.equals(topics.history())) {
                VersionHeader.read(record.headers()).ifPresent(v -> {
                    if (key != null) {
                        // history keys are <task>/<version> and a checkpoint's pieces <task>/resume/<i>: the task part
                        states.task(ExampleKey.parse(key).map(ExampleKey::task).orElse(key)).versionSeen(v);
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
                handle((Feedback) value);
            }
        } else if (topic.equals(topics.history())) {
            applyHistory(key, (AdapterVersion) value);
        } else if (topic.equals(topics.controls())) {
            TaskControl control = (TaskControl) value;
            states.task(control == null ? key : control.getTask()).control(control);
        } else if (topic.equals(topics.runs())) {
            if (value != null) {
                TrainingRun run = (TrainingRun) value;
                states.task(run.getTask()).run(run);
            }
        }
    }

    /** A record of {@code adapter-history}: a kept version, or the tombstone of one ({@code <task>/<version>}). */
    private void applyHistory(String key, AdapterVersion value) {
        if (value != null) {
            TaskState state = states.task(value.getTask());
            state.versionSeen(value.getVersion());
            state.history().add(value);
            return;
        }
        Optional<ExampleKey> parsed = ExampleKey.parse(key);
        if (parsed.isEmpty()) {
            LOG.warn("{}: a tombstone with key '{}' names no version (expected <task>/<version>), ignored",
                    topics.history(), key);
            return;
        }
        try {
            states.task(parsed.get().task()).history().remove(Integer.parseInt(parsed.get().exampleId()));
        } catch (NumberFormatException e) {
            LOG.warn("{}: a tombstone with key '{}' names no version number, ignored", topics.history(), key);
        }
    }

    // ---- the API's commands (TaskCommands): queued by request threads, carried out here between polls ----

    @Override
    public String examplesTopic() {
        return topics.examples();
    }

    @Override
    public String groupId() {
        return groupId;
    }

    @Override
    public String replicaId() {
        return settings.replicaId();
    }

    /** A queued command, and how to refuse it when the loop stops before carrying it out. */
    private record Pending(Runnable command, java.util.function.Consumer<RuntimeException> refuse) {
    }

    /**
     * Queues {@code command} for the loop's thread; the future completes with its result (or its refusal) after
     * the poll in progress, so at most {@link LoopSettings#pollTimeout()} later while the loop is idle.
     */
    private <T> CompletableFuture<T> call(Supplier<T> command) {
        CompletableFuture<T> answer = new CompletableFuture<>();
        commands.add(new Pending(() -> {
            try {
                answer.complete(command.get());
            } catch (RunPublisher.FatalPublishException e) {
                answer.completeExceptionally(e);
                throw e;
            } catch (RuntimeException e) {
                answer.completeExceptionally(e);
            }
        }, answer::completeExceptionally));
        if (commandsClosed) {
            failPendingCommands();
        }
        return answer;
    }

    private void runCommands() {
        for (Pending pending = commands.poll(); pending != null; pending = commands.poll()) {
            pending.command().run();
        }
    }

    /** The loop stopped: queued commands are refused with that, not left waiting. */
    private void failPendingCommands() {
        commandsClosed = true;
        String why = "the trainer loop of replica " + settings.replicaId() + " has stopped"
                + (failure == null ? "" : ": " + failure.getMessage());
        for (Pending pending = commands.poll(); pending != null; pending = commands.poll()) {
            pending.refuse().accept(new CommandRefused(CommandRefused.Kind.UNAVAILABLE, null, why));
        }
    }

    @Override
    public CompletableFuture<List<TaskView>> tasks() {
        return call(() -> {
            return states.all().stream().filter(s -> s.template().isPresent()).map(this::view).toList();
        });
    }

    @Override
    public CompletableFuture<TaskDetail> task(String task) {
        return call(() -> {
            TaskState state = known(task);
            int serving = state.serving().map(AdapterVersion::getVersion).orElse(0);
            List<VersionView> versions = new ArrayList<>();
            state.history().all().forEach(v -> versions.add(VersionView.of(v, v.getVersion() == serving)));
            state.serving().filter(v -> state.history().version(v.getVersion()).isEmpty())
                    .ifPresent(v -> versions.add(VersionView.of(v, true)));
            versions.sort(java.util.Comparator.comparingInt(VersionView::version));
            return new TaskDetail(view(state), versions, state.recentRuns().stream().map(RunView::of).toList());
        });
    }

    @Override
    public CompletableFuture<TriggerResult> trigger(String task) {
        return call(() -> {
            TaskState state = owned(task);
            if (state.paused()) {
                throw new CommandRefused(CommandRefused.Kind.CONFLICT, task, "task '" + task + "' is paused ("
                        + state.control().map(TaskControl::getReason).orElse("") + "); resume it first");
            }
            InFlight running = inFlight.get(task);
            if (running != null) {
                return new TriggerResult(task, "running", running.runId());
            }
            if (state.exampleCount() == 0) {
                throw new CommandRefused(CommandRefused.Kind.CONFLICT, task, "task '" + task
                        + "' has no examples to train on");
            }
            state.requestRun("asked for through the API");
            if (caughtUp && ownershipSettled && !pausedForRetry) {
                startDueRuns();
            }
            InFlight started = inFlight.get(task);
            return started == null ? new TriggerResult(task, "queued", null)
                    : new TriggerResult(task, "started", started.runId());
        });
    }

    @Override
    public CompletableFuture<ControlResult> control(String task, boolean paused, String reason) {
        return call(() -> {
            TaskState state = owned(task);
            TaskControl control = TaskControl.newBuilder().setTask(task).setPaused(paused)
                    .setReason(reason == null ? "" : reason).setReplica(settings.replicaId())
                    .setUpdatedAtMillis(clock.millis()).build();
            try {
                publisher.control(control);
            } catch (RunPublisher.FatalPublishException e) {
                throw e;
            } catch (RuntimeException e) {
                throw new CommandRefused(CommandRefused.Kind.UNAVAILABLE, task, "task '" + task + "': the "
                        + (paused ? "pause" : "resume") + " could not be written to " + topics.controls() + ": "
                        + e.getMessage(), e);
            }
            state.control(control);
            LOG.info("task {}: retraining {} on replica {}{}", task, paused ? "paused" : "resumed",
                    settings.replicaId(), control.getReason().isEmpty() ? "" : ": " + control.getReason());
            return new ControlResult(task, paused, control.getReason(), control.getReplica(),
                    control.getUpdatedAtMillis());
        });
    }

    @Override
    public CompletableFuture<VersionView> rollback(String task, int version, String reason) {
        return call(() -> {
            TaskState state = owned(task);
            if (version < 1) {
                throw new CommandRefused(CommandRefused.Kind.INVALID, task, "version must be 1 or more, got " + version);
            }
            AdapterVersion source = state.history().version(version)
                    .or(() -> state.serving().filter(v -> v.getVersion() == version))
                    .orElseThrow(() -> new CommandRefused(CommandRefused.Kind.NOT_FOUND, task, "task '" + task
                            + "' has no version " + version + " to roll back to; kept versions: "
                            + state.history().all().stream().map(AdapterVersion::getVersion).toList()));
            if (state.serving().filter(v -> v.getVersion() == version).isPresent()) {
                throw new CommandRefused(CommandRefused.Kind.CONFLICT, task, "task '" + task + "': version " + version
                        + " is the serving version already");
            }
            String why = "rollback to v" + version + (reason == null || reason.isBlank() ? "" : ": " + reason);
            return publishAsNextVersion(state, source, RunStatus.ROLLBACK, why, version);
        });
    }

    @Override
    public CompletableFuture<VersionView> importTables(String task, AdapterVersion tables, String reason) {
        return call(() -> {
            TaskState state = owned(task);
            String why = "imported through the API" + (reason == null || reason.isBlank() ? "" : ": " + reason);
            // numbered by publishAsNextVersion; the check wants a version of at least 1 meanwhile
            return publishAsNextVersion(state, AdapterVersion.newBuilder(tables).setVersion(state.nextVersion())
                    .build(), RunStatus.IMPORTED, why, null);
        });
    }

    @Override
    public CompletableFuture<VersionView> importPeft(String task, PeftAdapter peft, String source, String reason) {
        return call(() -> {
            TaskState state = owned(task);
            AdapterCheck model = runner.adapterCheck().orElseThrow(() -> new CommandRefused(
                    CommandRefused.Kind.UNAVAILABLE, task, "task '" + task + "': this replica's runner has no model "
                    + "to check a PEFT adapter against"));
            TaskTemplate template = state.template().orElseThrow();
            AdapterVersion adapter;
            try {
                // numbered, run id and time set by publishAsNextVersion; the checks want a version of at least 1
                adapter = PeftImport.adapter(peft, model, template, state.nextVersion(), "peft-import", clock.millis());
            } catch (PeftFormatException e) {
                throw CommandRefused.invalidPeft(task, e.reason(), "task '" + task + "': the PEFT adapter cannot be "
                        + "imported (" + e.reason() + "): " + e.getMessage(), e);
            }
            String why = "imported from PEFT " + peft.config().peftType() + " adapter " + source
                    + peft.config().baseModelNameOrPath().map(b -> " (base model " + b + ")").orElse("")
                    + " through the API" + (reason == null || reason.isBlank() ? "" : ": " + reason);
            return publishAsNextVersion(state, adapter, RunStatus.IMPORTED, why, null);
        });
    }

    @Override
    public CompletableFuture<AdapterVersion> tables(String task, int version) {
        return call(() -> {
            TaskState state = known(task);
            return state.history().version(version).or(() -> state.serving().filter(v -> v.getVersion() == version))
                    .map(v -> AdapterVersion.newBuilder(v).build())
                    .orElseThrow(() -> new CommandRefused(CommandRefused.Kind.NOT_FOUND, task, "task '" + task
                            + "' has no kept version " + version + "; kept versions: "
                            + state.history().all().stream().map(AdapterVersion::getVersion).toList()));
        });
    }

    /**
     * Publishes {@code tables} (an earlier version's, or imported ones) as the task's next version, through the
     * runs' publish path: checked against the trainer's model ({@link TaskRunner#adapterCheck()}), numbered above
     * every version seen, sealed (signed) by the runner, published with a run record of {@code status} and the
     * task's {@code examples} offsets with the group's metadata in one transaction (so only the owner can), and
     * kept on {@code adapter-history}. On this thread only.
     *
     * @param sourceVersion the earlier version republished (ROLLBACK), or null
     * @throws CommandRefused INVALID when the tables do not fit the model or the template, CONFLICT while a run of the
     *                        task is in progress, NOT_OWNER when the task moved, UNAVAILABLE when it could not be
     *                        published now (nothing was)
     */
    private VersionView publishAsNextVersion(TaskState state, AdapterVersion tables, RunStatus status, String message,
                                             Integer sourceVersion) {
        String task = state.task();
        InFlight running = inFlight.get(task);
        if (running != null) {
            throw new CommandRefused(CommandRefused.Kind.CONFLICT, task, "task '" + task + "': run " + running.runId()
                    + " is in progress; try again when it has ended");
        }
        if (!tables.getTask().equals(task)) {
            throw new CommandRefused(CommandRefused.Kind.INVALID, task, "the tables are of task '" + tables.getTask()
                    + "', not '" + task + "'");
        }
        Optional<AdapterCheck.Refusal> refusal = runner.adapterCheck().flatMap(check -> check.refusal(tables));
        if (refusal.isPresent()) {
            throw new CommandRefused(CommandRefused.Kind.INVALID, task, "task '" + task + "': the tables cannot be "
                    + "published for this trainer's model (" + refusal.get().reason() + "): " + refusal.get().message());
        }
        List<Integer> splits = state.template().map(TaskTemplate::getVirtualTokenSplits).orElse(List.of());
        if (!splits.equals(tables.getVirtualTokenSplits())) {
            throw new CommandRefused(CommandRefused.Kind.INVALID, task, "task '" + task + "': the tables have "
                    + "virtual-token splits " + tables.getVirtualTokenSplits() + ", the task's template " + splits
                    + ": serving would refuse them");
        }
        if (pausedForRetry || publishDegraded != null) {
            throw new CommandRefused(CommandRefused.Kind.UNAVAILABLE, task, "task '" + task + "': not published, "
                    + degraded().orElse("the trainer is waiting out a transient failure") + "; try again");
        }
        int version = state.nextVersion();
        long now = clock.millis();
        String runId = task + "-" + status.name().toLowerCase(java.util.Locale.ROOT) + "-" + UUID.randomUUID();
        AdapterVersion adapter = runner.seal(AdapterVersion.newBuilder(tables).setVersion(version).setRunId(runId)
                .setCreatedAtMillis(now).setSignatureKeyId(null).setSignature(null).build());
        TrainingRun run = TrainingRun.newBuilder().setRunId(runId).setTask(task).setStatus(status)
                .setPublishedVersion(version).setSourceVersion(sourceVersion)
                .setTrainingExamples(tables.getTrainingExamples()).setValidationLoss(tables.getValidationLoss())
                .setMessage(message).setStartedAtMillis(now).setUpdatedAtMillis(now).build();
        int partition = partitionOf(task);
        TopicPartition examples = new TopicPartition(topics.examples(), partition);
        List<Integer> expired = state.history().expiredBy(version);
        try {
            publisher.publish(new RunOutcome.Republished(adapter, run),
                    Map.of(examples, new OffsetAndMetadata(groupConsumer.position(examples))),
                    groupConsumer.groupMetadata(), expired);
        } catch (RunPublisher.TaskLostException e) {
            throw new CommandRefused(CommandRefused.Kind.UNAVAILABLE, task, "task '" + task + "' is moving to another "
                    + "replica; nothing published: " + e.getMessage(), e);
        } catch (RunPublisher.FatalPublishException e) {
            throw e;
        } catch (RuntimeException e) {
            throw new CommandRefused(CommandRefused.Kind.UNAVAILABLE, task, "task '" + task + "': v" + version
                    + " not published, try again: " + e.getMessage(), e);
        }
        state.serving(adapter);
        expired.forEach(state.history()::remove);
        state.history().add(adapter);
        state.run(run);
        LOG.info("task {}: v{} published by replica {}: {}", task, version, settings.replicaId(), message);
        return VersionView.of(adapter, true);
    }

    /** The task, which must have a template. */
    private TaskState known(String task) {
        return states.find(task).filter(s -> s.template().isPresent())
                .orElseThrow(() -> new CommandRefused(CommandRefused.Kind.UNKNOWN_TASK, task, "unknown task '" + task
                        + "': no template for it on " + topics.templates()));
    }

    /** The task, which must be known and owned by this replica, whose ownership has settled. */
    private TaskState owned(String task) {
        if (!caughtUp) {
            throw new CommandRefused(CommandRefused.Kind.UNAVAILABLE, task, "replica " + settings.replicaId()
                    + " is still reading its state topics; try again");
        }
        TaskState state = known(task);
        int partition = partitionOf(task);
        if (!owned.containsKey(partition)) {
            throw CommandRefused.notOwner(task, partition, settings.replicaId());
        }
        if (!ownershipSettled) {
            throw new CommandRefused(CommandRefused.Kind.UNAVAILABLE, task, "replica " + settings.replicaId()
                    + " is still taking over examples partition " + partition + "; try again");
        }
        return state;
    }

    private TaskView view(TaskState state) {
        String task = state.task();
        boolean here = owned.containsKey(partitionOf(task));
        Integer serving = state.serving().map(AdapterVersion::getVersion).orElse(null);
        String pauseReason = state.paused() ? state.control().map(TaskControl::getReason).orElse("") : null;
        InFlight running = inFlight.get(task);
        if (!here) {
            return new TaskView(task, partitionOf(task), false, null, serving, null, null, null, state.paused(), pauseReason,
                    null, NextRun.of("NOT_OWNED"));
        }
        List<TrackedExample> fresh = state.newUsableExamples();
        int validation = state.exampleCount() - state.trainingExampleCount();
        NextRun next;
        if (running != null) {
            next = NextRun.of("RUNNING");
        } else if (state.paused()) {
            next = NextRun.of("PAUSED");
        } else if (state.requestedRun().isPresent()) {
            next = NextRun.of("DUE");
        } else {
            next = RetrainingTrigger.estimate(fresh.size(),
                    fresh.stream().mapToLong(TrackedExample::timestampMillis).min(),
                    state.template().orElseThrow().getRetraining(), clock.millis());
        }
        return new TaskView(task, partitionOf(task), true, settings.replicaId(), serving, state.trainingExampleCount(), validation,
                fresh.size(),
                state.paused(), pauseReason, running == null ? null : running.runId(), next);
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

    private void handle(Feedback feedback) {
        metrics.feedback(feedback.getVerdict().name());
        FeedbackOutcome outcome = FeedbackConversion.convert(feedback, states.task(feedback.getTask()).template(),
                clock.millis());
        if (outcome instanceof FeedbackOutcome.NewExample made) {
            LabelledExample example = made.example();
            String key = ExampleKey.of(example).toString();
            try {
                // in the batch's feedback transaction; partitioned on the task, so it reaches the task's owner
                beginFeedbackTransaction();
                feedbackProducer.send(new ProducerRecord<>(topics.examples(), key, example));
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

    /** Starts due runs of owned tasks, oldest waiting example first, while a run slot is free. */
    private void startDueRuns() {
        while (inFlight.size() < settings.parallelRuns()) {
            long now = clock.millis();
            // each task's examples are scanned once: the due check and the oldest waiting example
            TaskState state = null;
            String why = null;
            long oldest = Long.MAX_VALUE;
            for (TaskState s : states.all()) {
                if (inFlight.containsKey(s.task()) || !owns(s.task()) || s.paused()) {
                    continue;
                }
                Optional<String> reason = s.requestedRun().or(() -> RetrainingTrigger.due(s, now));
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
            start(state, why);
        }
    }

    private void start(TaskState state, String reason) {
        TaskSnapshot snapshot = state.startRun();
        String task = snapshot.task();
        int partition = partitionOf(task);
        long epoch = owned.get(partition);
        TopicPartition examples = new TopicPartition(topics.examples(), partition);
        // the examples the run covers: this partition up to where it has been read
        Map<TopicPartition, OffsetAndMetadata> covered = Map.of(examples,
                new OffsetAndMetadata(groupConsumer.position(examples)));
        String runId = task + "-" + UUID.randomUUID();
        LOG.info("task {}: starting run {} on replica {}: {}", task, runId, settings.replicaId(), reason);
        metrics.runStarted(task);
        AtomicInteger stage = new AtomicInteger(TRAINING);
        List<Integer> expired = state.history().expiredBy(snapshot.nextVersion());
        Future<Finished> future = worker.submit(() -> execute(snapshot, runId, reason, covered, partition, epoch,
                stage, expired));
        inFlight.put(task, new InFlight(future, runId, partition, epoch, stage));
        running = Set.copyOf(inFlight.keySet());
    }

    /** Whether this replica still owns the examples partition under the assignment a run started with. */
    private boolean stillOwns(int partition, long epoch) {
        Long now = ownership.epochs().get(partition);
        return now != null && now == epoch;
    }

    /**
     * On a worker thread: the run, then its outcome published. A publication that fails may still
     * have committed (a commit whose answer was lost), so its version counts as taken.
     *
     * @throws RunPublisher.FatalPublishException when this replica's producer is fenced: the loop stops
     */
    private Finished execute(TaskSnapshot snapshot, String runId, String why,
                             Map<TopicPartition, OffsetAndMetadata> covered, int partition, long epoch,
                             AtomicInteger stage, List<Integer> expired) {
        long started = clock.millis();
        RunOutcome outcome;
        int attempted = 0;
        try {
            TrainingRun start = TrainingRun.newBuilder().setRunId(runId).setTask(snapshot.task())
                    .setStatus(RunStatus.STARTED).setMessage("started on replica " + settings.replicaId() + ": " + why)
                    .setStartedAtMillis(started).setUpdatedAtMillis(started).build();
            try {
                publisher.progress(start);
            } catch (RunPublisher.FatalPublishException e) {
                throw e;
            } catch (RuntimeException e) {
                LOG.warn("task {}: start of run {} not recorded: {}", snapshot.task(), runId, e.toString());
            }
            phases.reached(RunPhase.RUN_STARTED, snapshot.task(), 0);
            outcome = runner.run(snapshot, runId, TaskRunner.Progress.of(progress -> {
                metrics.progress(snapshot.task(), progress);
                try {
                    publisher.progress(progress);
                } catch (RunPublisher.FatalPublishException e) {
                    throw e;
                } catch (RuntimeException e) {
                    LOG.warn("task {}: progress of run {} not recorded: {}", snapshot.task(), runId, e.toString());
                }
            }, running -> {
                // only the owner writes the task's checkpoint: a replica that lost the task stops here
                if (!stillOwns(partition, epoch)) {
                    throw new RunPublisher.TaskLostException("task " + snapshot.task() + ": moved to another replica "
                            + "during the run; its checkpoint not written", null);
                }
                try {
                    publisher.checkpoint(running);
                } catch (RunPublisher.FatalPublishException | RunPublisher.TaskLostException e) {
                    throw e;
                } catch (RuntimeException e) {
                    LOG.warn("task {}: checkpoint of run {} not written: {}", snapshot.task(), runId, e.toString());
                }
            }));
            if (!stillOwns(partition, epoch)) {
                throw new RunPublisher.TaskLostException("task " + snapshot.task() + ": moved to another replica "
                        + "during the run; nothing published", null);
            }
            if (!stage.compareAndSet(TRAINING, PUBLISHING)) {
                throw new IllegalStateException("task " + snapshot.task() + ": the trainer is stopping; run " + runId
                        + " not published");
            }
            if (outcome instanceof RunOutcome.Published published) {
                attempted = published.adapter().getVersion();
            }
            publishUntilDone(outcome, covered, partition, epoch, expired);
        } catch (RunPublisher.FatalPublishException e) {
            LOG.error("task {}: run {}: {}", snapshot.task(), runId, e.getMessage());
            throw e;
        } catch (RuntimeException e) {
            boolean lost = e instanceof RunPublisher.TaskLostException || !stillOwns(partition, epoch);
            String message = lost
                    ? "abandoned on replica " + settings.replicaId() + ": the task moved to another replica, which "
                            + "runs it again from the last checkpoint (" + e.getMessage() + ")"
                    : "task '" + snapshot.task() + "': " + e.getMessage();
            if (lost) {
                LOG.warn("task {}: run {} {}", snapshot.task(), runId, message);
            } else {
                LOG.error("task {}: run {} failed: {}", snapshot.task(), runId, e.toString(), e);
            }
            outcome = new RunOutcome.Failed(TrainingRun.newBuilder().setRunId(runId).setTask(snapshot.task())
                    .setStatus(RunStatus.FAILED).setMessage(message)
                    .setStartedAtMillis(started).setUpdatedAtMillis(clock.millis()).build());
            try {
                publisher.publish(outcome);
            } catch (RunPublisher.FatalPublishException fatal) {
                throw fatal;
            } catch (RuntimeException again) {
                LOG.error("task {}: the FAILED record of run {} could not be written either: {}", snapshot.task(), runId,
                        again.toString());
            }
        }
        metrics.runEnded(snapshot.task(), outcome, Duration.ofMillis(clock.millis() - started));
        return new Finished(outcome, attempted);
    }

    /**
     * Publishes the outcome with the covered offsets, fenced by the group metadata of the latest poll, again
     * and again after a backoff while the transaction is aborted for a transient reason (the registry or the
     * broker out of reach, or a rebalance that left the task here but moved the generation on): the run's work
     * is not thrown away and nothing is skipped. Gives up when the task moved, the producer is fenced or the
     * loop stops.
     */
    private void publishUntilDone(RunOutcome outcome, Map<TopicPartition, OffsetAndMetadata> covered, int partition,
                                  long epoch, List<Integer> expired) {
        InputRetry publishing = new InputRetry(settings.retryInitial(), settings.retryMax(), clock);
        while (true) {
            Ownership now = ownership;
            Long held = now.epochs().get(partition);
            if (held == null || held != epoch) {
                publishDegraded = null;
                throw new RunPublisher.TaskLostException("task " + outcome.run().getTask() + ": moved to another "
                        + "replica before its run was published", null);
            }
            try {
                publisher.publish(outcome, covered, now.group(), expired);
                publishDegraded = null;
                return;
            } catch (RunPublisher.FatalPublishException e) {
                publishDegraded = null;
                throw e;
            } catch (RuntimeException e) {
                if (stopping || Thread.currentThread().isInterrupted()) {
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

    /**
     * Applies what finished runs published. A fenced publisher stops the loop (liveness DOWN): another process
     * runs with this replica's transactional id, and this one must not go on as if it could publish.
     */
    private void collectFinishedRuns() {
        for (var it = inFlight.entrySet().iterator(); it.hasNext(); ) {
            Map.Entry<String, InFlight> entry = it.next();
            Future<Finished> future = entry.getValue().future();
            if (!future.isDone()) {
                continue;
            }
            it.remove();
            if (future.isCancelled()) {
                continue;
            }
            try {
                Finished finished = future.get();
                RunOutcome outcome = finished.outcome();
                TaskState state = states.task(outcome.run().getTask());
                state.versionSeen(finished.attemptedVersion());
                if (outcome instanceof RunOutcome.Published published) {
                    state.serving(published.adapter());
                    state.checkpoint(published.checkpoint());
                    state.history().expiredBy(published.adapter().getVersion()).forEach(state.history()::remove);
                    state.history().add(published.adapter());
                }
                state.run(outcome.run());
                LOG.info("task {}: run {} ended {}: {}", outcome.run().getTask(), outcome.run().getRunId(),
                        outcome.run().getStatus(), outcome.run().getMessage());
            } catch (ExecutionException e) {
                if (e.getCause() instanceof RunPublisher.FatalPublishException fatal) {
                    throw fatal;
                }
                LOG.error("run of task {} ended with an error: {}", entry.getKey(), e.getCause().toString(), e.getCause());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        running = Set.copyOf(inFlight.keySet());
    }

    /**
     * Interrupts the runs that train; lets a run that publishes finish its transaction (an interrupted commit
     * would abort a version that was done), within the grace period.
     */
    private void shutdownWorker() {
        inFlight.values().forEach(run -> {
            if (run.stage().compareAndSet(TRAINING, STOPPED)) {
                run.future().cancel(true);
            }
        });
        worker.shutdown();
        try {
            if (!worker.awaitTermination(SHUTDOWN_GRACE.toMillis(), TimeUnit.MILLISECONDS)) {
                worker.shutdownNow();
                LOG.warn("the runs of tasks {} did not stop within {}; the model is left open", running, SHUTDOWN_GRACE);
            }
        } catch (InterruptedException e) {
            worker.shutdownNow();
            Thread.currentThread().interrupt();
        }
    }

    /** Stops the loop (runs in progress are interrupted at their next epoch) and waits for the thread. */
    @Override
    public void close() {
        stopping = true;
        KafkaConsumer<byte[], byte[]> group = groupConsumer;
        if (group != null) {
            group.wakeup();
        }
        KafkaConsumer<byte[], byte[]> state = stateConsumer;
        if (state != null) {
            state.wakeup();
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
            // bounded: a fenced or cut-off client would otherwise wait out its default (30 s, or for ever)
            if (closeable instanceof KafkaConsumer<?, ?> consumer) {
                consumer.close(CloseOptions.timeout(CLIENT_CLOSE));
            } else if (closeable instanceof KafkaProducer<?, ?> producer) {
                producer.close(CLIENT_CLOSE);
            } else {
                closeable.close();
            }
        } catch (Exception e) {
            LOG.warn("closing {}: {}", closeable.getClass().getSimpleName(), e.toString());
        }
    }
}

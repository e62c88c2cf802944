package io.tunestream.trainer.loop;

import io.tunestream.schemas.AdapterVersion;
import io.tunestream.schemas.ExampleKey;
import io.tunestream.schemas.TaskControl;
import io.tunestream.schemas.TrainingRun;
import io.tunestream.schemas.kafka.KafkaClientConfig;
import io.tunestream.trainer.run.RunOutcome;
import io.tunestream.schemas.kafka.TaskPartitioner;
import io.tunestream.trainer.run.CheckpointChunks;
import io.tunestream.trainer.run.ExactCheckpoint;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.config.TopicConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.clients.consumer.CommitFailedException;
import org.apache.kafka.clients.consumer.ConsumerGroupMetadata;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.AuthorizationException;
import org.apache.kafka.common.errors.FencedInstanceIdException;
import org.apache.kafka.common.errors.InterruptException;
import org.apache.kafka.common.errors.OutOfOrderSequenceException;
import org.apache.kafka.common.errors.ProducerFencedException;

/**
 * Writes what runs produce with a transactional producer: a published adapter, its checkpoint and
 * the PUBLISHED run record in ONE transaction (read_committed readers see all three or none);
 * progress and other outcomes as single-record transactions. Used by the run worker threads; one
 * transaction at a time (the methods are synchronized, so parallel runs publish one after another).
 *
 * <p>Fencing (KIP-447): a published version's transaction also commits, in the replica's consumer
 * group, the offsets of the {@code examples} partition the run covered, with the group metadata
 * the consumer had when it last polled. A replica that lost the task in a rebalance has an older
 * generation: the broker refuses the offsets and the whole transaction is aborted
 * ({@link TaskLostException}), so only the task's owner can publish a version of it.
 *
 * <p>The transactional id is the replica's own and the same at every start of it, so a transaction left
 * open by a replica that died between its sends and its commit is aborted when it starts again
 * ({@code initTransactions}): a half-published version is never seen. Adapter and checkpoint records
 * carry their version in a header ({@link VersionHeader}).
 */
public final class RunPublisher implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(RunPublisher.class);

    private final KafkaProducer<String, SpecificRecord> producer;
    private final TrainerTopics topics;
    private final RunPhase.Listener phases;
    /** The largest checkpoint record the topic and the producer take. */
    private final int checkpointRecordBytes;

    /**
     * @param transactionTimeout how long the broker keeps a transaction of this producer open before aborting it
     *                           (when this replica died and does not come back)
     */
    public RunPublisher(KafkaClientConfig kafka, String clientId, String transactionalId, Duration transactionTimeout,
                        TrainerTopics topics, RunPhase.Listener phases) {
        this.topics = Objects.requireNonNull(topics, "topics");
        this.phases = Objects.requireNonNull(phases, "phases");
        Map<String, Object> properties = new HashMap<>(kafka.transactionalProducerProperties(clientId, transactionalId));
        properties.put(ProducerConfig.TRANSACTION_TIMEOUT_CONFIG, (int) transactionTimeout.toMillis());
        this.checkpointRecordBytes = checkpointRecordBytes(kafka, topics.checkpoints(),
                Integer.parseInt(String.valueOf(properties.getOrDefault(ProducerConfig.MAX_REQUEST_SIZE_CONFIG,
                        1024 * 1024))));
        this.producer = new KafkaProducer<>(properties);
        try {
            producer.initTransactions();
        } catch (RuntimeException e) {
            producer.close();
            throw e;
        }
    }

    /**
     * The largest record of {@code topic}: its {@code max.message.bytes}, or the producer's {@code max.request.size}
     * when smaller. Read once at start: checkpoints are split into pieces of this size.
     */
    static int checkpointRecordBytes(KafkaClientConfig kafka, String topic, int producerLimit) {
        var resource = new ConfigResource(ConfigResource.Type.TOPIC, topic);
        try (Admin admin = Admin.create(kafka.adminProperties())) {
            Config config = admin.describeConfigs(List.of(resource)).all().get(30, TimeUnit.SECONDS).get(resource);
            int topicLimit = Integer.parseInt(config.get(TopicConfig.MAX_MESSAGE_BYTES_CONFIG).value());
            int limit = Math.min(topicLimit, producerLimit);
            LOG.info("checkpoints are written in records of at most {} bytes (topic {} max.message.bytes {}, producer "
                    + "max.request.size {})", limit, topic, topicLimit, producerLimit);
            return limit;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while reading the config of topic " + topic, e);
        } catch (ExecutionException | TimeoutException e) {
            throw new IllegalStateException("cannot read max.message.bytes of topic " + topic + " (the trainer needs "
                    + "DescribeConfigs on it): " + e.getMessage(), e);
        }
    }

    /** A STARTED or RUNNING record of a run in progress. */
    public synchronized void progress(TrainingRun run) {
        inTransaction(run.getTask(), () -> send(topics.runs(), run.getTask(), run, 0));
    }

    /**
     * A running run's checkpoint (pieces of its exact state, then the head), atomically: a reader never sees a head
     * without its pieces. Not fenced by the group (no offsets): the caller writes only while it owns the task.
     */
    public synchronized void checkpoint(ExactCheckpoint running) {
        String task = running.head().getTask();
        inTransaction(task, () -> sendCheckpoint(task, CheckpointChunks.records(running, checkpointRecordBytes),
                running.head().getVersion()));
    }

    /**
     * Everything the outcome publishes, atomically.
     *
     * @throws FatalPublishException when this producer can never publish again
     * @throws IllegalStateException when the transaction was aborted (nothing published; the registry or the
     *                               broker could not be reached): publishing the same outcome again is safe
     */
    public void publish(RunOutcome outcome) {
        publish(outcome, Map.of(), null);
    }

    /**
     * Everything the outcome publishes and, with a group metadata, the offsets of the examples it covered,
     * atomically.
     *
     * @param covered  offsets to commit in the group with the outcome (empty: none)
     * @param group    the consumer's group metadata, read on the polling thread; null when {@code covered} is empty
     * @throws TaskLostException    when the group refused the offsets (this replica no longer owns the task)
     * @throws FatalPublishException when this producer can never publish again
     * @throws IllegalStateException when the transaction was aborted for a transient reason
     */
    public void publish(RunOutcome outcome, Map<TopicPartition, OffsetAndMetadata> covered,
                        ConsumerGroupMetadata group) {
        publish(outcome, covered, group, List.of());
    }

    /**
     * Everything the outcome publishes (a published or republished adapter also goes to {@code adapter-history},
     * keyed {@code <task>/<version>}), the tombstones of the task's {@code expired} history versions (those beyond
     * the newest kept) and, with a group metadata, the offsets of the examples it covered, atomically.
     *
     * @throws TaskLostException    when the group refused the offsets (this replica no longer owns the task)
     * @throws FatalPublishException when this producer can never publish again
     * @throws IllegalStateException when the transaction was aborted for a transient reason
     */
    public synchronized void publish(RunOutcome outcome, Map<TopicPartition, OffsetAndMetadata> covered,
                                     ConsumerGroupMetadata group, List<Integer> expired) {
        String task = outcome.run().getTask();
        inTransaction(task, () -> {
            if (!covered.isEmpty()) {
                producer.sendOffsetsToTransaction(covered, Objects.requireNonNull(group, "group metadata"));
            }
            int version = 0;
            AdapterVersion adapter = null;
            if (outcome instanceof RunOutcome.Published published) {
                adapter = published.adapter();
                sendCheckpoint(task, published.checkpointRecords(checkpointRecordBytes), adapter.getVersion());
            } else if (outcome instanceof RunOutcome.Republished republished) {
                adapter = republished.adapter();
            }
            if (adapter != null) {
                version = adapter.getVersion();
                send(topics.adapters(), task, adapter, version);
                send(topics.history(), historyKey(task, version), adapter, version);
                for (int old : expired) {
                    producer.send(new ProducerRecord<>(topics.history(), historyKey(task, old), null));
                }
            }
            send(topics.runs(), task, outcome.run(), 0);
            // on the broker, not only in the producer's buffer (the commit would flush them anyway): a crash
            // from here on leaves an open transaction that readers must never see
            producer.flush();
            phases.reached(RunPhase.PUBLISH_SENT, task, version);
        });
    }

    /** Pieces of the exact state, tombstones of stale pieces, then the head: in this order, on the task's partition. */
    private void sendCheckpoint(String task, List<CheckpointChunks.Keyed> records, int version) {
        int partition = TaskPartitioner.partitionOf(task, producer.partitionsFor(topics.checkpoints()).size());
        for (CheckpointChunks.Keyed record : records) {
            ProducerRecord<String, SpecificRecord> checkpoint = new ProducerRecord<>(topics.checkpoints(), partition,
                    record.key(), record.value());
            if (version > 0) {
                VersionHeader.add(checkpoint.headers(), version);
            }
            producer.send(checkpoint);
        }
    }

    /** A task's control record (paused or not), in a transaction of its own. */
    public synchronized void control(TaskControl control) {
        inTransaction(control.getTask(), () -> send(topics.controls(), control.getTask(), control, 0));
    }

    /** The {@code adapter-history} key of a task's version: {@code <task>/<version>}, partitioned on the task. */
    public static String historyKey(String task, int version) {
        return task + ExampleKey.SEPARATOR + version;
    }

    private void send(String topic, String key, SpecificRecord value, int version) {
        ProducerRecord<String, SpecificRecord> record = new ProducerRecord<>(topic, key, value);
        if (version > 0) {
            VersionHeader.add(record.headers(), version);
        }
        producer.send(record);
    }

    /** The producer cannot publish any more (fenced by another trainer, refused by the broker): retrying is useless. */
    public static final class FatalPublishException extends IllegalStateException {
        FatalPublishException(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /** The group refused the run's offsets: another replica owns the task now; nothing was published. */
    public static final class TaskLostException extends IllegalStateException {
        TaskLostException(String message, Throwable cause) {
            super(message, cause);
        }
    }

    private void inTransaction(String task, Runnable sends) {
        producer.beginTransaction();
        try {
            sends.run();
            producer.commitTransaction();
        } catch (CommitFailedException | FencedInstanceIdException e) {
            producer.abortTransaction();
            throw new TaskLostException("task " + task + ": the group refused the run's offsets (the task moved to "
                    + "another replica); nothing published: " + e.getMessage(), e);
        } catch (InterruptException e) {
            // interrupted (a run abandoned or stopped): leave the producer usable, then restore the interrupt
            Thread.interrupted();
            try {
                settle();
            } finally {
                Thread.currentThread().interrupt();
            }
            throw new IllegalStateException("task " + task + ": interrupted while publishing (the transaction was "
                    + "aborted, or completed when the interrupt came during its commit)", e);
        } catch (ProducerFencedException | OutOfOrderSequenceException | AuthorizationException e) {
            // fatal for this producer: another trainer took over the transactional id, or the broker refuses us
            throw new FatalPublishException("task " + task + ": the transactional producer cannot continue: " + e, e);
        } catch (KafkaException e) {
            producer.abortTransaction();
            throw new IllegalStateException("task " + task + ": transaction aborted, nothing published: " + e, e);
        } catch (RuntimeException e) {
            producer.abortTransaction();
            throw e;
        }
    }

    /**
     * Ends the transaction an interrupt left open: aborts it, or, when the interrupt came during the commit (which
     * must then be completed, not aborted), completes the commit.
     */
    private void settle() {
        try {
            producer.abortTransaction();
        } catch (IllegalStateException commitPending) {
            producer.commitTransaction();
        }
    }

    /** Closes the producer, waiting at most 5 s for what it still sends (a fenced producer would wait for ever). */
    @Override
    public void close() {
        producer.close(Duration.ofSeconds(5));
    }
}

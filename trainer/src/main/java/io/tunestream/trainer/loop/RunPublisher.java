package io.tunestream.trainer.loop;

import io.tunestream.schemas.TrainingRun;
import io.tunestream.schemas.kafka.KafkaClientConfig;
import io.tunestream.trainer.run.RunOutcome;
import java.util.Objects;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.errors.AuthorizationException;
import org.apache.kafka.common.errors.OutOfOrderSequenceException;
import org.apache.kafka.common.errors.ProducerFencedException;

/**
 * Writes what runs produce with a transactional producer: a published adapter, its checkpoint and
 * the PUBLISHED run record in ONE transaction (read_committed readers see all three or none);
 * progress and other outcomes as single-record transactions. Used by the run worker thread only.
 *
 * <p>The transactional id is the same at every start of the trainer, so a transaction left open by
 * a trainer that died between its sends and its commit is aborted when the next one starts
 * ({@code initTransactions}): a half-published version is never seen. Adapter and checkpoint records
 * carry their version in a header ({@link VersionHeader}).
 */
public final class RunPublisher implements AutoCloseable {

    private final KafkaProducer<String, SpecificRecord> producer;
    private final TrainerTopics topics;
    private final RunPhase.Listener phases;

    public RunPublisher(KafkaClientConfig kafka, String clientId, String transactionalId, TrainerTopics topics,
                        RunPhase.Listener phases) {
        this.topics = Objects.requireNonNull(topics, "topics");
        this.phases = Objects.requireNonNull(phases, "phases");
        this.producer = new KafkaProducer<>(kafka.transactionalProducerProperties(clientId, transactionalId));
        try {
            producer.initTransactions();
        } catch (RuntimeException e) {
            producer.close();
            throw e;
        }
    }

    /** A STARTED or RUNNING record of a run in progress. */
    public void progress(TrainingRun run) {
        inTransaction(run.getTask(), () -> send(topics.runs(), run.getTask(), run, 0));
    }

    /**
     * Everything the outcome publishes, atomically.
     *
     * @throws FatalPublishException when this producer can never publish again
     * @throws IllegalStateException when the transaction was aborted (nothing published; the registry or the
     *                               broker could not be reached): publishing the same outcome again is safe
     */
    public void publish(RunOutcome outcome) {
        String task = outcome.run().getTask();
        inTransaction(task, () -> {
            int version = 0;
            if (outcome instanceof RunOutcome.Published published) {
                version = published.adapter().getVersion();
                send(topics.adapters(), task, published.adapter(), version);
                send(topics.checkpoints(), task, published.checkpoint(), version);
            }
            send(topics.runs(), task, outcome.run(), 0);
            phases.reached(RunPhase.PUBLISH_SENT, task, version);
        });
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

    private void inTransaction(String task, Runnable sends) {
        producer.beginTransaction();
        try {
            sends.run();
            producer.commitTransaction();
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

    @Override
    public void close() {
        producer.close();
    }
}

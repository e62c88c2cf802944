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
 */
public final class RunPublisher implements AutoCloseable {

    private final KafkaProducer<String, SpecificRecord> producer;
    private final TrainerTopics topics;

    public RunPublisher(KafkaClientConfig kafka, String clientId, String transactionalId, TrainerTopics topics) {
        this.topics = Objects.requireNonNull(topics, "topics");
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
        inTransaction(run.getTask(), () -> send(topics.runs(), run.getTask(), run));
    }

    /** Everything the outcome publishes, atomically. */
    public void publish(RunOutcome outcome) {
        String task = outcome.run().getTask();
        inTransaction(task, () -> {
            if (outcome instanceof RunOutcome.Published published) {
                send(topics.adapters(), task, published.adapter());
                send(topics.checkpoints(), task, published.checkpoint());
            }
            send(topics.runs(), task, outcome.run());
        });
    }

    private void send(String topic, String key, SpecificRecord value) {
        producer.send(new ProducerRecord<>(topic, key, value));
    }

    private void inTransaction(String task, Runnable sends) {
        producer.beginTransaction();
        try {
            sends.run();
            producer.commitTransaction();
        } catch (ProducerFencedException | OutOfOrderSequenceException | AuthorizationException e) {
            // fatal for this producer: another trainer took over the transactional id, or the broker refuses us
            throw new IllegalStateException("task " + task + ": the transactional producer cannot continue: " + e, e);
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

package io.tunestream.ingest.http;

import io.tunestream.ingest.jsonl.TransactionalSender;
import java.util.List;
import java.util.function.Supplier;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.clients.producer.Producer;

/**
 * One transactional producer for the server's {@code /templates} and {@code /examples}, kept across
 * requests instead of one per request; its transactions run one request at a time. A send that fails
 * closes it (it may be fenced, or failed for good) and the next one starts a new producer. The owner
 * closes it.
 */
final class SharedTransactions implements AutoCloseable {

    private final Supplier<Producer<String, SpecificRecord>> newProducer;
    private Producer<String, SpecificRecord> producer;

    /** @param newProducer a transactional producer, not yet initialised (a new transactional id each) */
    SharedTransactions(Supplier<Producer<String, SpecificRecord>> newProducer) {
        this.newProducer = newProducer;
    }

    /** Sends {@code records} to {@code topic} in transactions of at most {@code batch} records. */
    synchronized <V extends SpecificRecord> TransactionalSender.Report send(
            String topic, List<TransactionalSender.Outgoing<V>> records, int batch) {
        if (producer == null) {
            Producer<String, SpecificRecord> created = newProducer.get();
            try {
                created.initTransactions();
            } catch (RuntimeException e) {
                created.close();
                throw e;
            }
            producer = created;
        }
        List<TransactionalSender.Outgoing<SpecificRecord>> outgoing = records.stream()
                .map(r -> new TransactionalSender.Outgoing<SpecificRecord>(r.line(), r.key(), r.value())).toList();
        TransactionalSender.Report report = TransactionalSender.onInitialised(producer, topic, batch, null)
                .send(outgoing, null);
        if (!report.complete()) {
            close();
        }
        return report;
    }

    @Override
    public synchronized void close() {
        if (producer != null) {
            producer.close();
            producer = null;
        }
    }
}

package io.tunestream.ingest.jsonl;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.apache.kafka.clients.producer.MockProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;

class TransactionalSenderTest {

    /** A producer whose n-th commit fails. */
    private static final class FailingCommit extends MockProducer<String, String> {
        private final int failingCommit;
        private int commits;

        FailingCommit(int failingCommit) {
            super(true, null, new StringSerializer(), new StringSerializer());
            this.failingCommit = failingCommit;
        }

        @Override
        public void commitTransaction() {
            if (++commits == failingCommit) {
                throw new KafkaException("broker went away");
            }
            super.commitTransaction();
        }
    }

    private static final List<TransactionalSender.Outgoing<String>> LINES = List.of(
            new TransactionalSender.Outgoing<>(1, "k", "a"), new TransactionalSender.Outgoing<>(2, "k", "b"),
            new TransactionalSender.Outgoing<>(4, "k", "c"), new TransactionalSender.Outgoing<>(5, "k", "d"),
            new TransactionalSender.Outgoing<>(7, "k", "e"));

    @Test
    void shouldCommitEveryBatch() {
        FailingCommit producer = new FailingCommit(Integer.MAX_VALUE);

        TransactionalSender.Report report = new TransactionalSender<>(producer, "t", 2, null).send(LINES, null);

        assertThat(report).isEqualTo(new TransactionalSender.Report(5, 0, 0, null));
        assertThat(producer.commitCount()).isEqualTo(3);
        assertThat(producer.history()).extracting(ProducerRecord::value).containsExactly("a", "b", "c", "d", "e");
    }

    @Test
    void shouldAbortTheFailingBatchAndReportExactlyWhichLinesWentOut() {
        FailingCommit producer = new FailingCommit(2);

        TransactionalSender.Report report = new TransactionalSender<>(producer, "t", 2, null).send(LINES, null);

        assertThat(report.sent()).isEqualTo(2);
        assertThat(report.notSentFrom()).isEqualTo(4);
        assertThat(report.notSent()).isEqualTo(3);
        assertThat(report.failure()).hasMessage("broker went away");
        assertThat(producer.transactionAborted()).isTrue();
        assertThat(producer.history()).extracting(ProducerRecord::value).containsExactly("a", "b");
    }
}

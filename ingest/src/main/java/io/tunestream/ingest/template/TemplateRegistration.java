package io.tunestream.ingest.template;

import io.tunestream.ingest.jsonl.TransactionalSender;
import io.tunestream.schemas.TaskTemplate;
import io.tunestream.schemas.Topics;
import io.tunestream.schemas.kafka.KafkaClientConfig;
import io.tunestream.schemas.registry.AvroSerdes;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import java.util.function.Function;
import java.util.function.Supplier;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.common.serialization.StringSerializer;

/** Sends checked templates to {@code task-templates} in one transaction and waits until they are visible. */
public final class TemplateRegistration {

    private TemplateRegistration() {
    }

    /**
     * Sends {@code templates} (all or none) keyed by task, then reads them back as every
     * read_committed consumer will see them: commit markers are written just after
     * commitTransaction returns, so whatever starts next (e.g. {@code examples}) finds them.
     *
     * @throws IllegalStateException if sending fails or they are not visible within {@code timeout}
     */
    public static void register(KafkaClientConfig kafka, List<TaskTemplate> templates, Clock clock, Duration timeout) {
        register(kafka, templates, clock, timeout, () -> TemplateCatalog.fromTopic(kafka, timeout));
    }

    /**
     * As {@link #register(KafkaClientConfig, List, Clock, Duration)}, reading them back from {@code
     * catalog} (e.g. a {@link TemplateCache}'s {@code current}) instead of a consumer per attempt.
     */
    public static void register(KafkaClientConfig kafka, List<TaskTemplate> templates, Clock clock, Duration timeout,
                                Supplier<TemplateCatalog> catalog) {
        register(templates, clock, timeout, records -> {
            try (KafkaProducer<String, TaskTemplate> producer = new KafkaProducer<>(
                    kafka.transactionalProducerProperties("tunestream-ingest-templates",
                            "tunestream-ingest-templates-" + UUID.randomUUID()),
                    new StringSerializer(), AvroSerdes.serializer(kafka.registry()))) {
                return new TransactionalSender<>(producer, Topics.TASK_TEMPLATES.name(), Math.max(1, records.size()),
                        null).send(records, null);
            }
        }, catalog);
    }

    /**
     * Sends {@code templates} with {@code send} (all in one transaction: it is given them all at
     * once) and waits until {@code catalog} shows every one of them.
     *
     * @throws IllegalStateException if sending fails or they are not visible within {@code timeout}
     */
    public static void register(List<TaskTemplate> templates, Clock clock, Duration timeout,
                                Function<List<TransactionalSender.Outgoing<TaskTemplate>>, TransactionalSender.Report> send,
                                Supplier<TemplateCatalog> catalog) {
        var records = templates.stream().map(t -> new TransactionalSender.Outgoing<>(0, t.getTask(), t)).toList();
        TransactionalSender.Report report = send.apply(records);
        if (!report.complete()) {
            throw new IllegalStateException("no template registered: sending to " + Topics.TASK_TEMPLATES.name()
                    + " failed: " + report.failure(), report.failure());
        }
        long deadline = clock.millis() + timeout.toMillis();
        while (true) {
            TemplateCatalog visible = catalog.get();
            if (templates.stream().allMatch(t -> visible.find(t.getTask()).filter(t::equals).isPresent())) {
                return;
            }
            if (clock.millis() > deadline) {
                throw new IllegalStateException("templates sent to " + Topics.TASK_TEMPLATES.name()
                        + " are not visible after " + timeout);
            }
        }
    }
}

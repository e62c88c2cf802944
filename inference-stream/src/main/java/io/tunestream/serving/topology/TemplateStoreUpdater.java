package io.tunestream.serving.topology;

import io.tunestream.schemas.TaskTemplate;
import io.tunestream.schemas.template.TemplateRules;
import io.tunestream.schemas.registry.Decoded;
import io.tunestream.serving.ops.ServingMetrics;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Optional;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.processor.api.RecordMetadata;
import org.apache.kafka.streams.state.KeyValueStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Feeds the global templates store from the compacted {@code task-templates} topic (key: task),
 * reading the raw bytes through a {@link GlobalRecordReader} (waits out registry outages,
 * dead-letters what can never be read). A template whose virtual-token splits do not add up, or that
 * is published under another task's key, or that the serving model cannot build ({@code add_bos} without a BOS
 * token, {@link TemplateRules#problemsOnModel}), is refused (logged with its topic, partition and offset,
 * counted) and not stored, so its task's requests are answered with an error rather than run with a
 * broken prompt. Runs on the global thread, also when the store is restored at start.
 */
final class TemplateStoreUpdater implements Processor<byte[], byte[], Void, Void> {

    private static final Logger LOG = LoggerFactory.getLogger(TemplateStoreUpdater.class);

    private final String storeName;
    private final GlobalRecordReader<TaskTemplate> reader;
    private final ServingMetrics metrics;
    private final boolean modelHasBos;
    private ProcessorContext<Void, Void> context;
    private KeyValueStore<String, TaskTemplate> store;

    TemplateStoreUpdater(String storeName, GlobalRecordReader<TaskTemplate> reader, ServingMetrics metrics,
                         boolean modelHasBos) {
        this.storeName = storeName;
        this.reader = reader;
        this.metrics = metrics;
        this.modelHasBos = modelHasBos;
    }

    @Override
    public void init(ProcessorContext<Void, Void> context) {
        this.context = context;
        store = context.getStateStore(storeName);
    }

    @Override
    public void process(Record<byte[], byte[]> record) {
        RecordMetadata where = context.recordMetadata().orElseThrow();
        String at = where.topic() + "-" + where.partition() + "@" + where.offset();
        Optional<Decoded.Value<TaskTemplate>> decoded = reader.read(record, where);
        if (decoded.isEmpty()) {
            return;
        }
        TaskTemplate template = decoded.get().value();
        if (record.key() == null) {
            refuse("", "key", "task template at " + at + " without a key ignored (the key must be the task name)");
            return;
        }
        String key = new String(record.key(), StandardCharsets.UTF_8);
        if (template == null) {
            store.delete(key);
            LOG.info("template of task {} deleted ({})", key, at);
            return;
        }
        List<String> problems = TemplateRules.problems(template);
        if (!problems.isEmpty()) {
            // the rule ingest checks before sending: a template written past ingest is refused here too
            refuse(key, "rule", "template of task " + key + " at " + at + " ignored: " + String.join("; ", problems));
            return;
        }
        if (!key.equals(template.getTask())) {
            refuse(key, "key", "template of task " + template.getTask() + " at " + at
                    + " ignored: published under key '" + key + "'");
            return;
        }
        List<String> onModel = TemplateRules.problemsOnModel(template, modelHasBos);
        if (!onModel.isEmpty()) {
            refuse(key, "model", "template of task " + key + " at " + at + " ignored: " + String.join("; ", onModel));
            return;
        }
        store.put(key, template);
        LOG.info("template of task {} updated ({})", key, at);
    }

    private void refuse(String task, String reason, String message) {
        LOG.error(message);
        metrics.templateRefused(task, reason);
    }
}

package io.tunestream.serving.topology;

import io.tunestream.schemas.TaskTemplate;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Feeds the global templates store from the compacted {@code task-templates} topic (key: task).
 * A template whose virtual-token splits do not add up is logged and not stored, so its task's
 * requests are answered with an error rather than run with a broken prompt.
 */
final class TemplateStoreUpdater implements Processor<String, TaskTemplate, Void, Void> {

    private static final Logger LOG = LoggerFactory.getLogger(TemplateStoreUpdater.class);

    private final String storeName;
    private KeyValueStore<String, TaskTemplate> store;

    TemplateStoreUpdater(String storeName) {
        this.storeName = storeName;
    }

    @Override
    public void init(ProcessorContext<Void, Void> context) {
        store = context.getStateStore(storeName);
    }

    @Override
    public void process(Record<String, TaskTemplate> record) {
        TaskTemplate template = record.value();
        if (record.key() == null) {
            LOG.error("task template without a key ignored (the key must be the task name)");
            return;
        }
        if (template == null) {
            store.delete(record.key());
            LOG.info("template of task {} deleted", record.key());
            return;
        }
        int splits = template.getVirtualTokenSplits().stream().mapToInt(Integer::intValue).sum();
        if (splits != template.getTotalVirtualTokens()) {
            LOG.error("template of task {} ignored: virtualTokenSplits {} add up to {}, not totalVirtualTokens {}",
                    record.key(), template.getVirtualTokenSplits(), splits, template.getTotalVirtualTokens());
            return;
        }
        if (!record.key().equals(template.getTask())) {
            LOG.error("template of task {} ignored: published under key '{}'", template.getTask(), record.key());
            return;
        }
        store.put(record.key(), template);
        LOG.info("template of task {} updated", record.key());
    }
}

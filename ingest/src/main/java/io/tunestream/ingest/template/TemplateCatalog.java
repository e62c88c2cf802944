package io.tunestream.ingest.template;

import io.tunestream.schemas.TaskTemplate;
import io.tunestream.schemas.kafka.KafkaClientConfig;
import java.time.Duration;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;

/** The task templates known to a command, by task name: from the compacted topic or a file. */
public record TemplateCatalog(Map<String, TaskTemplate> byTask) {

    public TemplateCatalog {
        byTask = Map.copyOf(byTask);
    }

    public static TemplateCatalog of(Collection<TaskTemplate> templates) {
        Map<String, TaskTemplate> byTask = new LinkedHashMap<>();
        templates.forEach(t -> byTask.put(t.getTask(), t));
        return new TemplateCatalog(byTask);
    }

    /**
     * The latest template of every task on {@code task-templates} (deleted ones, with a null
     * value, left out), read from the beginning to the end offsets as of this call.
     *
     * @throws IllegalStateException if the end is not reached within {@code timeout}
     */
    public static TemplateCatalog fromTopic(KafkaClientConfig kafka, Duration timeout) {
        try (TemplateCache cache = new TemplateCache(kafka, timeout)) {
            return cache.current();
        }
    }

    public Optional<TaskTemplate> find(String task) {
        return Optional.ofNullable(byTask.get(task));
    }

    /** "a, b, c", or "none" — for messages about unknown tasks. */
    public String knownTasks() {
        return byTask.isEmpty() ? "none" : String.join(", ", new TreeSet<>(byTask.keySet()));
    }
}

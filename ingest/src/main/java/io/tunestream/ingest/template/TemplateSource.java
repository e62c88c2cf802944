package io.tunestream.ingest.template;

import io.tunestream.schemas.kafka.KafkaClientConfig;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import picocli.CommandLine.Option;

/** Where a command takes task templates from: a file, or else the {@code task-templates} topic. */
public final class TemplateSource {

    @Option(names = "--templates", paramLabel = "FILE",
            description = "Check against the templates of this NeMo YAML/JSON file instead of the task-templates topic.")
    Path file;

    /** The templates to check against. */
    public TemplateCatalog load(KafkaClientConfig kafka, Clock clock, Duration timeout) {
        return file != null ? TemplateCatalog.of(TemplateFile.read(file, clock.millis()))
                : TemplateCatalog.fromTopic(kafka, timeout);
    }
}

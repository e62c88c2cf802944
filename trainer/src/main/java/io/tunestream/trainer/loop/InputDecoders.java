package io.tunestream.trainer.loop;

import io.tunestream.schemas.AdapterCheckpoint;
import io.tunestream.schemas.AdapterVersion;
import io.tunestream.schemas.Feedback;
import io.tunestream.schemas.LabelledExample;
import io.tunestream.schemas.TaskControl;
import io.tunestream.schemas.TaskTemplate;
import io.tunestream.schemas.TrainingRun;
import io.tunestream.schemas.registry.RecordDecoder;
import io.tunestream.schemas.registry.RegistryConfig;

/** One {@link RecordDecoder} per input of the trainer; closed by the loop. */
final class InputDecoders implements AutoCloseable {

    private final RecordDecoder<TaskTemplate> templates;
    private final RecordDecoder<LabelledExample> examples;
    private final RecordDecoder<AdapterVersion> adapters;
    private final RecordDecoder<AdapterCheckpoint> checkpoints;
    private final RecordDecoder<Feedback> feedback;
    private final RecordDecoder<TaskControl> controls;
    private final RecordDecoder<TrainingRun> runs;

    InputDecoders(RegistryConfig registry) {
        templates = RecordDecoder.of(TaskTemplate.class, registry);
        examples = RecordDecoder.of(LabelledExample.class, registry);
        adapters = RecordDecoder.of(AdapterVersion.class, registry);
        checkpoints = RecordDecoder.of(AdapterCheckpoint.class, registry);
        feedback = RecordDecoder.of(Feedback.class, registry);
        controls = RecordDecoder.of(TaskControl.class, registry);
        runs = RecordDecoder.of(TrainingRun.class, registry);
    }

    /** The decoder of {@code topic}'s values. */
    RecordDecoder<?> of(String topic, TrainerTopics topics) {
        if (topic.equals(topics.templates())) {
            return templates;
        }
        if (topic.equals(topics.examples())) {
            return examples;
        }
        if (topic.equals(topics.adapters()) || topic.equals(topics.history())) {
            return adapters;
        }
        if (topic.equals(topics.checkpoints())) {
            return checkpoints;
        }
        if (topic.equals(topics.feedback())) {
            return feedback;
        }
        if (topic.equals(topics.controls())) {
            return controls;
        }
        if (topic.equals(topics.runs())) {
            return runs;
        }
        throw new IllegalArgumentException("the trainer does not read topic " + topic);
    }

    @Override
    public void close() {
        templates.close();
        examples.close();
        adapters.close();
        checkpoints.close();
        feedback.close();
        controls.close();
        runs.close();
    }
}

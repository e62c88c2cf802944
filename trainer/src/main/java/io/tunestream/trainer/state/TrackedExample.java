package io.tunestream.trainer.state;

import io.tunestream.schemas.LabelledExample;
import java.util.Objects;

/**
 * An example as the trainer holds it: the record, the order in which the trainer received it
 * (to tell new examples from used ones) and the Kafka record's timestamp.
 *
 * @param example         the example
 * @param sequence        position in the order of arrival at this trainer (higher is newer)
 * @param timestampMillis the Kafka record's timestamp
 */
public record TrackedExample(LabelledExample example, long sequence, long timestampMillis) {
    public TrackedExample {
        Objects.requireNonNull(example, "example");
    }

    public String id() {
        return example.getExampleId();
    }
}

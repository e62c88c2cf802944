package io.tunestream.serving.serde;

import io.tunestream.schemas.AdapterVersion;
import io.tunestream.schemas.Answer;
import io.tunestream.schemas.InferenceRequest;
import io.tunestream.schemas.TaskTemplate;
import io.tunestream.schemas.registry.AvroSerdes;
import io.tunestream.schemas.registry.RegistryConfig;
import java.util.Objects;
import org.apache.kafka.common.serialization.Serde;

/**
 * The value serdes of the topics the serving topology reads and writes (keys are strings).
 */
public record ServingSerdes(Serde<InferenceRequest> requests, Serde<Answer> answers,
                            Serde<TaskTemplate> templates, Serde<AdapterVersion> adapters) {

    public ServingSerdes {
        Objects.requireNonNull(requests, "requests");
        Objects.requireNonNull(answers, "answers");
        Objects.requireNonNull(templates, "templates");
        Objects.requireNonNull(adapters, "adapters");
    }

    /**
     * Apicurio Registry serdes ({@link AvroSerdes} of the schemas module): values carry the registry's
     * schema id, schemas are resolved per topic ({@code <topic>-value}) and read as the generated records.
     */
    public static ServingSerdes apicurio(RegistryConfig registry) {
        return new ServingSerdes(AvroSerdes.specific(InferenceRequest.class, registry),
                AvroSerdes.specific(Answer.class, registry), AvroSerdes.specific(TaskTemplate.class, registry),
                AvroSerdes.specific(AdapterVersion.class, registry));
    }

    /** Registry-free Avro binary serdes, for topology tests. */
    public static ServingSerdes plainAvro() {
        return new ServingSerdes(
                new AvroBinarySerde<>(InferenceRequest.class, InferenceRequest.getClassSchema()),
                new AvroBinarySerde<>(Answer.class, Answer.getClassSchema()),
                new AvroBinarySerde<>(TaskTemplate.class, TaskTemplate.getClassSchema()),
                new AvroBinarySerde<>(AdapterVersion.class, AdapterVersion.getClassSchema()));
    }
}

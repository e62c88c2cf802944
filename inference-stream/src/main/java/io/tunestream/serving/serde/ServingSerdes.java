package io.tunestream.serving.serde;

import io.apicurio.registry.serde.avro.AvroSerde;
import io.tunestream.schemas.AdapterVersion;
import io.tunestream.schemas.Answer;
import io.tunestream.schemas.InferenceRequest;
import io.tunestream.schemas.TaskTemplate;
import java.util.Map;
import java.util.Objects;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.common.serialization.Serde;

/**
 * The value serdes of the topics the serving topology reads and writes (keys are strings).
 *
 * <p>Until the schemas module ships its Streams serde factory, this is the module's own glue.
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
     * Apicurio Registry serdes: values carry the registry's schema id; schemas are registered on first
     * write (artifact {@code <topic>-value}) and read back as the generated specific records.
     *
     * @param registryApiUrl the registry's v3 API root, e.g. {@code http://127.0.0.1:8080/apis/registry/v3}
     */
    public static ServingSerdes apicurio(String registryApiUrl) {
        Map<String, Object> config = apicurioConfig(registryApiUrl);
        return new ServingSerdes(apicurioSerde(config), apicurioSerde(config), apicurioSerde(config),
                apicurioSerde(config));
    }

    /** The serde configuration of {@link #apicurio}, for plain producers and consumers too. */
    public static Map<String, Object> apicurioConfig(String registryApiUrl) {
        Objects.requireNonNull(registryApiUrl, "registryApiUrl");
        return Map.of(
                "apicurio.registry.url", registryApiUrl,
                "apicurio.registry.auto-register", "true",
                "apicurio.registry.use-specific-avro-reader", "true");
    }

    private static <T extends SpecificRecord> Serde<T> apicurioSerde(Map<String, Object> config) {
        var serde = new AvroSerde<T>();
        serde.configure(config, false);
        return serde;
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

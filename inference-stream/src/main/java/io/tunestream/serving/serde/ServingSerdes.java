package io.tunestream.serving.serde;

import io.tunestream.schemas.AdapterVersion;
import io.tunestream.schemas.Answer;
import io.tunestream.schemas.InferenceRequest;
import io.tunestream.schemas.TaskTemplate;
import io.tunestream.schemas.registry.AvroSerdes;
import io.tunestream.schemas.registry.RecordDecoder;
import io.tunestream.schemas.registry.RegistryConfig;
import java.time.Duration;
import java.util.Objects;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.common.serialization.Serializer;

/**
 * How the serving topology reads and writes its topics' values (keys are strings). Inputs are read
 * as bytes by the sources and decoded in the processors and store updaters, where a registry outage
 * can be waited out instead of failing the record. The owner closes the decoders.
 */
public record ServingSerdes(ValueDecoder<InferenceRequest> requests, Serializer<Answer> answers,
                            ValueDecoder<TaskTemplate> templates, ValueDecoder<AdapterVersion> adapters)
        implements AutoCloseable {

    /**
     * Longest a registry decode may hold its caller: well inside the stream transaction's 10 s, longer
     * than the registry client's own retries against a refused connection (about 1 s).
     */
    static final Duration DECODE_TIME_LIMIT = Duration.ofSeconds(2);
    /** Calls to a hung registry allowed to hang at once, per record type. */
    static final int MAX_HANGING_CALLS = 4;

    public ServingSerdes {
        Objects.requireNonNull(requests, "requests");
        Objects.requireNonNull(answers, "answers");
        Objects.requireNonNull(templates, "templates");
        Objects.requireNonNull(adapters, "adapters");
    }

    /**
     * Apicurio Registry: inputs through {@link RecordDecoder} (poison told from outages; each decode held
     * at most {@link #DECODE_TIME_LIMIT}, see {@link TimeLimitedDecoder}), answers through
     * {@link AvroSerdes} (values carry the registry's schema id, schemas resolved per topic).
     */
    public static ServingSerdes apicurio(RegistryConfig registry) {
        return new ServingSerdes(registryDecoder(InferenceRequest.class, registry), AvroSerdes.serializer(registry),
                registryDecoder(TaskTemplate.class, registry), registryDecoder(AdapterVersion.class, registry));
    }

    private static <T extends SpecificRecord> ValueDecoder<T> registryDecoder(Class<T> type, RegistryConfig registry) {
        return new TimeLimitedDecoder<>(ValueDecoder.of(RecordDecoder.of(type, registry)), DECODE_TIME_LIMIT,
                MAX_HANGING_CALLS);
    }

    /** Registry-free Avro binary, for topology tests. */
    public static ServingSerdes plainAvro() {
        return new ServingSerdes(
                ValueDecoder.plainAvro(new AvroBinarySerde<>(InferenceRequest.class, InferenceRequest.getClassSchema())),
                new AvroBinarySerde<>(Answer.class, Answer.getClassSchema()).serializer(),
                ValueDecoder.plainAvro(new AvroBinarySerde<>(TaskTemplate.class, TaskTemplate.getClassSchema())),
                ValueDecoder.plainAvro(new AvroBinarySerde<>(AdapterVersion.class, AdapterVersion.getClassSchema())));
    }

    @Override
    public void close() {
        requests.close();
        templates.close();
        adapters.close();
        answers.close();
    }
}

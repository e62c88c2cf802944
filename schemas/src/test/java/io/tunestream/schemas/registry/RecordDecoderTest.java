package io.tunestream.schemas.registry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.tunestream.schemas.TaskTemplate;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.Deserializer;
import org.junit.jupiter.api.Test;

/** How {@link RecordDecoder} classifies failures that carry no HTTP status (the registry's own answers are in RecordDecoderIT). */
class RecordDecoderTest {

    private static final byte[] FRAMED = {0, 0, 0, 0, 7, 2, 'a'};
    private static final TaskTemplate TEMPLATE = TaskTemplate.newBuilder().setTask("squad")
            .setPromptTemplate("<|VIRTUAL_PROMPT_0|>{q}").setPromptTemplateFields(List.of("q")).setAnswerField("q")
            .setVirtualTokenSplits(List.of(1)).setTotalVirtualTokens(1).setMaxSeqLength(16).build();

    private final AtomicInteger calls = new AtomicInteger();

    private RecordDecoder<TaskTemplate> decoder(Deserializer<TaskTemplate> deserializer, Optional<String> probe) {
        return new RecordDecoder<>(TaskTemplate.class, deserializer, () -> probe);
    }

    @Test
    void shouldDecodeAgainWhenAConnectionWasCutWhileTheRegistryCameBack() {
        Deserializer<TaskTemplate> cutOnce = (topic, bytes) -> {
            if (calls.incrementAndGet() == 1) {
                throw new IllegalStateException("Connection was closed");
            }
            return TEMPLATE;
        };

        Decoded<TaskTemplate> decoded = decoder(cutOnce, Optional.empty()).decode("t", new RecordHeaders(), FRAMED);

        assertThat(decoded).isEqualTo(new Decoded.Value<>(TEMPLATE));
        assertThat(calls).hasValue(2);
    }

    @Test
    void shouldCallBytesPoisonWhenTheyFailTwiceWithTheRegistryReachable() {
        Deserializer<TaskTemplate> broken = (topic, bytes) -> {
            calls.incrementAndGet();
            throw new SerializationException("cannot read TaskTemplate: malformed data");
        };

        Decoded<TaskTemplate> decoded = decoder(broken, Optional.empty()).decode("t", new RecordHeaders(), FRAMED);

        assertThat(decoded).isInstanceOfSatisfying(Decoded.Poison.class, poison -> assertThat(poison.reason())
                .isEqualTo("cannot read a TaskTemplate from t: cannot read TaskTemplate: malformed data"));
        assertThat(calls).hasValue(2);
    }

    @Test
    void shouldCallAFailureTransientWhileTheProbeFindsNoRegistry() {
        Deserializer<TaskTemplate> broken = (topic, bytes) -> {
            calls.incrementAndGet();
            throw new SerializationException("cannot read TaskTemplate: malformed data");
        };

        assertThatThrownBy(() -> decoder(broken, Optional.of("connection refused")).decode("t", new RecordHeaders(),
                FRAMED)).isInstanceOf(RegistryUnavailableException.class).hasMessageContaining("connection refused");
        assertThat(calls).hasValue(1);
    }
}

package io.tunestream.schemas.registry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.tunestream.devkit.PlatformEndpoints;
import io.tunestream.devkit.junit.LocalPlatformExtension;
import io.tunestream.schemas.Answer;
import io.tunestream.schemas.Feedback;
import io.tunestream.schemas.FinishReason;
import java.util.UUID;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.serialization.Serde;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The Kafka Streams serdes against the real registry. */
@ExtendWith(LocalPlatformExtension.class)
class AvroSerdesIT {

    @Test
    void shouldRoundTripAGeneratedRecordThroughTheRegistry(PlatformEndpoints platform) {
        RegistryConfig registry = RegistryConfig.forRegistry(platform.registryUrl());
        String topic = "serde-" + UUID.randomUUID();
        Answer answer = Answer.newBuilder().setRequestId("r1").setTask("squad").setText(" Rome")
                .setFinishReason(FinishReason.EOS).build();

        try (Serde<Answer> serde = AvroSerdes.specific(Answer.class, registry)) {
            byte[] bytes = serde.serializer().serialize(topic, answer);

            assertThat(serde.deserializer().deserialize(topic, bytes)).isEqualTo(answer);
            assertThat(new SchemaRegistration(registry).register(topic + "-value", Answer.getClassSchema()).version())
                    .isEqualTo("1");
        }
    }

    @Test
    void shouldNameTopicAndTypesWhenARecordOfAnotherTypeArrives(PlatformEndpoints platform) {
        RegistryConfig registry = RegistryConfig.forRegistry(platform.registryUrl());
        String topic = "serde-" + UUID.randomUUID();
        Answer answer = Answer.newBuilder().setRequestId("r1").setTask("squad").setFinishReason(FinishReason.EOS).build();

        try (Serde<Answer> answers = AvroSerdes.specific(Answer.class, registry);
             Serde<Feedback> feedback = AvroSerdes.specific(Feedback.class, registry)) {
            byte[] bytes = answers.serializer().serialize(topic, answer);

            assertThatThrownBy(() -> feedback.deserializer().deserialize(topic, bytes))
                    .isInstanceOf(SerializationException.class)
                    .hasMessage("topic '" + topic + "': expected a io.tunestream.schemas.Feedback record, got a "
                            + "io.tunestream.schemas.Answer");
        }
    }
}

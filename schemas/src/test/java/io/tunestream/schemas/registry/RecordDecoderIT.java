package io.tunestream.schemas.registry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.sun.net.httpserver.HttpServer;
import io.tunestream.devkit.PlatformEndpoints;
import io.tunestream.devkit.junit.LocalPlatformExtension;
import io.tunestream.schemas.Answer;
import io.tunestream.schemas.Feedback;
import io.tunestream.schemas.FinishReason;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.UUID;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.Serializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** Poison or transient: each way a value can fail to decode, against the real registry and stubs. */
@ExtendWith(LocalPlatformExtension.class)
class RecordDecoderIT {

    private static final Answer ANSWER = Answer.newBuilder().setRequestId("r1").setTask("squad").setText(" Rome")
            .setFinishReason(FinishReason.EOS).build();

    @Test
    void shouldDecodeWhatTheSerializerWrote(PlatformEndpoints platform) {
        RegistryConfig registry = RegistryConfig.forRegistry(platform.registryUrl());
        String topic = "decode-" + UUID.randomUUID();
        byte[] bytes = serialize(registry, topic);

        try (var decoder = RecordDecoder.of(Answer.class, registry)) {
            assertThat(decoder.decode(topic, new RecordHeaders(), bytes)).isEqualTo(new Decoded.Value<>(ANSWER));
            assertThat(decoder.decode(topic, new RecordHeaders(), null)).isEqualTo(new Decoded.Value<>(null));
        }
    }

    @Test
    void shouldCallBytesWithoutTheApicurioHeaderPoison(PlatformEndpoints platform) {
        try (var decoder = RecordDecoder.of(Answer.class, RegistryConfig.forRegistry(platform.registryUrl()))) {
            var plainText = decoder.decode("t", new RecordHeaders(), "{\"requestId\":\"r1\"}".getBytes());
            var empty = decoder.decode("t", new RecordHeaders(), new byte[0]);

            assertThat(plainText).isInstanceOfSatisfying(Decoded.Poison.class, p -> assertThat(p.reason())
                    .isEqualTo("not an Apicurio-serialized Answer (first byte 123, expected magic byte 0 and a schema id)"));
            assertThat(empty).isInstanceOfSatisfying(Decoded.Poison.class, p -> assertThat(p.reason())
                    .isEqualTo("not an Apicurio-serialized Answer (an empty value, expected magic byte 0 and a schema id)"));
        }
    }

    @Test
    void shouldCallAnIdTheReachableRegistryDoesNotKnowPoison(PlatformEndpoints platform) {
        byte[] unknownId = ByteBuffer.allocate(12).put((byte) 0).putInt(987_654_321).put(new byte[7]).array();

        try (var decoder = RecordDecoder.of(Answer.class, RegistryConfig.forRegistry(platform.registryUrl()))) {
            assertThat(decoder.decode("t", new RecordHeaders(), unknownId))
                    .isInstanceOfSatisfying(Decoded.Poison.class, p -> assertThat(p.reason())
                            .startsWith("the registry does not know the record's schema id"));
        }
    }

    @Test
    void shouldCallARecordOfAnotherTypeOrTruncatedAvroPoison(PlatformEndpoints platform) {
        RegistryConfig registry = RegistryConfig.forRegistry(platform.registryUrl());
        String topic = "decode-" + UUID.randomUUID();
        byte[] bytes = serialize(registry, topic);

        try (var feedback = RecordDecoder.of(Feedback.class, registry);
             var answers = RecordDecoder.of(Answer.class, registry)) {
            assertThat(feedback.decode(topic, new RecordHeaders(), bytes))
                    .isInstanceOfSatisfying(Decoded.Poison.class, p -> assertThat(p.reason())
                            .contains("expected a io.tunestream.schemas.Feedback record, got a io.tunestream.schemas.Answer"));
            assertThat(answers.decode(topic, new RecordHeaders(), Arrays.copyOf(bytes, bytes.length - 6)))
                    .isInstanceOf(Decoded.Poison.class);
        }
    }

    @Test
    void shouldCallAnUnreachableRegistryTransientWhenTheCacheIsCold(PlatformEndpoints platform) throws IOException {
        byte[] bytes = serialize(RegistryConfig.forRegistry(platform.registryUrl()), "decode-" + UUID.randomUUID());
        int closedPort;
        try (var socket = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            closedPort = socket.getLocalPort();
        }

        try (var decoder = RecordDecoder.of(Answer.class, RegistryConfig.forRegistry("http://127.0.0.1:" + closedPort))) {
            assertThatThrownBy(() -> decoder.decode("t", new RecordHeaders(), bytes))
                    .isInstanceOf(RegistryUnavailableException.class)
                    .hasMessageContaining("registry unreachable while reading a Answer from t");
        }
    }

    @Test
    void shouldCallARegistryAnswering503Transient(PlatformEndpoints platform) throws IOException {
        byte[] bytes = serialize(RegistryConfig.forRegistry(platform.registryUrl()), "decode-" + UUID.randomUUID());
        HttpServer stub = HttpServer.create(new InetSocketAddress(java.net.InetAddress.getLoopbackAddress(), 0), 0);
        stub.createContext("/", exchange -> {
            exchange.sendResponseHeaders(503, -1);
            exchange.close();
        });
        stub.start();
        try (var decoder = RecordDecoder.of(Answer.class,
                RegistryConfig.forRegistry("http://127.0.0.1:" + stub.getAddress().getPort()))) {
            assertThatThrownBy(() -> decoder.decode("t", new RecordHeaders(), bytes))
                    .isInstanceOf(RegistryUnavailableException.class);
        } finally {
            stub.stop(0);
        }
    }

    private static byte[] serialize(RegistryConfig registry, String topic) {
        try (Serializer<Answer> serializer = AvroSerdes.serializer(registry)) {
            return serializer.serialize(topic, ANSWER);
        }
    }
}

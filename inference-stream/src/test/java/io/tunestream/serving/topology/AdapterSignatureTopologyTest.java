package io.tunestream.serving.topology;

import static io.tunestream.serving.testing.Fixtures.adapter;
import static io.tunestream.serving.testing.Fixtures.squad;
import static io.tunestream.serving.testing.Fixtures.squadRequest;
import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.tunestream.schemas.AdapterVersion;
import io.tunestream.schemas.Answer;
import io.tunestream.schemas.ErrorKind;
import io.tunestream.schemas.InferenceRequest;
import io.tunestream.schemas.TaskTemplate;
import io.tunestream.schemas.adapters.AdapterKeys;
import io.tunestream.schemas.adapters.AdapterSigner;
import io.tunestream.schemas.adapters.AdapterVerifier;
import io.tunestream.serving.batch.ModelLiveness;
import io.tunestream.serving.ops.DecodeWaits;
import io.tunestream.serving.ops.ServingMetrics;
import io.tunestream.serving.serde.AvroBinarySerde;
import io.tunestream.serving.serde.ServingSerdes;
import io.tunestream.serving.testing.EchoAnswerer;
import java.nio.file.Path;
import java.security.KeyPair;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.TopologyTestDriver;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Serving applies only adapters signed by a trusted key when verification is on. */
class AdapterSignatureTopologyTest {

    private static final String FINGERPRINT = EchoAnswerer.MODEL.fingerprint();
    private static final int HIDDEN = EchoAnswerer.MODEL.hiddenSize();
    private static final Instant START = Instant.parse("2026-01-01T00:00:00Z");
    private static final KeyPair TRAINER = AdapterKeys.generate();
    private static final KeyPair ROTATED = AdapterKeys.generate();
    private static final KeyPair STRANGER = AdapterKeys.generate();

    @TempDir
    Path stateDir;

    private final ServingTopics topics = ServingTopics.standard();
    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    private final ServingMetrics metrics = new ServingMetrics(registry);
    private final AdapterSigner trainer = new AdapterSigner("trainer-a", TRAINER.getPrivate());
    private TopologyTestDriver driver;
    private TestInputTopic<String, TaskTemplate> templates;
    private TestInputTopic<String, AdapterVersion> adapters;
    private TestInputTopic<String, InferenceRequest> requests;
    private TestOutputTopic<String, Answer> answers;

    @AfterEach
    void closeDriver() {
        if (driver != null) {
            driver.close();
        }
    }

    private void start(AdapterVerifier verifier) {
        var props = new Properties();
        props.put(StreamsConfig.APPLICATION_ID_CONFIG, "adapter-signature-test");
        props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, "unused:9092");
        props.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
        Clock clock = Clock.fixed(START, ZoneOffset.UTC);
        var settings = BatchingSettings.of(1, Duration.ofSeconds(10));
        var recovery = new InputRecovery(record -> { }, new DecodeWaits(clock), new StopSignal());
        var topology = ServingTopology.build(topics, ServingSerdes.plainAvro(), settings, new EchoAnswerer(),
                Runnable::run, metrics, new ModelLiveness(clock, settings.cancelGrace()), clock, recovery, verifier);
        driver = new TopologyTestDriver(topology, props, START);
        templates = driver.createInputTopic(topics.templates(), new StringSerializer(),
                new AvroBinarySerde<>(TaskTemplate.class, TaskTemplate.getClassSchema()).serializer());
        adapters = driver.createInputTopic(topics.adapters(), new StringSerializer(),
                new AvroBinarySerde<>(AdapterVersion.class, AdapterVersion.getClassSchema()).serializer());
        requests = driver.createInputTopic(topics.requests(), new StringSerializer(),
                new AvroBinarySerde<>(InferenceRequest.class, InferenceRequest.getClassSchema()).serializer());
        answers = driver.createOutputTopic(topics.answers(), new StringDeserializer(),
                new AvroBinarySerde<>(Answer.class, Answer.getClassSchema()).deserializer());
        templates.pipeInput("squad", squad("squad", 4));
        templates.pipeInput("news", squad("news", 4));
    }

    private void publish(AdapterVersion adapter) {
        adapters.pipeInput(adapter.getTask(), adapter);
    }

    /** The adapter version the answer to a fresh request of {@code task} used (null: none). */
    private Integer appliedVersion(String task) {
        requests.pipeInput("r-" + task, squadRequest("r-" + task, task));
        List<Answer> all = answers.readValuesToList();
        assertThat(all).hasSize(1);
        return all.get(0).getAdapterVersion();
    }

    private double refused(String task, String reason) {
        var counter = registry.find("tunestream.adapters.refused").tags("task", task, "reason", reason).counter();
        return counter == null ? 0 : counter.count();
    }

    @Test
    void shouldApplyACorrectlySignedAdapter() {
        start(AdapterVerifier.trusting(Map.of("trainer-a", TRAINER.getPublic())));

        publish(trainer.sign(adapter("squad", 1, FINGERPRINT, HIDDEN, 4)));

        assertThat(appliedVersion("squad")).isEqualTo(1);
    }

    @Test
    void shouldNeverApplyABadSignatureOrATableReplayedUnderAnotherVersionOrTask() {
        start(AdapterVerifier.trusting(Map.of("trainer-a", TRAINER.getPublic())));
        AdapterVersion v1 = trainer.sign(adapter("squad", 1, FINGERPRINT, HIDDEN, 4));
        publish(v1);

        publish(AdapterVersion.newBuilder(v1).setVersion(2).build());
        publish(AdapterVersion.newBuilder(v1).setTask("news").build());
        publish(new AdapterSigner("trainer-a", STRANGER.getPrivate()).sign(adapter("squad", 3, FINGERPRINT, HIDDEN, 4)));

        assertThat(appliedVersion("squad")).as("v2 (replayed) and v3 (forged) never applied").isEqualTo(1);
        assertThat(refused("squad", "signature")).isEqualTo(2.0);
        assertThat(refused("news", "signature")).isEqualTo(1.0);
        requests.pipeInput("r-news", squadRequest("r-news", "news"));
        assertThat(answers.readValue().getError().getKind()).isEqualTo(ErrorKind.NO_ADAPTER);
    }

    @Test
    void shouldApplyVersionsOfBothTrustedKeysDuringARotation() {
        start(AdapterVerifier.trusting(Map.of("trainer-a", TRAINER.getPublic(), "trainer-b", ROTATED.getPublic())));

        publish(trainer.sign(adapter("squad", 1, FINGERPRINT, HIDDEN, 4)));
        assertThat(appliedVersion("squad")).isEqualTo(1);
        publish(new AdapterSigner("trainer-b", ROTATED.getPrivate()).sign(adapter("squad", 2, FINGERPRINT, HIDDEN, 4)));

        requests.pipeInput("r2", squadRequest("r2", "squad"));
        assertThat(answers.readValue().getAdapterVersion()).isEqualTo(2);
    }

    @Test
    void shouldRefuseUnsignedAdaptersUnlessTheMigrationSettingAcceptsThem() {
        start(AdapterVerifier.trusting(Map.of("trainer-a", TRAINER.getPublic())));
        publish(adapter("squad", 1, FINGERPRINT, HIDDEN, 4));

        requests.pipeInput("r1", squadRequest("r1", "squad"));
        assertThat(answers.readValue().getError().getKind()).isEqualTo(ErrorKind.NO_ADAPTER);
        assertThat(refused("squad", "unsigned")).isEqualTo(1.0);
        driver.close();
        driver = null;

        start(AdapterVerifier.trusting(Map.of("trainer-a", TRAINER.getPublic())).acceptingUnsigned(true));
        publish(adapter("squad", 1, FINGERPRINT, HIDDEN, 4));
        assertThat(appliedVersion("squad")).isEqualTo(1);
    }
}

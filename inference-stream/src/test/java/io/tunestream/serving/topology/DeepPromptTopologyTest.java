package io.tunestream.serving.topology;

import static io.tunestream.serving.testing.Fixtures.squad;
import static io.tunestream.serving.testing.Fixtures.squadRequest;
import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.tunestream.model.onnx.RuntimeConfig;
import io.tunestream.schemas.AdapterVersion;
import io.tunestream.schemas.Answer;
import io.tunestream.schemas.DType;
import io.tunestream.schemas.DeepPromptShape;
import io.tunestream.schemas.ErrorKind;
import io.tunestream.schemas.InferenceRequest;
import io.tunestream.schemas.TaskTemplate;
import io.tunestream.schemas.VirtualPromptStyle;
import io.tunestream.schemas.adapters.AdapterKeys;
import io.tunestream.schemas.adapters.AdapterSigner;
import io.tunestream.schemas.adapters.AdapterVerifier;
import io.tunestream.schemas.tensor.TensorCodec;
import io.tunestream.serving.batch.ModelLiveness;
import io.tunestream.serving.model.ModelBatchAnswerer;
import io.tunestream.serving.ops.DecodeWaits;
import io.tunestream.serving.ops.ServingMetrics;
import io.tunestream.serving.serde.AvroBinarySerde;
import io.tunestream.serving.serde.ServingSerdes;
import io.tunestream.serving.testing.Fixtures;
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
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The serving topology on tiny-gpt2 (2 layers x 4 kv heads x head size 16) with signed deep-prompt adapters:
 * one of the model's decoder shape answers, one of another decoder is refused like a wrong fingerprint.
 */
class DeepPromptTopologyTest {

    private static final Instant START = Instant.parse("2026-01-01T00:00:00Z");
    private static final KeyPair TRAINER = AdapterKeys.generate();
    private static ModelBatchAnswerer answerer;

    @TempDir
    Path stateDir;

    private final ServingTopics topics = ServingTopics.standard();
    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    private final AdapterSigner trainer = new AdapterSigner("trainer-a", TRAINER.getPrivate());
    private TopologyTestDriver driver;
    private TestInputTopic<String, AdapterVersion> adapters;
    private TestInputTopic<String, InferenceRequest> requests;
    private TestOutputTopic<String, Answer> answers;

    @BeforeAll
    static void load() {
        answerer = ModelBatchAnswerer.load(Path.of(System.getProperty("tunestream.home", "../"))
                .resolve("models/tiny-gpt2"), RuntimeConfig.cpu(1));
    }

    @AfterAll
    static void close() {
        answerer.close();
    }

    @BeforeEach
    void start() {
        var props = new Properties();
        props.put(StreamsConfig.APPLICATION_ID_CONFIG, "deep-prompt-topology-test");
        props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, "unused:9092");
        props.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
        Clock clock = Clock.fixed(START, ZoneOffset.UTC);
        var settings = BatchingSettings.of(1, Duration.ofSeconds(10));
        var recovery = new InputRecovery(record -> { }, new DecodeWaits(clock), new StopSignal());
        var topology = ServingTopology.build(topics, ServingSerdes.plainAvro(), settings, answerer, Runnable::run,
                new ServingMetrics(registry), new ModelLiveness(clock, settings.cancelGrace()), clock, recovery,
                AdapterVerifier.trusting(Map.of("trainer-a", TRAINER.getPublic())));
        driver = new TopologyTestDriver(topology, props, START);
        TestInputTopic<String, TaskTemplate> templates = driver.createInputTopic(topics.templates(),
                new StringSerializer(), new AvroBinarySerde<>(TaskTemplate.class, TaskTemplate.getClassSchema()).serializer());
        adapters = driver.createInputTopic(topics.adapters(), new StringSerializer(),
                new AvroBinarySerde<>(AdapterVersion.class, AdapterVersion.getClassSchema()).serializer());
        requests = driver.createInputTopic(topics.requests(), new StringSerializer(),
                new AvroBinarySerde<>(InferenceRequest.class, InferenceRequest.getClassSchema()).serializer());
        answers = driver.createOutputTopic(topics.answers(), new StringDeserializer(),
                new AvroBinarySerde<>(Answer.class, Answer.getClassSchema()).deserializer());
        templates.pipeInput("squad", squad("squad", 4));
    }

    @AfterEach
    void closeDriver() {
        driver.close();
    }

    private AdapterVersion deep(int version, int layers, int kvHeads, int headDim) {
        int width = 2 * layers * kvHeads * headDim;
        float[] values = new float[4 * width];
        for (int i = 0; i < values.length; i++) {
            values[i] = ((i * 37) % 101) / 50f - 1f;
        }
        return trainer.sign(AdapterVersion.newBuilder(Fixtures.adapter("squad", version, answerer.model().fingerprint(),
                        answerer.model().hiddenSize(), 4))
                .setTable(TensorCodec.encodeMatrix("deep_prompt", values, 4, width, DType.FLOAT32))
                .setVirtualPromptStyle(VirtualPromptStyle.PREFIX_TUNING)
                .setDeepPrompt(new DeepPromptShape(layers, kvHeads, headDim)).build());
    }

    private double refused(String reason) {
        var counter = registry.find("tunestream.adapters.refused").tags("task", "squad", "reason", reason).counter();
        return counter == null ? 0 : counter.count();
    }

    @Test
    void shouldAnswerWithADeepPromptOfTheModelsDecoder() {
        adapters.pipeInput("squad", deep(1, 2, 4, 16));

        requests.pipeInput("r1", squadRequest("r1", "squad"));

        List<Answer> all = answers.readValuesToList();
        assertThat(all).hasSize(1);
        assertThat(all.get(0).getError()).isNull();
        assertThat(all.get(0).getAdapterVersion()).isEqualTo(1);
        assertThat(all.get(0).getCompletionTokens()).isPositive();
    }

    @Test
    void shouldRefuseADeepPromptOfAnotherDecoderAndKeepServingTheAcceptedVersion() {
        adapters.pipeInput("squad", deep(1, 2, 4, 16));
        adapters.pipeInput("squad", deep(2, 3, 4, 16));
        adapters.pipeInput("squad", deep(3, 2, 2, 16));

        requests.pipeInput("r1", squadRequest("r1", "squad"));

        Answer answer = answers.readValue();
        assertThat(answer.getError()).isNull();
        assertThat(answer.getAdapterVersion()).isEqualTo(1);
        assertThat(refused("deep_prompt_shape")).isEqualTo(2.0);
    }

    @Test
    void shouldAnswerNoAdapterWhenTheOnlyDeepPromptIsOfAnotherDecoder() {
        adapters.pipeInput("squad", deep(1, 2, 4, 8));

        requests.pipeInput("r1", squadRequest("r1", "squad"));

        assertThat(answers.readValue().getError().getKind()).isEqualTo(ErrorKind.NO_ADAPTER);
        assertThat(refused("deep_prompt_shape")).isEqualTo(1.0);
    }
}

package io.tunestream.serving.topology;

import static io.tunestream.serving.testing.Fixtures.squad;
import static io.tunestream.serving.testing.Fixtures.squadRequest;
import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.tunestream.model.onnx.RuntimeConfig;
import io.tunestream.schemas.AdapterVersion;
import io.tunestream.schemas.Answer;
import io.tunestream.schemas.InferenceRequest;
import io.tunestream.schemas.TaskTemplate;
import io.tunestream.schemas.adapters.AdapterVerifier;
import io.tunestream.serving.batch.ModelLiveness;
import io.tunestream.serving.model.AdapterTableCache;
import io.tunestream.serving.model.ModelBatchAnswerer;
import io.tunestream.serving.ops.DecodeWaits;
import io.tunestream.serving.ops.ServingMetrics;
import io.tunestream.serving.serde.AvroBinarySerde;
import io.tunestream.serving.serde.ServingSerdes;
import io.tunestream.serving.testing.Fixtures;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Properties;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.TopologyTestDriver;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Serving on tiny-gpt2 with many tasks' adapters in its store and a decoded-table bound of a few tables: filling the
 * store decodes nothing, and answering tasks in turn keeps at most the bound, every answer on its own adapter.
 */
class ManyAdaptersTopologyTest {

    private static final Instant START = Instant.parse("2026-01-01T00:00:00Z");
    private static final int TASKS = 300;
    private static final int VERSIONS = 3;
    private static final int ROWS = 4;
    private static final int KEPT_TABLES = 4;
    private static ModelBatchAnswerer answerer;
    private static long bound;

    @TempDir
    Path stateDir;

    @BeforeAll
    static void load() {
        Path tiny = Path.of(System.getProperty("tunestream.home", "../")).resolve("models/tiny-gpt2");
        try (var probe = ModelBatchAnswerer.load(tiny, RuntimeConfig.cpu(1), 0, 0)) {
            bound = KEPT_TABLES * ((long) ROWS * probe.model().hiddenSize() * Float.BYTES
                    + AdapterTableCache.ENTRY_OVERHEAD_BYTES);
        }
        answerer = ModelBatchAnswerer.load(tiny, RuntimeConfig.cpu(1), 0, bound);
    }

    @AfterAll
    static void close() {
        answerer.close();
    }

    @Test
    void shouldDecodeNoTableWhileFillingTheStoreAndKeepAtMostTheBoundWhileAnswering() {
        var props = new Properties();
        props.put(StreamsConfig.APPLICATION_ID_CONFIG, "many-adapters-topology-test");
        props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, "unused:9092");
        props.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
        Clock clock = Clock.fixed(START, ZoneOffset.UTC);
        var settings = BatchingSettings.of(4, Duration.ofSeconds(10));
        var recovery = new InputRecovery(record -> { }, new DecodeWaits(clock), new StopSignal());
        var topology = ServingTopology.build(ServingTopics.standard(), ServingSerdes.plainAvro(), settings, answerer,
                Runnable::run, new ServingMetrics(new SimpleMeterRegistry()),
                new ModelLiveness(clock, settings.cancelGrace()), clock, recovery, AdapterVerifier.off());
        try (var driver = new TopologyTestDriver(topology, props, START)) {
            var topics = ServingTopics.standard();
            TestInputTopic<String, TaskTemplate> templates = driver.createInputTopic(topics.templates(),
                    new StringSerializer(), new AvroBinarySerde<>(TaskTemplate.class, TaskTemplate.getClassSchema())
                            .serializer());
            TestInputTopic<String, AdapterVersion> adapters = driver.createInputTopic(topics.adapters(),
                    new StringSerializer(), new AvroBinarySerde<>(AdapterVersion.class,
                            AdapterVersion.getClassSchema()).serializer());
            TestInputTopic<String, InferenceRequest> requests = driver.createInputTopic(topics.requests(),
                    new StringSerializer(), new AvroBinarySerde<>(InferenceRequest.class,
                            InferenceRequest.getClassSchema()).serializer());
            TestOutputTopic<String, Answer> answers = driver.createOutputTopic(topics.answers(),
                    new StringDeserializer(), new AvroBinarySerde<>(Answer.class, Answer.getClassSchema())
                            .deserializer());
            for (int t = 0; t < TASKS; t++) {
                String task = "task-" + t;
                templates.pipeInput(task, squad(task, ROWS));
                for (int v = 1; v <= VERSIONS; v++) {
                    adapters.pipeInput(task, Fixtures.adapter(task, v, answerer.model().fingerprint(),
                            answerer.model().hiddenSize(), ROWS));
                }
            }

            assertThat(answerer.adapterTables().stats().entries()).as("storing adapters decodes none").isZero();

            for (int t = 0; t < 40; t++) {
                // every other request pinned to the oldest kept version: pinning still resolves through the store
                var request = squadRequest("r" + t, "task-" + t);
                requests.pipeInput(request.getRequestId(), t % 2 == 0 ? request : Fixtures.pinned(request, 1));
                assertThat(answerer.adapterTables().bytes()).isLessThanOrEqualTo(bound);
            }
            List<Answer> all = answers.readValuesToList();
            assertThat(all).hasSize(40).allSatisfy(a -> assertThat(a.getError()).isNull());
            assertThat(all).allSatisfy(a -> assertThat(a.getAdapterVersion())
                    .isEqualTo(Integer.parseInt(a.getRequestId().substring(1)) % 2 == 0 ? VERSIONS : 1));
            var stats = answerer.adapterTables().stats();
            assertThat(stats.entries()).isEqualTo(KEPT_TABLES);
            assertThat(stats.misses()).isEqualTo(40);
        }
    }
}

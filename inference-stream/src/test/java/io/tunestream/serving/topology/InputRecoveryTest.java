package io.tunestream.serving.topology;

import static io.tunestream.serving.testing.Fixtures.adapter;
import static io.tunestream.serving.testing.Fixtures.assistant;
import static io.tunestream.serving.testing.Fixtures.assistantRequest;
import static io.tunestream.serving.topology.ServingTopologyTest.header;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.tunestream.schemas.AdapterVersion;
import io.tunestream.schemas.Answer;
import io.tunestream.schemas.DeadLetters;
import io.tunestream.schemas.InferenceRequest;
import io.tunestream.schemas.TaskTemplate;
import io.tunestream.schemas.Tensor;
import io.tunestream.schemas.registry.Decoded;
import io.tunestream.schemas.registry.RegistryUnavailableException;
import io.tunestream.serving.ops.DecodeWaits;
import io.tunestream.serving.ops.ServingMetrics;
import io.tunestream.serving.serde.AvroBinarySerde;
import io.tunestream.serving.serde.ServingSerdes;
import io.tunestream.serving.serde.ValueDecoder;
import io.tunestream.serving.testing.EchoAnswerer;
import io.tunestream.serving.topology.ServingTopologyTest.MovableClock;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.TopologyTestDriver;
import org.apache.kafka.streams.state.KeyValueStore;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Registry outages and unreadable records on every input of the serving topology: requests wait (in
 * order, the stream thread never blocked) and are answered once the registry answers; global store
 * updates wait and are applied; only records that can never be read are dead-lettered.
 */
class InputRecoveryTest {

    private static final Instant START = Instant.parse("2026-01-01T00:00:00Z");
    private static final String FINGERPRINT = EchoAnswerer.MODEL.fingerprint();
    private static final int HIDDEN = EchoAnswerer.MODEL.hiddenSize();

    @TempDir
    Path stateDir;

    private final ServingTopics topics = ServingTopics.standard();
    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    private final ServingMetrics metrics = new ServingMetrics(registry);
    private final MovableClock clock = new MovableClock(START);
    private final DecodeWaits waits = new DecodeWaits(clock);
    private final StopSignal stop = new StopSignal();
    private final List<ProducerRecord<byte[], byte[]>> globalDeadLetters = new ArrayList<>();
    private final OutageDecoder<InferenceRequest> requestDecoder = new OutageDecoder<>(plain(InferenceRequest.class,
            InferenceRequest.getClassSchema()));
    private final OutageDecoder<TaskTemplate> templateDecoder = new OutageDecoder<>(plain(TaskTemplate.class,
            TaskTemplate.getClassSchema()));
    private final OutageDecoder<AdapterVersion> adapterDecoder = new OutageDecoder<>(plain(AdapterVersion.class,
            AdapterVersion.getClassSchema()));
    private final EchoAnswerer echo = new EchoAnswerer();
    private TopologyTestDriver driver;
    private TestInputTopic<String, InferenceRequest> requests;
    private TestInputTopic<String, TaskTemplate> templates;
    private TestInputTopic<String, AdapterVersion> adapters;
    private TestInputTopic<String, byte[]> rawTemplates;
    private TestInputTopic<String, byte[]> rawAdapters;
    private TestOutputTopic<String, Answer> answers;
    private TestOutputTopic<byte[], byte[]> deadLetters;

    /** A decoder that throws {@link RegistryUnavailableException} while the registry is "down". */
    static final class OutageDecoder<T> implements ValueDecoder<T> {
        private final ValueDecoder<T> real;
        private final AtomicInteger failuresLeft = new AtomicInteger();
        private final AtomicInteger attempts = new AtomicInteger();

        OutageDecoder(ValueDecoder<T> real) {
            this.real = real;
        }

        void down() {
            failuresLeft.set(Integer.MAX_VALUE);
        }

        void failTimes(int times) {
            failuresLeft.set(times);
        }

        void up() {
            failuresLeft.set(0);
        }

        int attempts() {
            return attempts.get();
        }

        @Override
        public Decoded<T> decode(String topic, Headers headers, byte[] value) {
            attempts.incrementAndGet();
            if (failuresLeft.getAndUpdate(n -> n == Integer.MAX_VALUE ? n : Math.max(0, n - 1)) > 0) {
                throw new RegistryUnavailableException("registry unreachable (test)", new java.net.ConnectException());
            }
            return real.decode(topic, headers, value);
        }
    }

    private static <T extends SpecificRecord> AvroBinarySerde<T> avro(Class<T> type, org.apache.avro.Schema schema) {
        return new AvroBinarySerde<>(type, schema);
    }

    private static <T extends SpecificRecord> ValueDecoder<T> plain(Class<T> type, org.apache.avro.Schema schema) {
        return ValueDecoder.plainAvro(avro(type, schema));
    }

    private void start() {
        var props = new Properties();
        props.put(StreamsConfig.APPLICATION_ID_CONFIG, "input-recovery-test");
        props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, "unused:9092");
        props.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
        props.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
        var serdes = new ServingSerdes(requestDecoder, avro(Answer.class, Answer.getClassSchema()).serializer(),
                templateDecoder, adapterDecoder);
        var topology = ServingTopology.build(topics, serdes, BatchingSettings.of(1, Duration.ofSeconds(10)), echo,
                Runnable::run, metrics, clock, new InputRecovery(globalDeadLetters::add, waits, stop));
        driver = new TopologyTestDriver(topology, props, START);
        var strings = new StringSerializer();
        requests = driver.createInputTopic(topics.requests(), strings,
                avro(InferenceRequest.class, InferenceRequest.getClassSchema()).serializer());
        templates = driver.createInputTopic(topics.templates(), strings,
                avro(TaskTemplate.class, TaskTemplate.getClassSchema()).serializer());
        adapters = driver.createInputTopic(topics.adapters(), strings,
                avro(AdapterVersion.class, AdapterVersion.getClassSchema()).serializer());
        rawTemplates = driver.createInputTopic(topics.templates(), strings, new ByteArraySerializer());
        rawAdapters = driver.createInputTopic(topics.adapters(), strings, new ByteArraySerializer());
        answers = driver.createOutputTopic(topics.answers(), new StringDeserializer(),
                avro(Answer.class, Answer.getClassSchema()).deserializer());
        deadLetters = driver.createOutputTopic(topics.deadLetter(), new ByteArrayDeserializer(),
                new ByteArrayDeserializer());
    }

    @AfterEach
    void closeDriver() {
        if (driver != null) {
            driver.close();
        }
    }

    private void advance(Duration duration) {
        clock.advance(duration);
        driver.advanceWallClockTime(duration);
    }

    private void send(String id) {
        requests.pipeInput(id, assistantRequest(id, "assistant"));
    }

    private List<String> answeredIds() {
        return answers.readValuesToList().stream().map(Answer::getRequestId).toList();
    }

    private double counter(String name, String... tags) {
        var search = registry.find(name).tags(tags);
        return search.counter() == null ? 0 : search.counter().count();
    }

    @Test
    void shouldQueueRequestsWhileTheRegistryIsUnreachableAndAnswerThemInOrderOnceItAnswers() {
        start();
        templates.pipeInput("assistant", assistant("assistant", 4));
        requestDecoder.down();

        send("r1");
        send("r2");
        send("r3");

        assertThat(answers.isEmpty()).isTrue();
        assertThat(deadLetters.isEmpty()).as("an outage is never a dead letter").isTrue();
        assertThat(requestDecoder.attempts()).as("r2 and r3 queue behind r1 without a decode each").isEqualTo(1);
        assertThat(waits.degraded()).hasValue("registry unreachable since " + START
                + " (waiting: task 0_0 of requests)");
        KeyValueStore<String, PendingRequest> pending = driver.getKeyValueStore(ServingTopology.PENDING_STORE);
        assertThat(pending.approximateNumEntries()).isEqualTo(3);

        requestDecoder.up();
        advance(Duration.ofMillis(200));

        assertThat(answeredIds()).containsExactly("r1", "r2", "r3");
        assertThat(deadLetters.isEmpty()).isTrue();
        assertThat(waits.degraded()).isEmpty();
        assertThat(pending.approximateNumEntries()).isZero();
        assertThat(counter("tunestream.registry.waits", "topic", topics.requests())).isEqualTo(1.0);
    }

    @Test
    void shouldKeepALaterRequestBehindAWaitingOneEvenWhenTheRegistryAnswersAgain() {
        start();
        templates.pipeInput("assistant", assistant("assistant", 4));
        requestDecoder.down();
        send("first");
        requestDecoder.up();

        send("second");

        assertThat(answers.isEmpty()).as("second does not overtake first").isTrue();
        advance(Duration.ofMillis(200));
        assertThat(answeredIds()).containsExactly("first", "second");
    }

    @Test
    void shouldRetryWithGrowingBackoffNotAtEveryPunctuation() {
        start();
        templates.pipeInput("assistant", assistant("assistant", 4));
        requestDecoder.down();
        send("r1");

        for (int i = 0; i < 100; i++) {
            advance(RequestDecoder.RETRY_CHECK_INTERVAL);
        }

        // 10 s of 100 ms checks: 100, 200, 400, ... 5000 ms apart (±20 %) is 6 to 8 tries, not 100
        assertThat(requestDecoder.attempts()).isBetween(6, 9);
        assertThat(answers.isEmpty()).isTrue();
        assertThat(deadLetters.isEmpty()).isTrue();
        assertThat(waits.degraded()).isPresent();
    }

    @Test
    void shouldDeadLetterAnUnreadableRequestOnlyInItsTurnAfterAnOutage() {
        start();
        templates.pipeInput("assistant", assistant("assistant", 4));
        var raw = driver.createInputTopic(topics.requests(), new StringSerializer(), new ByteArraySerializer());
        requestDecoder.down();
        send("r1");
        raw.pipeInput("garbage", new byte[] {(byte) 0xff, 1});
        send("r3");
        requestDecoder.up();

        advance(Duration.ofMillis(200));

        assertThat(answeredIds()).containsExactly("r1", "r3");
        var dead = deadLetters.readRecordsToList();
        assertThat(dead).hasSize(1);
        assertThat(new String(dead.get(0).key(), StandardCharsets.UTF_8)).isEqualTo("garbage");
        assertThat(header(dead.get(0), DeadLetters.OFFSET_HEADER)).isEqualTo("1");
        assertThat(header(dead.get(0), DeadLetters.TOPIC_HEADER)).isEqualTo(topics.requests());
    }

    @Test
    void shouldWaitForTheRegistryBeforeApplyingATemplateAndNotSkipIt() {
        start();
        templateDecoder.failTimes(2);

        templates.pipeInput("assistant", assistant("assistant", 4));

        assertThat(templateDecoder.attempts()).isEqualTo(3);
        assertThat(globalDeadLetters).isEmpty();
        assertThat(counter("tunestream.registry.waits", "topic", topics.templates())).isEqualTo(2.0);
        assertThat(waits.degraded()).isEmpty();
        send("r1");
        assertThat(answeredIds()).containsExactly("r1");
    }

    @Test
    void shouldEndAGlobalWaitWhenTheAppStopsWithoutApplyingOrSkippingTheRecord() {
        start();
        templateDecoder.down();
        stop.stop();

        assertThatThrownBy(() -> templates.pipeInput("assistant", assistant("assistant", 4)))
                .hasStackTraceContaining("global store templates: closing while record task-templates-0@0 waits");

        assertThat(globalDeadLetters).isEmpty();
        KeyValueStore<String, TaskTemplate> store = driver.getKeyValueStore(ServingTopology.TEMPLATE_STORE);
        assertThat(store.get("assistant")).isNull();
    }

    @Test
    void shouldDeadLetterAnUnreadableTemplateAndKeepTheStoredOne() {
        start();
        templates.pipeInput("assistant", assistant("assistant", 4));

        rawTemplates.pipeInput("assistant", new byte[] {(byte) 0xff, 1, 2});

        assertThat(globalDeadLetters).hasSize(1);
        ProducerRecord<byte[], byte[]> dead = globalDeadLetters.get(0);
        assertThat(dead.topic()).isEqualTo(topics.deadLetter());
        assertThat(new String(dead.key(), StandardCharsets.UTF_8)).isEqualTo("assistant");
        assertThat(dead.value()).containsExactly((byte) 0xff, 1, 2);
        assertThat(globalHeader(dead, DeadLetters.TOPIC_HEADER)).isEqualTo(topics.templates());
        assertThat(globalHeader(dead, DeadLetters.PARTITION_HEADER)).isEqualTo("0");
        assertThat(globalHeader(dead, DeadLetters.OFFSET_HEADER)).isEqualTo("1");
        assertThat(globalHeader(dead, DeadLetters.REASON_HEADER)).startsWith("cannot read TaskTemplate from 3 bytes");
        KeyValueStore<String, TaskTemplate> store = driver.getKeyValueStore(ServingTopology.TEMPLATE_STORE);
        assertThat(store.get("assistant")).isEqualTo(assistant("assistant", 4));
        assertThat(counter("tunestream.dead.letters", "topic", topics.templates(), "reason",
                "SerializationException")).isEqualTo(1.0);
    }

    @Test
    void shouldDeadLetterAnUnreadableAdapterAndKeepTheStoredVersions() {
        start();
        templates.pipeInput("assistant", assistant("assistant", 4));
        adapters.pipeInput("assistant", adapter("assistant", 1, FINGERPRINT, HIDDEN, 4));

        rawAdapters.pipeInput("assistant", new byte[] {0, 0, 0, 0, 9});

        assertThat(globalDeadLetters).hasSize(1);
        assertThat(globalHeader(globalDeadLetters.get(0), DeadLetters.TOPIC_HEADER)).isEqualTo(topics.adapters());
        assertThat(globalHeader(globalDeadLetters.get(0), DeadLetters.OFFSET_HEADER)).isEqualTo("1");
        send("r1");
        assertThat(answers.readValuesToList()).singleElement()
                .satisfies(a -> assertThat(a.getAdapterVersion()).isEqualTo(1));
    }

    @Test
    void shouldRefuseAndCountAnAdapterWithANaNAndKeepServingTheLastGoodOne() {
        start();
        templates.pipeInput("assistant", assistant("assistant", 4));
        adapters.pipeInput("assistant", adapter("assistant", 1, FINGERPRINT, HIDDEN, 4));
        AdapterVersion poisoned = adapter("assistant", 2, FINGERPRINT, HIDDEN, 4);
        ByteBuffer data = ByteBuffer.allocate(4 * HIDDEN * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < 4 * HIDDEN; i++) {
            data.putFloat(i == 9 ? Float.NaN : 0.5f);
        }
        data.flip();
        poisoned.setTable(new Tensor("virtual_tokens", poisoned.getTable().getDtype(), poisoned.getTable().getShape(),
                data));

        adapters.pipeInput("assistant", poisoned);
        send("r1");

        assertThat(answers.readValuesToList()).singleElement()
                .satisfies(a -> assertThat(a.getAdapterVersion()).as("v2 was never applied").isEqualTo(1));
        assertThat(counter("tunestream.adapters.refused", "task", "assistant", "reason", "non_finite")).isEqualTo(1.0);
        assertThat(globalDeadLetters).as("a refusal is not a dead letter: the record is readable").isEmpty();
    }

    @Test
    void shouldRefuseAndCountATemplateBreakingTheTemplateRuleAndKeepTheStoredOne() {
        start();
        templates.pipeInput("assistant", assistant("assistant", 4));
        TaskTemplate broken = assistant("assistant", 4);
        broken.setTotalVirtualTokens(5);

        templates.pipeInput("assistant", broken);

        KeyValueStore<String, TaskTemplate> store = driver.getKeyValueStore(ServingTopology.TEMPLATE_STORE);
        assertThat(store.get("assistant")).isEqualTo(assistant("assistant", 4));
        assertThat(counter("tunestream.templates.refused", "task", "assistant", "reason", "rule")).isEqualTo(1.0);
        assertThat(globalDeadLetters).isEmpty();
    }

    @Test
    void shouldRefuseAndCountAnAddBosTemplateWhenTheModelHasNoBosAndKeepTheStoredOne() {
        start();
        templates.pipeInput("assistant", assistant("assistant", 4));
        TaskTemplate withBos = assistant("assistant", 4);
        withBos.setAddBos(true);

        templates.pipeInput("assistant", withBos);

        KeyValueStore<String, TaskTemplate> store = driver.getKeyValueStore(ServingTopology.TEMPLATE_STORE);
        assertThat(EchoAnswerer.MODEL.hasBos()).isFalse();
        assertThat(store.get("assistant")).isEqualTo(assistant("assistant", 4));
        assertThat(counter("tunestream.templates.refused", "task", "assistant", "reason", "model")).isEqualTo(1.0);
        assertThat(globalDeadLetters).isEmpty();
    }

    private static String globalHeader(ProducerRecord<byte[], byte[]> record, String name) {
        return new String(record.headers().lastHeader(name).value(), StandardCharsets.UTF_8);
    }
}

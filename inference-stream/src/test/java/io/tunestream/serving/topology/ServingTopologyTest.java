package io.tunestream.serving.topology;

import static io.tunestream.serving.testing.Fixtures.adapter;
import static io.tunestream.serving.testing.Fixtures.assistant;
import static io.tunestream.serving.testing.Fixtures.assistantRequest;
import static io.tunestream.serving.testing.Fixtures.pinned;
import static io.tunestream.serving.testing.Fixtures.request;
import static io.tunestream.serving.testing.Fixtures.squad;
import static io.tunestream.serving.testing.Fixtures.squadRequest;
import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.tunestream.schemas.AdapterVersion;
import io.tunestream.schemas.DeadLetters;
import io.tunestream.schemas.Answer;
import io.tunestream.schemas.ErrorKind;
import io.tunestream.schemas.FinishReason;
import io.tunestream.schemas.GenerationOptions;
import io.tunestream.schemas.InferenceRequest;
import io.tunestream.schemas.TaskTemplate;
import io.tunestream.serving.batch.BatchAnswerer;
import io.tunestream.serving.batch.BatchItem;
import io.tunestream.serving.batch.BatchOutcome;
import io.tunestream.serving.batch.ServingModelInfo;
import io.tunestream.serving.ops.ServingMetrics;
import io.tunestream.serving.ops.DecodeWaits;
import io.tunestream.serving.serde.AvroBinarySerde;
import io.tunestream.serving.serde.ServingSerdes;
import io.tunestream.serving.testing.EchoAnswerer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.TopologyTestDriver;
import org.apache.kafka.streams.test.TestRecord;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ServingTopologyTest {

    private static final String FINGERPRINT = EchoAnswerer.MODEL.fingerprint();
    private static final int HIDDEN = EchoAnswerer.MODEL.hiddenSize();
    private static final Instant START = Instant.parse("2026-01-01T00:00:00Z");

    @TempDir
    Path stateDir;

    private final ServingTopics topics = ServingTopics.standard();
    private final ServingSerdes serdes = ServingSerdes.plainAvro();
    private final List<ProducerRecord<byte[], byte[]>> globalDeadLetters = new ArrayList<>();
    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    private final ServingMetrics metrics = new ServingMetrics(registry);
    private final MovableClock clock = new MovableClock(START);
    private EchoAnswerer echo;
    private TopologyTestDriver driver;
    private TestInputTopic<String, InferenceRequest> requests;
    private TestInputTopic<String, TaskTemplate> templates;
    private TestInputTopic<String, AdapterVersion> adapters;
    private TestOutputTopic<String, Answer> answers;

    @AfterEach
    void closeDriver() {
        if (driver != null) {
            driver.close();
        }
    }

    private void start(BatchingSettings settings) {
        start(settings, echo = new EchoAnswerer());
    }

    private void start(BatchingSettings settings, BatchAnswerer answerer) {
        start(settings, answerer, Runnable::run);
    }

    private void start(BatchingSettings settings, BatchAnswerer answerer, java.util.concurrent.Executor executor) {
        var props = new Properties();
        props.put(StreamsConfig.APPLICATION_ID_CONFIG, "serving-topology-test");
        props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, "unused:9092");
        props.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
        props.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
        var recovery = new InputRecovery(globalDeadLetters::add, new DecodeWaits(clock), new StopSignal());
        var topology = ServingTopology.build(topics, serdes, settings, answerer, executor, metrics, clock, recovery);
        driver = new TopologyTestDriver(topology, props, START);
        requests = driver.createInputTopic(topics.requests(), new StringSerializer(), avro(InferenceRequest.class,
                InferenceRequest.getClassSchema()).serializer());
        templates = driver.createInputTopic(topics.templates(), new StringSerializer(), avro(TaskTemplate.class,
                TaskTemplate.getClassSchema()).serializer());
        adapters = driver.createInputTopic(topics.adapters(), new StringSerializer(), avro(AdapterVersion.class,
                AdapterVersion.getClassSchema()).serializer());
        answers = driver.createOutputTopic(topics.answers(), new StringDeserializer(), avro(Answer.class,
                Answer.getClassSchema()).deserializer());
    }

    private static <T extends org.apache.avro.specific.SpecificRecord> AvroBinarySerde<T> avro(Class<T> type,
            org.apache.avro.Schema schema) {
        return new AvroBinarySerde<>(type, schema);
    }

    private void publish(TaskTemplate template) {
        templates.pipeInput(template.getTask(), template);
    }

    private void publish(AdapterVersion adapter) {
        adapters.pipeInput(adapter.getTask(), adapter);
    }

    private void send(InferenceRequest request) {
        requests.pipeInput(request.getRequestId(), request);
    }

    private void advance(Duration duration) {
        clock.advance(duration);
        driver.advanceWallClockTime(duration);
    }

    private Map<String, Answer> answersById() {
        return answers.readValuesToList().stream()
                .collect(Collectors.toMap(Answer::getRequestId, Function.identity()));
    }

    private Answer onlyAnswer() {
        List<Answer> all = answers.readValuesToList();
        assertThat(all).hasSize(1);
        return all.get(0);
    }

    @Test
    void shouldAnswerMixedTasksAndAdapterVersionsInOneBatchWhenTheBatchIsFull() {
        start(BatchingSettings.of(3, Duration.ofSeconds(10)));
        publish(squad("squad", 4));
        publish(assistant("assistant", 4));
        publish(adapter("squad", 1, FINGERPRINT, HIDDEN, 4));

        send(squadRequest("r1", "squad"));
        send(assistantRequest("r2", "assistant"));
        assertThat(answers.isEmpty()).isTrue();
        send(squadRequest("r3", "squad"));

        assertThat(echo.batches()).containsExactly(List.of("r1", "r2", "r3"));
        Map<String, Answer> byId = answersById();
        assertThat(byId.keySet()).containsExactlyInAnyOrder("r1", "r2", "r3");
        Answer r1 = byId.get("r1");
        assertThat(r1.getTask()).isEqualTo("squad");
        assertThat(r1.getAdapterVersion()).isEqualTo(1);
        assertThat(r1.getText()).isEqualTo("squad|v1|Ada lives in Paris.,Where does Ada live?");
        assertThat(r1.getPromptTokens()).isEqualTo(10);
        assertThat(r1.getCompletionTokens()).isEqualTo(2);
        assertThat(r1.getFinishReason()).isEqualTo(FinishReason.LENGTH);
        assertThat(r1.getModelFingerprint()).isEqualTo(FINGERPRINT);
        assertThat(r1.getBatchSize()).isEqualTo(3);
        assertThat(r1.getError()).isNull();
        Answer r2 = byId.get("r2");
        assertThat(r2.getAdapterVersion()).isNull();
        assertThat(r2.getText()).isEqualTo("assistant|base|set an alarm for noon");
        assertThat(registry.get("tunestream.answers").tags("task", "squad", "adapter_version", "1").counter().count())
                .isEqualTo(2.0);
        assertThat(registry.get("tunestream.batch.size").summary().max()).isEqualTo(3.0);
    }

    @Test
    void shouldGoOnTakingRequestsWhileBatchesRunAndAnswerEachOnceTheModelIsDone() {
        var modelThread = new java.util.ArrayDeque<Runnable>();
        start(BatchingSettings.of(2, Duration.ofMillis(100)), echo = new EchoAnswerer(), modelThread::add);
        publish(assistant("assistant", 4));
        for (int i = 1; i <= 6; i++) {
            send(assistantRequest("r" + i, "assistant"));
        }
        advance(Duration.ofMillis(200));
        assertThat(answers.isEmpty()).as("no answer before the model is done").isTrue();
        assertThat(modelThread).as("two batches in flight per task, the third waits").hasSize(2);

        modelThread.poll().run();
        advance(Duration.ofMillis(25));

        assertThat(answers.readValuesToList()).extracting(Answer::getRequestId).containsExactly("r1", "r2");
        assertThat(modelThread).as("the third batch started").hasSize(2);
        modelThread.poll().run();
        modelThread.poll().run();
        advance(Duration.ofMillis(25));
        assertThat(answers.readValuesToList()).extracting(Answer::getRequestId)
                .containsExactly("r3", "r4", "r5", "r6");
        assertThat(echo.batches()).containsExactly(List.of("r1", "r2"), List.of("r3", "r4"), List.of("r5", "r6"));
    }

    @Test
    void shouldHaveOneBatchInFlightWhenConfiguredSo() {
        var modelThread = new java.util.ArrayDeque<Runnable>();
        start(new BatchingSettings(2, Duration.ofMillis(100), Duration.ofMillis(25), 2, 5, 1000, 1),
                echo = new EchoAnswerer(), modelThread::add);
        publish(assistant("assistant", 4));
        for (int i = 1; i <= 4; i++) {
            send(assistantRequest("r" + i, "assistant"));
        }
        advance(Duration.ofMillis(200));

        assertThat(modelThread).hasSize(1);
    }

    @Test
    void shouldKeyEachAnswerByItsRequestId() {
        start(BatchingSettings.of(1, Duration.ofSeconds(10)));
        publish(assistant("assistant", 4));
        send(assistantRequest("r-key", "assistant"));

        TestRecord<String, Answer> answer = answers.readRecord();
        assertThat(answer.key()).isEqualTo("r-key");
        assertThat(answer.value().getRequestId()).isEqualTo("r-key");
    }

    @Test
    void shouldWaitForMoreRequestsUntilMaxWaitThenRunAPartialBatch() {
        start(BatchingSettings.of(8, Duration.ofMillis(100)));
        publish(assistant("assistant", 4));
        send(assistantRequest("r1", "assistant"));
        advance(Duration.ofMillis(40));
        send(assistantRequest("r2", "assistant"));
        advance(Duration.ofMillis(40));
        assertThat(answers.isEmpty()).isTrue();

        advance(Duration.ofMillis(40));

        assertThat(echo.batches()).containsExactly(List.of("r1", "r2"));
        Map<String, Answer> byId = answersById();
        assertThat(byId.get("r1").getQueueMillis()).isEqualTo(120);
        assertThat(byId.get("r2").getQueueMillis()).isEqualTo(80);
        assertThat(byId.get("r1").getBatchSize()).isEqualTo(2);
    }

    @Test
    void shouldUseANewAdapterVersionForRequestsProcessedAfterItArrives() {
        start(BatchingSettings.of(1, Duration.ofSeconds(10)));
        publish(squad("squad", 4));
        publish(adapter("squad", 1, FINGERPRINT, HIDDEN, 4));
        send(squadRequest("before", "squad"));

        publish(adapter("squad", 2, FINGERPRINT, HIDDEN, 4));
        send(squadRequest("after", "squad"));

        Map<String, Answer> byId = answersById();
        assertThat(byId.get("before").getAdapterVersion()).isEqualTo(1);
        assertThat(byId.get("after").getAdapterVersion()).isEqualTo(2);
        assertThat(byId.get("after").getText()).startsWith("squad|v2|");
    }

    @Test
    void shouldResolveTheAdapterWhenTheBatchRunsNotWhenTheRequestArrives() {
        start(BatchingSettings.of(8, Duration.ofMillis(100)));
        publish(squad("squad", 4));
        send(squadRequest("r1", "squad"));
        publish(adapter("squad", 1, FINGERPRINT, HIDDEN, 4));

        advance(Duration.ofMillis(100));

        assertThat(onlyAnswer().getAdapterVersion()).isEqualTo(1);
    }

    @Test
    void shouldUseThePinnedVersionWhenTheRequestNamesOne() {
        start(BatchingSettings.of(2, Duration.ofSeconds(10)));
        publish(squad("squad", 4));
        publish(adapter("squad", 1, FINGERPRINT, HIDDEN, 4));
        publish(adapter("squad", 2, FINGERPRINT, HIDDEN, 4));

        send(pinned(squadRequest("pinned", "squad"), 1));
        send(squadRequest("latest", "squad"));

        Map<String, Answer> byId = answersById();
        assertThat(byId.get("pinned").getAdapterVersion()).isEqualTo(1);
        assertThat(byId.get("pinned").getText()).startsWith("squad|v1|");
        assertThat(byId.get("latest").getAdapterVersion()).isEqualTo(2);
    }

    @Test
    void shouldAnswerNoAdapterWhenThePinnedVersionIsNoLongerKept() {
        start(new BatchingSettings(1, Duration.ofSeconds(1), Duration.ofMillis(100), 2, 2, 1000));
        publish(squad("squad", 4));
        for (int v = 1; v <= 3; v++) {
            publish(adapter("squad", v, FINGERPRINT, HIDDEN, 4));
        }
        send(pinned(squadRequest("old", "squad"), 1));
        send(pinned(squadRequest("kept", "squad"), 2));

        Map<String, Answer> byId = answersById();
        Answer old = byId.get("old");
        assertThat(old.getFinishReason()).isEqualTo(FinishReason.ERROR);
        assertThat(old.getAdapterVersion()).isNull();
        assertThat(old.getError().getKind()).isEqualTo(ErrorKind.NO_ADAPTER);
        assertThat(old.getError().getMessage()).isEqualTo("request old, task squad: pinned adapter version 1 is not "
                + "available (latest accepted is v3; only recent accepted versions are kept)");
        assertThat(byId.get("kept").getAdapterVersion()).isEqualTo(2);
    }

    @Test
    void shouldForgetTheAnswersCounterOfAVersionTheStoreNoLongerKeeps() {
        start(new BatchingSettings(2, Duration.ofSeconds(1), Duration.ofMillis(100), 2, 2, 1000));
        publish(squad("squad", 4));
        publish(adapter("squad", 1, FINGERPRINT, HIDDEN, 4));
        publish(adapter("squad", 2, FINGERPRINT, HIDDEN, 4));
        send(pinned(squadRequest("old", "squad"), 1));
        send(squadRequest("latest", "squad"));
        assertThat(answersById()).hasSize(2);
        assertThat(registry.find("tunestream.answers").tags("adapter_version", "1").counter()).isNotNull();

        publish(adapter("squad", 3, FINGERPRINT, HIDDEN, 4)); // keeps 2: v1 leaves the store

        assertThat(registry.find("tunestream.answers").tags("task", "squad", "adapter_version", "1").counter()).isNull();
        assertThat(registry.get("tunestream.answers").tags("task", "squad", "adapter_version", "2").counter().count())
                .isEqualTo(1);
    }

    @Test
    void shouldRefuseAnAdapterTunedForAnotherModel() {
        start(BatchingSettings.of(1, Duration.ofSeconds(10)));
        publish(squad("squad", 4));
        publish(adapter("squad", 1, FINGERPRINT, HIDDEN, 4));
        publish(adapter("squad", 2, "another-model", HIDDEN, 4));

        send(squadRequest("r1", "squad"));

        assertThat(onlyAnswer().getAdapterVersion()).isEqualTo(1);
        assertThat(registry.get("tunestream.adapters.refused").tags("task", "squad", "reason", "fingerprint")
                .counter().count()).isEqualTo(1.0);
    }

    @Test
    void shouldRefuseAnAdapterOfAnotherHiddenSize() {
        start(BatchingSettings.of(1, Duration.ofSeconds(10)));
        publish(squad("squad", 4));
        publish(adapter("squad", 1, FINGERPRINT, HIDDEN * 2, 4));

        send(squadRequest("r1", "squad"));

        Answer answer = onlyAnswer();
        assertThat(answer.getError().getKind()).isEqualTo(ErrorKind.NO_ADAPTER);
        assertThat(registry.get("tunestream.adapters.refused").tags("task", "squad", "reason", "hidden_size")
                .counter().count()).isEqualTo(1.0);
    }

    @Test
    void shouldAnswerNoAdapterWhenTheTaskHasNoneAndItsTemplateForbidsTheBaseModel() {
        start(BatchingSettings.of(1, Duration.ofSeconds(10)));
        publish(squad("squad", 4));

        send(squadRequest("r1", "squad"));

        Answer answer = onlyAnswer();
        assertThat(answer.getFinishReason()).isEqualTo(FinishReason.ERROR);
        assertThat(answer.getText()).isEmpty();
        assertThat(answer.getError().getKind()).isEqualTo(ErrorKind.NO_ADAPTER);
        assertThat(answer.getError().getMessage()).isEqualTo(
                "request r1, task squad: no adapter published for the task and its template does not allow the base model");
        assertThat(registry.get("tunestream.errors").tags("kind", "NO_ADAPTER").counter().count()).isEqualTo(1.0);
    }

    @Test
    void shouldAnswerAdapterMismatchWhenTheTemplateChangedItsSplits() {
        start(BatchingSettings.of(1, Duration.ofSeconds(10)));
        publish(squad("squad", 4));
        publish(adapter("squad", 1, FINGERPRINT, HIDDEN, 4));
        publish(squad("squad", 6));

        send(squadRequest("r1", "squad"));

        Answer answer = onlyAnswer();
        assertThat(answer.getError().getKind()).isEqualTo(ErrorKind.ADAPTER_MISMATCH);
        assertThat(answer.getError().getMessage()).isEqualTo("request r1, task squad: adapter v1 was tuned with "
                + "virtualTokenSplits [4] but the task's template has [6]");
    }

    @Test
    void shouldAnswerUnknownTaskAtOnce() {
        start(BatchingSettings.of(8, Duration.ofSeconds(10)));

        send(squadRequest("r1", "nope"));

        Answer answer = onlyAnswer();
        assertThat(answer.getRequestId()).isEqualTo("r1");
        assertThat(answer.getTask()).isEqualTo("nope");
        assertThat(answer.getError().getKind()).isEqualTo(ErrorKind.UNKNOWN_TASK);
        assertThat(answer.getError().getMessage())
                .isEqualTo("request r1, task nope: unknown task (no template on the task-templates topic)");
    }

    @Test
    void shouldAnswerInvalidRequestWhenAFieldOfTheTemplateIsMissing() {
        start(BatchingSettings.of(8, Duration.ofSeconds(10)));
        publish(squad("squad", 4));

        send(request("r1", "squad", Map.of("context", "Ada lives in Paris.")));

        Answer answer = onlyAnswer();
        assertThat(answer.getError().getKind()).isEqualTo(ErrorKind.INVALID_REQUEST);
        assertThat(answer.getError().getMessage()).isEqualTo("request r1, task squad: missing field 'question'");
    }

    @Test
    void shouldAnswerInvalidRequestWhenTheKeyIsNotTheRequestId() {
        start(BatchingSettings.of(8, Duration.ofSeconds(10)));
        publish(squad("squad", 4));

        requests.pipeInput("other", squadRequest("r1", "squad"));

        Answer answer = onlyAnswer();
        assertThat(answer.getError().getMessage()).isEqualTo("request r1: record key 'other' differs from requestId");
    }

    @Test
    void shouldAnswerInvalidRequestWhenAnOptionIsOutOfRange() {
        start(BatchingSettings.of(8, Duration.ofSeconds(10)));
        publish(squad("squad", 4));
        var request = InferenceRequest.newBuilder(squadRequest("r1", "squad"))
                .setOptions(GenerationOptions.newBuilder().setTopP(0f).build()).build();

        send(request);

        assertThat(onlyAnswer().getError().getMessage())
                .isEqualTo("request r1, task squad: options.topP must be in (0, 1], was 0.0");
    }

    @Test
    void shouldAnswerPromptTooLongWhenTheFieldsExceedTheCharacterLimit() {
        start(new BatchingSettings(8, Duration.ofSeconds(1), Duration.ofMillis(100), 2, 5, 30));
        publish(squad("squad", 4));

        send(squadRequest("r1", "squad"));

        Answer answer = onlyAnswer();
        assertThat(answer.getError().getKind()).isEqualTo(ErrorKind.PROMPT_TOO_LONG);
        assertThat(answer.getError().getMessage())
                .isEqualTo("request r1, task squad: fields hold 39 characters, more than the serving limit of 30");
    }

    @Test
    void shouldAnswerPromptTooLongWhenMaxNewTokensLeavesNoRoomForThePrompt() {
        start(BatchingSettings.of(8, Duration.ofSeconds(10)));
        publish(squad("squad", 4));
        var request = InferenceRequest.newBuilder(squadRequest("r1", "squad"))
                .setOptions(GenerationOptions.newBuilder().setMaxNewTokens(124).build()).build();

        send(request);

        assertThat(onlyAnswer().getError().getMessage()).isEqualTo("request r1, task squad: options.maxNewTokens 124 "
                + "plus 4 virtual tokens leave no room for the prompt in 128 positions (min of the task's "
                + "maxSeqLength and the model's positions)");
    }

    @Test
    void shouldDeadLetterAnUnreadableRequestWithItsSourceAndReasonAndGoOn() {
        start(BatchingSettings.of(1, Duration.ofSeconds(10)));
        publish(assistant("assistant", 4));
        var raw = driver.createInputTopic(topics.requests(), new StringSerializer(), new ByteArraySerializer());
        var dlq = driver.createOutputTopic(topics.deadLetter(), new ByteArrayDeserializer(),
                new ByteArrayDeserializer());

        raw.pipeInput("garbage", new byte[] {(byte) 0xff, 0x01, 0x02});
        send(assistantRequest("r2", "assistant"));

        assertThat(onlyAnswer().getRequestId()).isEqualTo("r2");
        List<TestRecord<byte[], byte[]>> dead = dlq.readRecordsToList();
        assertThat(dead).hasSize(1);
        assertThat(new String(dead.get(0).key(), StandardCharsets.UTF_8)).isEqualTo("garbage");
        assertThat(dead.get(0).value()).containsExactly((byte) 0xff, 0x01, 0x02);
        assertThat(header(dead.get(0), DeadLetters.TOPIC_HEADER)).isEqualTo(topics.requests());
        assertThat(header(dead.get(0), DeadLetters.PARTITION_HEADER)).isEqualTo("0");
        assertThat(header(dead.get(0), DeadLetters.OFFSET_HEADER)).isEqualTo("0");
        assertThat(header(dead.get(0), DeadLetters.REASON_HEADER)).startsWith("cannot read InferenceRequest from 3 bytes");
        assertThat(header(dead.get(0), DeadLetters.EXCEPTION_HEADER))
                .isEqualTo("org.apache.kafka.common.errors.SerializationException");
        assertThat(registry.get("tunestream.dead.letters").tag("topic", topics.requests())
                .tag("reason", "SerializationException").counter().count()).isEqualTo(1.0);
    }

    static String header(TestRecord<byte[], byte[]> record, String name) {
        return new String(record.headers().lastHeader(name).value(), StandardCharsets.UTF_8);
    }

    @Test
    void shouldAnswerGenerationFailedForEveryRowWhenTheModelThrows() {
        BatchAnswerer failing = new BatchAnswerer() {
            @Override
            public ServingModelInfo model() {
                return EchoAnswerer.MODEL;
            }

            @Override
            public List<BatchOutcome> answer(List<BatchItem> items) {
                throw new IllegalStateException("out of memory in the KV cache");
            }
        };
        start(BatchingSettings.of(2, Duration.ofSeconds(10)), failing);
        publish(assistant("assistant", 4));

        send(assistantRequest("r1", "assistant"));
        send(assistantRequest("r2", "assistant"));

        Map<String, Answer> byId = answersById();
        assertThat(byId).hasSize(2);
        assertThat(byId.get("r1").getError().getKind()).isEqualTo(ErrorKind.GENERATION_FAILED);
        assertThat(byId.get("r1").getError().getMessage()).isEqualTo("request r1, task assistant: batch of 2 failed: "
                + "java.lang.IllegalStateException: out of memory in the KV cache");
    }

    @Test
    void shouldAnswerARowFailureOnlyForThatRow() {
        BatchAnswerer oneFails = new BatchAnswerer() {
            @Override
            public ServingModelInfo model() {
                return EchoAnswerer.MODEL;
            }

            @Override
            public List<BatchOutcome> answer(List<BatchItem> items) {
                return items.stream().<BatchOutcome>map(i -> i.requestId().equals("long")
                        ? new BatchOutcome.Failed(ErrorKind.PROMPT_TOO_LONG, "request long: 300 tokens")
                        : new BatchOutcome.Generated("ok", 3, 1, FinishReason.EOS)).toList();
            }
        };
        start(BatchingSettings.of(2, Duration.ofSeconds(10)), oneFails);
        publish(assistant("assistant", 4));

        send(assistantRequest("long", "assistant"));
        send(assistantRequest("short", "assistant"));

        Map<String, Answer> byId = answersById();
        assertThat(byId.get("long").getError().getKind()).isEqualTo(ErrorKind.PROMPT_TOO_LONG);
        assertThat(byId.get("short").getText()).isEqualTo("ok");
        assertThat(byId.get("short").getFinishReason()).isEqualTo(FinishReason.EOS);
    }

    /** A clock the test moves together with the driver's wall-clock time. */
    static final class MovableClock extends Clock {
        private Instant now;

        MovableClock(Instant start) {
            now = start;
        }

        void advance(Duration d) {
            now = now.plus(d);
        }

        @Override
        public Instant instant() {
            return now;
        }

        @Override
        public java.time.ZoneId getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(java.time.ZoneId zone) {
            return this;
        }
    }
}

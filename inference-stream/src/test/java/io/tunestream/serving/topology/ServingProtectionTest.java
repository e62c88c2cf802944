package io.tunestream.serving.topology;

import io.tunestream.serving.ops.DecodeWaits;
import io.tunestream.schemas.DeadLetters;
import io.tunestream.schemas.TaskTemplate;
import io.tunestream.serving.serde.AvroBinarySerde;
import static io.tunestream.serving.testing.Fixtures.assistant;
import static io.tunestream.serving.testing.Fixtures.assistantRequest;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.tunestream.schemas.Answer;
import io.tunestream.schemas.ErrorKind;
import io.tunestream.schemas.FinishReason;
import io.tunestream.schemas.GenerationOptions;
import io.tunestream.schemas.InferenceRequest;
import io.tunestream.serving.batch.BatchAnswerer;
import io.tunestream.serving.batch.BatchItem;
import io.tunestream.serving.batch.BatchOutcome;
import io.tunestream.serving.batch.ModelLiveness;
import io.tunestream.serving.batch.TransientBatchFailure;
import io.tunestream.serving.ops.ServingMetrics;
import io.tunestream.serving.serde.ServingSerdes;
import io.tunestream.serving.testing.BlockingAnswerer;
import io.tunestream.serving.testing.EchoAnswerer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
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

/** Issue 14: sizes, deadline, age, back-pressure, revocation, duplicates and retries of the serving topology. */
class ServingProtectionTest {

    private static final Instant START = Instant.parse("2026-01-01T00:00:00Z");
    private static final Duration PATIENCE = Duration.ofSeconds(10);

    @TempDir
    Path stateDir;

    private final ServingTopics topics = ServingTopics.standard();
    private final ServingSerdes serdes = ServingSerdes.plainAvro();
    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    private final ServingMetrics metrics = new ServingMetrics(registry);
    private final ServingTopologyTest.MovableClock clock = new ServingTopologyTest.MovableClock(START);
    private final ExecutorService modelThread = Executors.newSingleThreadExecutor();
    private ModelLiveness liveness;
    private TopologyTestDriver driver;
    private TestInputTopic<String, InferenceRequest> requests;
    private TestOutputTopic<String, Answer> answers;
    private TestOutputTopic<String, byte[]> deadLetters;

    @AfterEach
    void closeDriver() throws InterruptedException {
        if (driver != null) {
            driver.close();
        }
        modelThread.shutdownNow();
        assertThat(modelThread.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
    }

    private void start(BatchingSettings settings, BatchAnswerer answerer, boolean onModelThread) {
        start(settings, answerer, onModelThread ? modelThread : Runnable::run);
    }

    private void start(BatchingSettings settings, BatchAnswerer answerer, java.util.concurrent.Executor executor) {
        var props = new Properties();
        props.put(StreamsConfig.APPLICATION_ID_CONFIG, "serving-protection-test");
        props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, "unused:9092");
        props.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
        props.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
        liveness = new ModelLiveness(clock, settings.cancelGrace());
        var topology = ServingTopology.build(topics, serdes, settings, answerer, executor, metrics, liveness, clock,
                new InputRecovery(deadLetter -> { }, new DecodeWaits(clock), new StopSignal()));
        driver = new TopologyTestDriver(topology, props, START);
        requests = driver.createInputTopic(topics.requests(), new StringSerializer(), new AvroBinarySerde<>(InferenceRequest.class, InferenceRequest.getClassSchema()).serializer());
        answers = driver.createOutputTopic(topics.answers(), new StringDeserializer(), new AvroBinarySerde<>(Answer.class, Answer.getClassSchema()).deserializer());
        deadLetters = driver.createOutputTopic(topics.deadLetter(), new StringDeserializer(),
                new ByteArrayDeserializer());
        driver.createInputTopic(topics.templates(), new StringSerializer(), new AvroBinarySerde<>(TaskTemplate.class, TaskTemplate.getClassSchema()).serializer())
                .pipeInput("assistant", assistant("assistant", 4));
    }

    private void send(InferenceRequest request) {
        requests.pipeInput(request.getRequestId(), request);
    }

    private void advance(Duration duration) {
        clock.advance(duration);
        driver.advanceWallClockTime(duration);
    }

    private double count(String name) {
        var counter = registry.find(name).counter();
        return counter == null ? 0 : counter.count();
    }

    /** A model answering each batch with {@code answer}. */
    private static BatchAnswerer answerer(java.util.function.Function<List<BatchItem>, List<BatchOutcome>> answer) {
        return new BatchAnswerer() {
            @Override
            public io.tunestream.serving.batch.ServingModelInfo model() {
                return EchoAnswerer.MODEL;
            }

            @Override
            public List<BatchOutcome> answer(List<BatchItem> items) {
                return answer.apply(items);
            }
        };
    }

    private static InferenceRequest withOptions(InferenceRequest request, GenerationOptions options) {
        return InferenceRequest.newBuilder(request).setOptions(options).build();
    }

    // ---- sizes

    @Test
    void shouldDeadLetterARequestWhoseIdIsTooLongToKeyAnAnswerAndAnswerTheNextOne() {
        start(BatchingSettings.of(1, Duration.ofSeconds(1)), new EchoAnswerer(), false);
        String id = "x".repeat(600 * 1024);

        send(assistantRequest(id, "assistant"));
        send(assistantRequest("next", "assistant"));

        TestRecord<String, byte[]> dead = deadLetters.readRecord();
        assertThat(dead.key()).isEqualTo("x".repeat(64));
        assertThat(dead.value()).isNull();
        assertThat(new String(dead.headers().lastHeader(DeadLetters.REASON_HEADER).value(),
                StandardCharsets.UTF_8)).isEqualTo("request id '" + "x".repeat(32) + "...(614400 chars)' has 614400 "
                + "characters, more than the limit of 256: an answer cannot be keyed by it");
        assertThat(new String(dead.headers().lastHeader(DeadLetters.OFFSET_HEADER).value(),
                StandardCharsets.UTF_8)).isEqualTo("0");
        assertThat(answers.readValuesToList()).extracting(Answer::getRequestId).containsExactly("next");
        assertThat(count("tunestream.dead.letters")).isEqualTo(1);
    }

    @Test
    void shouldAnswerInvalidRequestWhenStopStringsBreakTheLimits() {
        start(BatchingSettings.of(1, Duration.ofSeconds(1)), new EchoAnswerer(), false);

        send(withOptions(assistantRequest("many-stops", "assistant"),
                GenerationOptions.newBuilder().setStop(Collections.nCopies(17, ".")).build()));

        Answer answer = answers.readValue();
        assertThat(answer.getError().getKind()).isEqualTo(ErrorKind.INVALID_REQUEST);
        assertThat(answer.getError().getMessage()).isEqualTo("request many-stops: 17 stop strings, more than the limit of 16");
    }

    @Test
    void shouldAnswerInvalidRequestWithoutRepeatingATaskNameOverTheLimit() {
        start(BatchingSettings.of(1, Duration.ofSeconds(1)), new EchoAnswerer(), false);

        send(assistantRequest("r1", "t".repeat(600 * 1024)));

        Answer answer = answers.readValue();
        assertThat(answer.getTask()).isEmpty();
        assertThat(answer.getError().getKind()).isEqualTo(ErrorKind.INVALID_REQUEST);
        assertThat(answer.getError().getMessage()).isEqualTo("request r1: task name '" + "t".repeat(32)
                + "...(614400 chars)' has 614400 characters, more than the limit of 128");
    }

    @Test
    void shouldTruncateAnErrorMessageThatWouldNotFitTheAnswersTopic() {
        BatchAnswerer verbose = answerer(items -> {
            return items.stream().<BatchOutcome>map(i -> new BatchOutcome.Failed(ErrorKind.GENERATION_FAILED,
                    "e".repeat(2_000_000))).toList();
        });
        start(BatchingSettings.of(1, Duration.ofSeconds(1)).withMaxAnswerBytes(64 * 1024), verbose, false);

        send(assistantRequest("r1", "assistant"));

        Answer answer = answers.readValue();
        assertThat(answer.getError().getKind()).isEqualTo(ErrorKind.GENERATION_FAILED);
        assertThat(answer.getError().getMessage()).startsWith("eeee").endsWith("...(truncated from 2000000 chars)");
        assertThat(new AnswerFit(64 * 1024).size(answer)).isBetween(60 * 1024, 64 * 1024 - AnswerFit.OVERHEAD_BYTES);
        assertThat(count("tunestream.answers.shrunk")).isEqualTo(1);
    }

    @Test
    void shouldReplaceATextAnswerThatWouldNotFitByAnErrorAnswer() {
        BatchAnswerer chatty = answerer(items -> {
            return items.stream().<BatchOutcome>map(i -> new BatchOutcome.Generated("w".repeat(100_000), 3, 1,
                    FinishReason.LENGTH)).toList();
        });
        start(BatchingSettings.of(1, Duration.ofSeconds(1)).withMaxAnswerBytes(64 * 1024), chatty, false);

        send(assistantRequest("r1", "assistant"));

        Answer answer = answers.readValue();
        assertThat(answer.getText()).isEmpty();
        assertThat(answer.getFinishReason()).isEqualTo(FinishReason.ERROR);
        assertThat(answer.getError().getKind()).isEqualTo(ErrorKind.INTERNAL);
        assertThat(answer.getError().getMessage()).startsWith("request r1, task assistant: the answer of ")
                .endsWith(" bytes exceeds the answers topic's limit of 65536 bytes");
    }

    // ---- deadline

    @Test
    void shouldCancelABatchPastItsDeadlineAndAnswerTimeoutForEachRequest() {
        BlockingAnswerer hung = BlockingAnswerer.stoppedByCancellation();
        start(BatchingSettings.of(2, Duration.ofMillis(100)).withBatchTimeout(Duration.ofSeconds(2),
                Duration.ofSeconds(5)), hung, true);
        send(assistantRequest("r1", "assistant"));
        send(assistantRequest("r2", "assistant"));
        await().atMost(PATIENCE).until(() -> hung.entered() == 1);

        advance(Duration.ofMillis(1_900));
        assertThat(answers.isEmpty()).isTrue();
        advance(Duration.ofMillis(200));

        List<Answer> timedOut = answers.readValuesToList();
        assertThat(timedOut).extracting(Answer::getRequestId).containsExactly("r1", "r2");
        assertThat(timedOut).extracting(a -> a.getError().getKind()).containsOnly(ErrorKind.TIMEOUT);
        assertThat(timedOut.get(0).getError().getMessage()).isEqualTo("request r1, task assistant: the batch of 2 did "
                + "not finish within batch.timeout.ms 2000 and was cancelled");
        await().atMost(PATIENCE).until(() -> hung.cancelled() == 1);
        assertThat(count("tunestream.batches.timed.out")).isEqualTo(1);
        assertThat(liveness.getAsBoolean()).isTrue();

        // the buffer is free, and a timed-out request may be sent again with its id: the released model answers
        hung.release();
        send(assistantRequest("r1", "assistant"));
        send(assistantRequest("r3", "assistant"));
        await().atMost(PATIENCE).until(() -> {
            advance(Duration.ofMillis(50));
            return !answers.isEmpty();
        });
        assertThat(answers.readValuesToList()).extracting(Answer::getRequestId).containsExactly("r1", "r3");
    }

    @Test
    void shouldTurnLivenessOffWhenACancelledCallDoesNotReturnWithinTheGrace() {
        BlockingAnswerer stuck = BlockingAnswerer.ignoringCancellation();
        start(BatchingSettings.of(1, Duration.ofMillis(100)).withBatchTimeout(Duration.ofSeconds(1),
                Duration.ofSeconds(3)), stuck, true);
        metrics.bindLiveness(liveness);
        send(assistantRequest("r1", "assistant"));
        await().atMost(PATIENCE).until(() -> stuck.entered() == 1);

        advance(Duration.ofMillis(1_100));
        assertThat(answers.readValue().getError().getKind()).isEqualTo(ErrorKind.TIMEOUT);
        assertThat(liveness.getAsBoolean()).as("within the grace").isTrue();
        advance(Duration.ofSeconds(3));
        assertThat(liveness.getAsBoolean()).as("stuck past the grace").isFalse();
        assertThat(registry.find("tunestream.model.stuck.calls").gauge().value()).isEqualTo(1);

        stuck.release();
        await().atMost(PATIENCE).until(liveness::getAsBoolean);
        assertThat(answers.isEmpty()).as("the late outcome is dropped").isTrue();
    }

    // ---- age

    @Test
    void shouldAnswerExpiredWhenARequestIsOlderThanTheMaxAgeOnArrivalOrWhenItsBatchStarts() {
        var echo = new EchoAnswerer();
        start(BatchingSettings.of(2, Duration.ofSeconds(10)).withRequestMaxAge(Duration.ofSeconds(5)), echo, false);

        send(InferenceRequest.newBuilder(assistantRequest("old", "assistant"))
                .setCreatedAtMillis(START.toEpochMilli() - 6_000).build());
        Answer old = answers.readValue();
        assertThat(old.getError().getKind()).isEqualTo(ErrorKind.EXPIRED);
        assertThat(old.getError().getMessage()).isEqualTo(
                "request old, task assistant: 6000 ms old, more than request.max.age.ms 5000");

        send(assistantRequest("waits", "assistant"));
        advance(Duration.ofSeconds(10));
        assertThat(answers.readValue().getError().getKind()).isEqualTo(ErrorKind.EXPIRED);
        assertThat(echo.batches()).isEmpty();
        assertThat(registry.find("tunestream.errors").tag("kind", "EXPIRED").counter().count()).isEqualTo(2);
    }

    // ---- back-pressure

    @Test
    void shouldHoldInputBackForABoundedTimeWhileTheBufferIsOverItsLimit() {
        BlockingAnswerer hung = BlockingAnswerer.stoppedByCancellation();
        var settings = new BatchingSettings(1, Duration.ofMillis(10), Duration.ofMillis(5), 2, 5, 1000, 1)
                .withBackPressure(2, Duration.ofMillis(300));
        start(settings, hung, true);
        send(assistantRequest("r1", "assistant"));
        send(assistantRequest("r2", "assistant"));
        await().atMost(PATIENCE).until(() -> hung.entered() == 1);

        long before = System.nanoTime();
        send(assistantRequest("r3", "assistant"));
        long heldMillis = (System.nanoTime() - before) / 1_000_000;

        assertThat(heldMillis).isBetween(300L, 3_000L);
        assertThat(registry.find("tunestream.backpressure.wait").timer().count()).isEqualTo(1);
        assertThat(answers.isEmpty()).isTrue();
    }

    @Test
    void shouldCompleteTheBatchesInFlightBeforeTakingMoreInputWhenTheBufferIsOverItsLimit() {
        BlockingAnswerer hung = BlockingAnswerer.stoppedByCancellation();
        var settings = new BatchingSettings(1, Duration.ofMillis(10), Duration.ofMillis(5), 2, 5, 1000, 1)
                .withBackPressure(2, Duration.ofSeconds(5));
        start(settings, hung, true);
        send(assistantRequest("r1", "assistant"));
        send(assistantRequest("r2", "assistant"));
        await().atMost(PATIENCE).until(() -> hung.entered() == 1);

        var releaser = Executors.newSingleThreadScheduledExecutor();
        try {
            releaser.schedule(hung::release, 100, TimeUnit.MILLISECONDS);
            send(assistantRequest("r3", "assistant"));
        } finally {
            releaser.shutdown();
        }

        // process() returned only once the model answered enough to bring the buffer back to its limit
        assertThat(answers.readValuesToList()).extracting(Answer::getRequestId).startsWith("r1");
    }

    // ---- rebalance

    @Test
    void shouldCancelTheBatchInFlightWhenTheTaskClosesAndAnswerNothing() {
        BlockingAnswerer hung = BlockingAnswerer.stoppedByCancellation();
        start(BatchingSettings.of(1, Duration.ofMillis(10)), hung, true);
        send(assistantRequest("r1", "assistant"));
        await().atMost(PATIENCE).until(() -> hung.entered() == 1);
        assertThat(answers.isEmpty()).isTrue();

        driver.close();
        driver = null;

        await().atMost(PATIENCE).until(() -> hung.cancelled() == 1);
        assertThat(count("tunestream.batches.handed.back")).isEqualTo(1);
    }

    @Test
    void shouldKeepABatchTheFullModelQueueRefusedBufferedAndRunItLater() {
        BlockingAnswerer hung = BlockingAnswerer.stoppedByCancellation();
        // one worker, no queue: while a batch runs, the next one is refused
        var noQueue = new java.util.concurrent.ThreadPoolExecutor(1, 1, 0, TimeUnit.MILLISECONDS,
                new java.util.concurrent.SynchronousQueue<>());
        try {
            start(BatchingSettings.of(1, Duration.ofMillis(10)), hung, noQueue);

            send(assistantRequest("r1", "assistant"));
            await().atMost(PATIENCE).until(() -> hung.entered() == 1);
            send(assistantRequest("r2", "assistant"));
            assertThat(count("tunestream.batches.refused.by.executor")).isEqualTo(1);

            hung.release();
            await().atMost(PATIENCE).until(() -> {
                advance(Duration.ofMillis(20));
                return answers.getQueueSize() >= 2;
            });
            assertThat(answers.readValuesToList()).extracting(Answer::getRequestId).containsExactly("r1", "r2");
        } finally {
            noQueue.shutdownNow();
        }
    }

    // ---- duplicates

    @Test
    void shouldAnswerARequestIdOnceWithinTheDedupeWindowAndAgainAfterIt() {
        var echo = new EchoAnswerer();
        start(BatchingSettings.of(1, Duration.ofMillis(100)).withDedupeWindow(Duration.ofMinutes(1)), echo, false);

        send(assistantRequest("r1", "assistant"));
        assertThat(answers.readValuesToList()).hasSize(1);
        advance(Duration.ofSeconds(30));
        send(assistantRequest("r1", "assistant"));
        assertThat(answers.isEmpty()).isTrue();
        assertThat(count("tunestream.duplicates")).isEqualTo(1);

        advance(Duration.ofSeconds(31));
        send(assistantRequest("r1", "assistant"));
        assertThat(answers.readValuesToList()).extracting(Answer::getRequestId).containsExactly("r1");
        assertThat(echo.batches()).containsExactly(List.of("r1"), List.of("r1"));
    }

    @Test
    void shouldAnswerOnlyOneOfTwoBufferedRequestsWithTheSameId() {
        var echo = new EchoAnswerer();
        start(BatchingSettings.of(2, Duration.ofMillis(100)), echo, false);

        send(assistantRequest("same", "assistant"));
        send(assistantRequest("same", "assistant"));

        assertThat(answers.readValuesToList()).extracting(Answer::getRequestId).containsExactly("same");
        assertThat(count("tunestream.duplicates")).isEqualTo(1);
    }

    // ---- retries

    @Test
    void shouldSplitABatchThatRanOutOfMemoryAndAnswerEveryRequest() {
        var calls = new CopyOnWriteArrayList<List<String>>();
        BatchAnswerer smallBatchesOnly = answerer(items -> {
            calls.add(items.stream().map(BatchItem::requestId).toList());
            if (items.size() > 1) {
                throw new TransientBatchFailure("CUDA out of memory", true);
            }
            return new EchoAnswerer().answer(items);
        });
        start(BatchingSettings.of(2, Duration.ofMillis(100)), smallBatchesOnly, false);

        send(assistantRequest("r1", "assistant"));
        send(assistantRequest("r2", "assistant"));

        assertThat(calls).containsExactly(List.of("r1", "r2"), List.of("r1"), List.of("r2"));
        assertThat(answers.readValuesToList()).allSatisfy(a -> assertThat(a.getError()).isNull()).hasSize(2);
        assertThat(count("tunestream.batch.splits")).isEqualTo(1);
    }

    @Test
    void shouldRetryATransientFailureThenAnswerGenerationFailedWhenTheRetriesAreSpent() {
        var calls = new ArrayList<Integer>();
        BatchAnswerer flaky = answerer(items -> {
            calls.add(items.size());
            if (calls.size() < 2) {
                throw new TransientBatchFailure("device busy", false);
            }
            return new EchoAnswerer().answer(items);
        });
        start(BatchingSettings.of(1, Duration.ofMillis(100)).withBatchRetries(1), flaky, false);
        send(assistantRequest("r1", "assistant"));
        assertThat(answers.readValue().getError()).isNull();
        assertThat(count("tunestream.batch.retries")).isEqualTo(1);

        BatchAnswerer broken = answerer(items -> {
            throw new TransientBatchFailure("device busy", false);
        });
        driver.close();
        start(BatchingSettings.of(1, Duration.ofMillis(100)).withBatchRetries(1), broken, false);
        send(assistantRequest("r2", "assistant"));
        Answer failed = answers.readValue();
        assertThat(failed.getError().getKind()).isEqualTo(ErrorKind.GENERATION_FAILED);
        assertThat(failed.getError().getMessage()).endsWith("device busy");
        assertThat(count("tunestream.batch.retries")).isEqualTo(2);
    }
}

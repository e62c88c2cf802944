package io.tunestream.serving.model;

import io.tunestream.serving.topology.StopSignal;
import io.tunestream.serving.ops.DecodeWaits;
import io.tunestream.serving.topology.InputRecovery;
import io.tunestream.serving.serde.AvroBinarySerde;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.tunestream.model.onnx.RuntimeConfig;
import io.tunestream.schemas.Answer;
import io.tunestream.schemas.ErrorKind;
import io.tunestream.schemas.GenerationOptions;
import io.tunestream.schemas.InferenceRequest;
import io.tunestream.schemas.TaskTemplate;
import io.tunestream.serving.batch.BatchAnswerer;
import io.tunestream.serving.batch.BatchCancellation;
import io.tunestream.serving.batch.BatchItem;
import io.tunestream.serving.batch.BatchOutcome;
import io.tunestream.serving.batch.ModelLiveness;
import io.tunestream.serving.batch.ServingModelInfo;
import io.tunestream.serving.ops.ServingMetrics;
import io.tunestream.serving.serde.ServingSerdes;
import io.tunestream.serving.topology.BatchingSettings;
import io.tunestream.serving.topology.ServingTopics;
import io.tunestream.serving.topology.ServingTopology;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.TopologyTestDriver;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The batch deadline on the real runtime: a long demo-gpt2 generation on one core is cancelled through ONNX
 * Runtime's terminate flag, its requests are answered TIMEOUT, and the model call returns at once.
 */
class ModelDeadlineTest {

    private static final Duration DEADLINE = Duration.ofMillis(300);

    @TempDir
    Path stateDir;

    /** The model, remembering when each batch returned and with what. */
    private record Timed(ModelBatchAnswerer runtime, List<Long> returnedNanos, List<List<BatchOutcome>> outcomes)
            implements BatchAnswerer {
        @Override
        public ServingModelInfo model() {
            return runtime.model();
        }

        @Override
        public List<BatchOutcome> answer(List<BatchItem> items) {
            return answer(items, new BatchCancellation());
        }

        @Override
        public List<BatchOutcome> answer(List<BatchItem> items, BatchCancellation cancellation) {
            List<BatchOutcome> result = runtime.answer(items, cancellation);
            outcomes.add(result);
            returnedNanos.add(System.nanoTime());
            return result;
        }
    }

    @Test
    void shouldCancelALongGenerationAtTheDeadlineAndAnswerTimeout() throws InterruptedException {
        Path demo = Path.of(System.getProperty("tunestream.home", "../")).resolve("models/demo-gpt2");
        ExecutorService modelThread = Executors.newSingleThreadExecutor();
        try (ModelBatchAnswerer model = ModelBatchAnswerer.load(demo, RuntimeConfig.cpu(1))) {
            var timed = new Timed(model, new CopyOnWriteArrayList<>(), new CopyOnWriteArrayList<>());
            var topics = ServingTopics.standard();
            var serdes = ServingSerdes.plainAvro();
            var metrics = new ServingMetrics(new SimpleMeterRegistry());
            var settings = BatchingSettings.of(32, Duration.ofMillis(10)).withBatchTimeout(DEADLINE,
                    Duration.ofSeconds(2));
            var liveness = new ModelLiveness(Clock.systemUTC(), settings.cancelGrace());
            var props = new Properties();
            props.put(StreamsConfig.APPLICATION_ID_CONFIG, "model-deadline-test");
            props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, "unused:9092");
            props.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
            props.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
            try (var driver = new TopologyTestDriver(ServingTopology.build(topics, serdes, settings, timed,
                    modelThread, metrics, liveness, Clock.systemUTC(),
                    new InputRecovery(deadLetter -> { }, new DecodeWaits(Clock.systemUTC()), new StopSignal())), props, Instant.now())) {
                driver.createInputTopic(topics.templates(), new StringSerializer(), new AvroBinarySerde<>(TaskTemplate.class, TaskTemplate.getClassSchema()).serializer())
                        .pipeInput("plain", TaskTemplate.newBuilder().setTask("plain")
                                .setPromptTemplate("{prompt}{answer}").setPromptTemplateFields(List.of("prompt", "answer"))
                                .setAnswerField("answer").setVirtualTokenSplits(List.of()).setTotalVirtualTokens(0)
                                .setMaxSeqLength(256).setAllowBaseModel(true).build());
                var requests = driver.createInputTopic(topics.requests(), new StringSerializer(),
                        new AvroBinarySerde<>(InferenceRequest.class, InferenceRequest.getClassSchema()).serializer());
                var answers = driver.createOutputTopic(topics.answers(), new StringDeserializer(),
                        new AvroBinarySerde<>(Answer.class, Answer.getClassSchema()).deserializer());
                // 32 rows x 230 tokens take seconds on one core; EOS cannot end them early
                var options = GenerationOptions.newBuilder().setMaxNewTokens(230).setMinNewTokens(230).build();
                long sent = System.nanoTime();
                for (int i = 0; i < 32; i++) {
                    requests.pipeInput("r" + i, InferenceRequest.newBuilder().setRequestId("r" + i).setTask("plain")
                            .setFields(Map.of("prompt", "Kamiro lives in Talenburg. Kamiro")).setOptions(options)
                            .build());
                }

                await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(20)).until(() -> {
                    driver.advanceWallClockTime(Duration.ofMillis(20));
                    return !answers.isEmpty();
                });
                long answeredNanos = System.nanoTime();
                List<Answer> timedOut = answers.readValuesToList();

                assertThat(timedOut).hasSize(32).allSatisfy(a ->
                        assertThat(a.getError().getKind()).isEqualTo(ErrorKind.TIMEOUT));
                assertThat(Duration.ofNanos(answeredNanos - sent)).isBetween(DEADLINE, Duration.ofSeconds(3));
                await().atMost(Duration.ofSeconds(2)).until(() -> timed.returnedNanos().size() == 1);
                assertThat(Duration.ofNanos(timed.returnedNanos().get(0) - answeredNanos))
                        .as("the native call returns soon after the terminate flag").isLessThan(Duration.ofSeconds(1));
                assertThat(timed.outcomes().get(0)).allSatisfy(o ->
                        assertThat(((BatchOutcome.Failed) o).kind()).isEqualTo(ErrorKind.TIMEOUT));
                assertThat(liveness.getAsBoolean()).isTrue();
            }
        } finally {
            modelThread.shutdownNow();
            assertThat(modelThread.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
        }
    }
}

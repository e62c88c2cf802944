package io.tunestream.serving.it;

import static io.tunestream.serving.testing.Fixtures.squad;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.tunestream.devkit.PlatformEndpoints;
import io.tunestream.devkit.junit.LocalPlatformExtension;
import io.tunestream.model.onnx.RuntimeConfig;
import io.tunestream.schemas.AdapterVersion;
import io.tunestream.schemas.DType;
import io.tunestream.schemas.GenerationOptions;
import io.tunestream.schemas.InferenceRequest;
import io.tunestream.schemas.TaskTemplate;
import io.tunestream.schemas.tensor.TensorCodec;
import io.tunestream.serving.ServingApp;
import io.tunestream.serving.batch.BatchItem;
import io.tunestream.serving.batch.BatchOutcome;
import io.tunestream.serving.model.ModelBatchAnswerer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.streams.KafkaStreams;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Serving benchmark on the real embedded broker and registry; prints figures, asserts nothing.
 * Not part of the test suite (its name matches neither *Test nor *IT); run it with
 * <pre>
 * ./mvnw -B -q -pl inference-stream -am verify -Dtest=none -Dsurefire.failIfNoSpecifiedTests=false \
 *     -Dit.test=ServingBenchmark -Dfailsafe.failIfNoSpecifiedTests=false [-Dbench.model=models/demo-gpt2]
 * </pre>
 * System properties: {@code bench.model} (default models/demo-gpt2), {@code bench.batch} (8),
 * {@code bench.requests} (512 a round: a round measures throughput, so it must be long against the 0.1–0.25 s
 * it takes to fill and drain the pipeline, i.e. poll, batch and commit), {@code bench.rounds} (3), {@code bench.maxNewTokens} (16), {@code bench.rate} (requests/s of the
 * latency run; default half the measured Kafka throughput), {@code bench.swaps} (20), {@code bench.threads}
 * (ONNX Runtime intra-op threads, 1: on 2 cores the broker, registry and Kafka clients need the other),
 * {@code bench.kafka.*} (Kafka Streams properties, e.g. {@code -Dbench.kafka.commit.interval.ms=500}).
 */
@ExtendWith(LocalPlatformExtension.class)
class ServingBenchmark {

    private static final Duration TIMEOUT = Duration.ofMinutes(5);
    private static final int VIRTUAL_TOKENS = 10;

    private final Path home = Path.of(System.getProperty("tunestream.home", "..")).toAbsolutePath();
    private final Path modelDir = home.resolve(System.getProperty("bench.model", "models/demo-gpt2"));
    private final int batch = Integer.getInteger("bench.batch", 8);
    private final int requests = Integer.getInteger("bench.requests", 512);
    private final int maxNewTokens = Integer.getInteger("bench.maxNewTokens", 16);
    private final int swaps = Integer.getInteger("bench.swaps", 20);
    private final int threads = Integer.getInteger("bench.threads", 1);
    private final int rounds = Integer.getInteger("bench.rounds", 3);

    @Test
    void measure(PlatformEndpoints platform) throws Exception {
        try (var model = ModelBatchAnswerer.load(modelDir, RuntimeConfig.cpu(threads));
             var fixture = new ServingFixture(platform, 1)) {
            TaskTemplate template = squad("squad", VIRTUAL_TOKENS);
            AdapterVersion v1 = adapter(model, 1);
            List<InferenceRequest> load = squadRequests("t", requests);
            List<BatchItem> items = load.stream().map(r -> new BatchItem(r, template, Optional.of(v1))).toList();

            runDirect(model, items.subList(0, Math.min(items.size(), 4 * batch))); // warm-up

            var config = fixture.config(batch, 20);
            config.put("model.dir", modelDir.toString());
            // -Dbench.kafka.commit.interval.ms=… and the like reach Kafka Streams
            System.getProperties().stringPropertyNames().stream().filter(k -> k.startsWith("bench.kafka."))
                    .forEach(k -> config.put(k.substring("bench.".length()), System.getProperty(k)));
            ServingApp app = fixture.startApp(config, model);
            waitRunning(app);
            fixture.publish(template);
            fixture.publish(v1);
            Thread.sleep(1000);
            // warm-up through Kafka (registry lookups, first transactions)
            fixture.sendAll(squadRequests("w", 2 * batch));
            collect(fixture, 2 * batch, new HashSet<>());

            System.out.printf("BENCH model %s, batch %d, %d requests a round (squad validation, %d virtual tokens, "
                            + "greedy, maxNewTokens %d), ONNX Runtime intra-op threads %d, 1 partition, exactly_once_v2, "
                            + "%d cores%n", home.relativize(modelDir), batch, requests, VIRTUAL_TOKENS, maxNewTokens,
                    threads, Runtime.getRuntime().availableProcessors());
            // direct and Kafka alternate, so that load from outside the benchmark hits both alike
            var ratios = new ArrayList<Double>();
            double kafka = 0;
            for (int round = 1; round <= rounds; round++) {
                double direct = runDirect(model, items);
                long start = System.nanoTime();
                fixture.sendAll(squadRequests("t" + round, requests));
                long tokens = collect(fixture, requests, new HashSet<>());
                double kafkaSeconds = (System.nanoTime() - start) / 1e9;
                kafka = requests / kafkaSeconds;
                ratios.add(kafka / direct);
                System.out.printf("BENCH round %d: direct (model runtime, batches of %d) %.1f req/s; through Kafka "
                        + "%.1f req/s, %.0f tokens/s; ratio %.2f%n", round, batch, direct, kafka, tokens / kafkaSeconds,
                        kafka / direct);
            }
            System.out.printf("BENCH throughput ratio Kafka/direct, median of %d rounds: %.2f (min %.2f)%n", rounds,
                    percentile(ratios, 0.5), percentile(ratios, 0.0));

            double rate = Double.parseDouble(System.getProperty("bench.rate", Double.toString(kafka / 2)));
            latency(fixture, rate, Math.max(50, (int) (rate * 15)));
            adapterSwaps(fixture, model);
        }
    }

    private void latency(ServingFixture fixture, double rate, int count) throws Exception {
        List<InferenceRequest> load = squadRequests("l", count);
        var sent = new ConcurrentHashMap<String, Long>();
        var scheduler = Executors.newSingleThreadScheduledExecutor();
        long periodNanos = (long) (1e9 / rate);
        var index = new java.util.concurrent.atomic.AtomicInteger();
        scheduler.scheduleAtFixedRate(() -> {
            int i = index.getAndIncrement();
            if (i < load.size()) {
                sent.put(load.get(i).getRequestId(), System.nanoTime());
                fixture.sendAll(List.of(load.get(i)));
            }
        }, 0, periodNanos, TimeUnit.NANOSECONDS);
        var latencies = new ArrayList<Double>();
        long deadline = System.nanoTime() + TIMEOUT.toNanos();
        while (latencies.size() < count && System.nanoTime() < deadline) {
            for (var received : fixture.poll(Duration.ofMillis(50))) {
                Long at = sent.get(received.answer().getRequestId());
                if (at != null) {
                    latencies.add((received.receivedNanos() - at) / 1e6);
                }
            }
        }
        scheduler.shutdownNow();
        System.out.printf("BENCH latency at %.1f req/s (open loop, %d requests, batch %d, max wait 20 ms): p50 %.0f ms, "
                + "p99 %.0f ms, max %.0f ms%n", rate, latencies.size(), batch, percentile(latencies, 0.50),
                percentile(latencies, 0.99), percentile(latencies, 1.0));
    }

    private void adapterSwaps(ServingFixture fixture, ModelBatchAnswerer model) throws Exception {
        var latencies = new ArrayList<Double>();
        var scheduler = Executors.newSingleThreadScheduledExecutor();
        var counter = new java.util.concurrent.atomic.AtomicInteger();
        var shortRequest = InferenceRequest.newBuilder(squadRequests("s", 1).get(0))
                .setOptions(GenerationOptions.newBuilder().setMaxNewTokens(1).build()).build();
        // a steady trickle of short requests: one every 20 ms
        scheduler.scheduleAtFixedRate(() -> fixture.sendAll(List.of(InferenceRequest.newBuilder(shortRequest)
                .setRequestId("s-" + counter.getAndIncrement()).build())), 0, 20, TimeUnit.MILLISECONDS);
        try {
            for (int v = 2; v < 2 + swaps; v++) {
                fixture.poll(Duration.ofMillis(300)); // let the previous version settle
                long published = System.nanoTime();
                fixture.publish(adapter(model, v));
                long deadline = published + Duration.ofSeconds(30).toNanos();
                Double latency = null;
                while (latency == null && System.nanoTime() < deadline) {
                    for (var received : fixture.poll(Duration.ofMillis(20))) {
                        if (latency == null && Integer.valueOf(v).equals(received.answer().getAdapterVersion())) {
                            latency = (received.receivedNanos() - published) / 1e6;
                        }
                    }
                }
                latencies.add(latency == null ? Double.POSITIVE_INFINITY : latency);
            }
        } finally {
            scheduler.shutdownNow();
        }
        System.out.printf("BENCH adapter publication -> first committed answer using it (%d swaps, one request every "
                        + "20 ms): p50 %.0f ms, p99 %.0f ms, max %.0f ms%n", swaps, percentile(latencies, 0.5),
                percentile(latencies, 0.99), percentile(latencies, 1.0));
    }

    private static double percentile(List<Double> values, double p) {
        if (values.isEmpty()) {
            return Double.NaN;
        }
        var sorted = new ArrayList<>(values);
        sorted.sort(null);
        int index = (int) Math.ceil(p * sorted.size()) - 1;
        return sorted.get(Math.max(0, Math.min(sorted.size() - 1, index)));
    }

    /** Requests per second answering {@code items} in consecutive batches. */
    private double runDirect(ModelBatchAnswerer model, List<BatchItem> items) {
        long start = System.nanoTime();
        for (int i = 0; i < items.size(); i += batch) {
            List<BatchOutcome> outcomes = model.answer(items.subList(i, Math.min(items.size(), i + batch)));
            if (outcomes.stream().anyMatch(o -> o instanceof BatchOutcome.Failed)) {
                throw new IllegalStateException("direct run failed: " + outcomes);
            }
        }
        return items.size() / ((System.nanoTime() - start) / 1e9);
    }

    /** Waits for {@code count} answers with ids not yet in {@code seen}; returns their completion tokens. */
    private static long collect(ServingFixture fixture, int count, java.util.Set<String> seen) {
        long tokens = 0;
        long batchSizes = 0;
        long generationMillis = 0;
        long deadline = System.nanoTime() + TIMEOUT.toNanos();
        while (seen.size() < count && System.nanoTime() < deadline) {
            for (var received : fixture.poll(Duration.ofMillis(50))) {
                if (received.answer().getError() != null) {
                    throw new IllegalStateException("error answer: " + received.answer());
                }
                if (seen.add(received.answer().getRequestId())) {
                    tokens += received.answer().getCompletionTokens();
                    batchSizes += received.answer().getBatchSize();
                    generationMillis += received.answer().getGenerationMillis();
                }
            }
        }
        if (seen.size() < count) {
            throw new IllegalStateException("only " + seen.size() + " of " + count + " answers within " + TIMEOUT);
        }
        System.out.printf("BENCH   (%d answers: mean batch size %.1f, mean generation time of their batches %.0f ms)%n",
                count, batchSizes / (double) count, generationMillis / (double) count);
        return tokens;
    }

    private static void waitRunning(ServingApp app) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofMinutes(1).toNanos();
        while (app.state() != KafkaStreams.State.RUNNING && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
    }

    private static AdapterVersion adapter(ModelBatchAnswerer model, int version) {
        int hidden = model.model().hiddenSize();
        var random = new Random(version);
        float[] values = new float[VIRTUAL_TOKENS * hidden];
        for (int i = 0; i < values.length; i++) {
            values[i] = (float) (random.nextGaussian() * 0.02);
        }
        return AdapterVersion.newBuilder()
                .setTask("squad")
                .setVersion(version)
                .setModelFingerprint(model.model().fingerprint())
                .setHiddenSize(hidden)
                .setTable(TensorCodec.encodeMatrix("virtual_tokens", values, VIRTUAL_TOKENS, hidden, DType.FLOAT32))
                .setVirtualTokenSplits(List.of(VIRTUAL_TOKENS))
                .build();
    }

    private List<InferenceRequest> squadRequests(String prefix, int count) throws Exception {
        var mapper = new ObjectMapper();
        List<String> lines = Files.readAllLines(home.resolve("data/squad/validation.jsonl"));
        var result = new ArrayList<InferenceRequest>(count);
        for (int i = 0; i < count; i++) {
            Map<?, ?> row = mapper.readValue(lines.get(i % lines.size()), Map.class);
            result.add(InferenceRequest.newBuilder()
                    .setRequestId(prefix + "-" + i)
                    .setTask("squad")
                    .setFields(Map.of("context", (String) row.get("context"), "question", (String) row.get("question")))
                    .setOptions(GenerationOptions.newBuilder().setMaxNewTokens(maxNewTokens).build())
                    .build());
        }
        return result;
    }
}

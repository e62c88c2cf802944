package io.tunestream.serving.it;

import static io.tunestream.serving.testing.Fixtures.squad;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.tunestream.model.onnx.RuntimeConfig;
import io.tunestream.schemas.AdapterVersion;
import io.tunestream.schemas.DType;
import io.tunestream.schemas.DeepPromptShape;
import io.tunestream.schemas.GenerationOptions;
import io.tunestream.schemas.InferenceRequest;
import io.tunestream.schemas.TaskTemplate;
import io.tunestream.schemas.tensor.TensorCodec;
import io.tunestream.serving.ServingConfig;
import io.tunestream.serving.batch.BatchItem;
import io.tunestream.serving.batch.BatchOutcome;
import io.tunestream.serving.model.ModelBatchAnswerer;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * A batch of rows on as many different adapters as rows against the same rows on one adapter, through the served
 * path ({@link ModelBatchAnswerer#answer}: adapter tables, prefix cache, generation); prints figures, asserts
 * nothing. Not part of the test suite (its name matches neither *Test nor *IT); run it with
 * <pre>
 * ./mvnw -B -q -pl inference-stream -am verify -Dtest=none -Dsurefire.failIfNoSpecifiedTests=false \
 *     -Dit.test=AdapterMixBenchmark -Dfailsafe.failIfNoSpecifiedTests=false [-Dbench.deep=true]
 * </pre>
 * Both batches hold the same requests (SQuAD validation contexts and questions, a different one each row) and
 * generate exactly {@code bench.newTokens} tokens a row (min = max new tokens: rows on different adapters would
 * otherwise stop at different steps), so they do the same work but for the adapters. Rounds alternate the order
 * (mixed first, then one first). The first batch of each is cold (no prefix computed yet, no table decoded) and
 * printed apart; the rounds after are warm. System properties: {@code bench.model} (models/demo-gpt2),
 * {@code bench.batch} (32), {@code bench.newTokens} (16), {@code bench.rounds} (10), {@code bench.threads} (ONNX
 * Runtime intra-op threads, 0: its default), {@code bench.deep} (false: p-tuning tables of 10 virtual tokens;
 * true: deep prompts of 10 virtual tokens), {@code bench.adapterCacheBytes} (serving's default; 0: every row's table
 * decoded anew, as before the decoded-table cache).
 */
class AdapterMixBenchmark {

    private static final int VIRTUAL_TOKENS = 10;

    private final Path home = Path.of(System.getProperty("tunestream.home", "..")).toAbsolutePath();
    private final Path modelDir = home.resolve(System.getProperty("bench.model", "models/demo-gpt2"));
    private final int batch = Integer.getInteger("bench.batch", 32);
    private final int newTokens = Integer.getInteger("bench.newTokens", 16);
    private final int rounds = Integer.getInteger("bench.rounds", 10);
    private final int threads = Integer.getInteger("bench.threads", 0);
    private final boolean deep = Boolean.getBoolean("bench.deep");
    private final long adapterCacheBytes = Long.getLong("bench.adapterCacheBytes",
            ServingConfig.DEFAULT_ADAPTER_CACHE_BYTES);

    @Test
    void measure() throws Exception {
        try (var model = ModelBatchAnswerer.load(modelDir, RuntimeConfig.cpu(threads),
                ServingConfig.DEFAULT_PREFIX_CACHE_BYTES, adapterCacheBytes)) {
            List<InferenceRequest> requests = squadRequests(batch);
            var mixed = new ArrayList<BatchItem>();
            var one = new ArrayList<BatchItem>();
            var warmUp = new ArrayList<BatchItem>();
            for (int i = 0; i < batch; i++) {
                warmUp.add(new BatchItem(withTask(requests.get(i), "warm-up"), template("warm-up"),
                        Optional.of(adapter(model, "warm-up", 2000))));
                String task = "mix-" + i;
                mixed.add(new BatchItem(withTask(requests.get(i), task), template(task),
                        Optional.of(adapter(model, task, i))));
                one.add(new BatchItem(withTask(requests.get(i), "one"), template("one"),
                        Optional.of(adapter(model, "one", 1000))));
            }
            System.out.printf("adapter mix: %s, batch %d, %d new tokens a row, %s adapters of %d virtual tokens,"
                            + " adapters.cache.bytes %d, %d rounds, load average %.1f%n", modelDir.getFileName(), batch,
                    newTokens, deep ? "deep-prompt" : "p-tuning", VIRTUAL_TOKENS, adapterCacheBytes, rounds,
                    loadAverage());

            seconds(model, warmUp); // ONNX Runtime's first runs and the JIT, on adapters neither batch uses
            double coldOne = seconds(model, one);
            double coldMixed = seconds(model, mixed);
            System.out.printf("cold (prefixes computed, tables decoded): one adapter %.0f ms, %d adapters %.0f ms"
                    + " (mixed ÷ one throughput %.2f)%n", coldOne * 1e3, batch, coldMixed * 1e3, coldOne / coldMixed);

            double[] ratios = new double[rounds];
            double[] oneTimes = new double[rounds];
            double[] mixedTimes = new double[rounds];
            for (int r = 0; r < rounds; r++) {
                if (r % 2 == 0) {
                    mixedTimes[r] = seconds(model, mixed);
                    oneTimes[r] = seconds(model, one);
                } else {
                    oneTimes[r] = seconds(model, one);
                    mixedTimes[r] = seconds(model, mixed);
                }
                ratios[r] = oneTimes[r] / mixedTimes[r];
                System.out.printf("round %d: one adapter %.0f ms (%.0f tok/s), %d adapters %.0f ms (%.0f tok/s),"
                                + " mixed ÷ one throughput %.3f%n", r + 1, oneTimes[r] * 1e3,
                        batch * newTokens / oneTimes[r], batch, mixedTimes[r] * 1e3,
                        batch * newTokens / mixedTimes[r], ratios[r]);
            }
            var prefix = model.prefixCache().orElseThrow().stats();
            var tables = model.adapterTables().stats();
            System.out.printf("median: one adapter %.0f ms, %d adapters %.0f ms; mixed ÷ one throughput: median %.3f,"
                            + " min %.3f, max %.3f (target >= 0.90); load average at the end %.1f%n",
                    median(oneTimes) * 1e3, batch, median(mixedTimes) * 1e3, median(ratios),
                    Arrays.stream(ratios).min().orElse(0), Arrays.stream(ratios).max().orElse(0), loadAverage());
            System.out.printf("prefix cache: %d hits, %d misses, %d entries, %d bytes; adapter tables: %d hits,"
                            + " %d misses, %d entries, %d bytes%n", prefix.hits(), prefix.misses(), prefix.entries(),
                    prefix.bytes(), tables.hits(), tables.misses(), tables.entries(), tables.bytes());
        }
    }

    private double seconds(ModelBatchAnswerer model, List<BatchItem> items) {
        long start = System.nanoTime();
        List<BatchOutcome> outcomes = model.answer(items);
        double seconds = (System.nanoTime() - start) / 1e9;
        for (BatchOutcome outcome : outcomes) {
            if (!(outcome instanceof BatchOutcome.Generated generated) || generated.completionTokens() != newTokens) {
                throw new IllegalStateException("expected " + newTokens + " generated tokens, got " + outcome);
            }
        }
        return seconds;
    }

    private TaskTemplate template(String task) {
        TaskTemplate squad = squad(task, VIRTUAL_TOKENS);
        return TaskTemplate.newBuilder(squad).setMaxSeqLength(256).build();
    }

    private AdapterVersion adapter(ModelBatchAnswerer model, String task, int seed) {
        var info = model.model();
        var random = new Random(seed);
        var builder = AdapterVersion.newBuilder()
                .setTask(task)
                .setVersion(1)
                .setModelFingerprint(info.fingerprint())
                .setHiddenSize(info.hiddenSize())
                .setVirtualTokenSplits(List.of(VIRTUAL_TOKENS));
        if (deep) {
            var decoder = info.decoder().orElseThrow();
            int width = 2 * decoder.layers() * decoder.kvHeads() * decoder.headDim();
            return builder.setTable(TensorCodec.encodeMatrix("prefix", gaussian(random, VIRTUAL_TOKENS * width, 0.1),
                            VIRTUAL_TOKENS, width, DType.FLOAT32))
                    .setDeepPrompt(new DeepPromptShape(decoder.layers(), decoder.kvHeads(), decoder.headDim()))
                    .setVirtualPromptStyle(io.tunestream.schemas.VirtualPromptStyle.PREFIX_TUNING)
                    .build();
        }
        return builder.setTable(TensorCodec.encodeMatrix("virtual_tokens",
                gaussian(random, VIRTUAL_TOKENS * info.hiddenSize(), 0.02), VIRTUAL_TOKENS, info.hiddenSize(),
                DType.FLOAT32)).build();
    }

    private static float[] gaussian(Random random, int n, double std) {
        float[] values = new float[n];
        for (int i = 0; i < n; i++) {
            values[i] = (float) (random.nextGaussian() * std);
        }
        return values;
    }

    private InferenceRequest withTask(InferenceRequest request, String task) {
        return InferenceRequest.newBuilder(request).setTask(task).build();
    }

    private List<InferenceRequest> squadRequests(int count) throws Exception {
        var mapper = new ObjectMapper();
        List<String> lines = Files.readAllLines(home.resolve("data/squad/validation.jsonl"));
        var result = new ArrayList<InferenceRequest>(count);
        for (int i = 0; i < count; i++) {
            Map<?, ?> row = mapper.readValue(lines.get(i % lines.size()), Map.class);
            String context = String.valueOf(row.get("context"));
            result.add(InferenceRequest.newBuilder()
                    .setRequestId("r-" + i)
                    .setTask("placeholder")
                    // about 50 tokens of context, so 32 rows fit the model's positions with the new tokens
                    .setFields(Map.of("context", context.substring(0, Math.min(context.length(), 200)),
                            "question", String.valueOf(row.get("question"))))
                    .setOptions(GenerationOptions.newBuilder().setMaxNewTokens(newTokens).setMinNewTokens(newTokens)
                            .build())
                    .build());
        }
        return result;
    }

    private static double median(double[] values) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        int n = sorted.length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }

    private static double loadAverage() {
        return ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage();
    }
}

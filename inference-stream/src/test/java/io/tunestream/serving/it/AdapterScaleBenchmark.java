package io.tunestream.serving.it;

import io.tunestream.devkit.PlatformEndpoints;
import io.tunestream.devkit.junit.LocalPlatformExtension;
import io.tunestream.schemas.AdapterVersion;
import io.tunestream.schemas.DType;
import io.tunestream.schemas.DeepPromptShape;
import io.tunestream.schemas.VirtualPromptStyle;
import io.tunestream.schemas.adapters.AdapterCheck;
import io.tunestream.schemas.tensor.TensorCodec;
import io.tunestream.serving.ServingApp;
import io.tunestream.serving.adapters.AdapterStore;
import io.tunestream.serving.batch.BatchAnswerer;
import io.tunestream.serving.batch.BatchItem;
import io.tunestream.serving.batch.BatchOutcome;
import io.tunestream.serving.batch.ServingModelInfo;
import io.tunestream.serving.model.AdapterTableCache;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.ReadOnlyKeyValueStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Serving's adapters store at scale on the real embedded broker and registry; prints figures, asserts nothing.
 * Not part of the test suite (its name matches neither *Test nor *IT); run it with
 * <pre>
 * ./mvnw -B -q -pl inference-stream -am verify -Dtest=none -Dsurefire.failIfNoSpecifiedTests=false \
 *     -Dit.test=AdapterScaleBenchmark -Dfailsafe.failIfNoSpecifiedTests=false
 * </pre>
 * Publishes {@code bench.tasks} (10 000) tasks' adapters, signed, to a fresh {@code adapters} topic: demo-gpt2
 * sized (hidden 256, 4 layers, 8 kv heads of 32), 10 virtual tokens, float32; every {@code bench.deepEvery}-th
 * (50th) task a deep prompt, every {@code bench.versionedEvery}-th (10th) task {@code bench.versions} (6)
 * versions, of which serving keeps 5 for pinning. Then starts serving (a stand-in model: the figures are the
 * store's, not ONNX Runtime's) and times the start until Kafka Streams is RUNNING (the global store restored
 * from the topic, every version's signature verified and checked), then again on the same state directory
 * (the store's checkpoint). Heap is measured with {@link java.lang.management.MemoryMXBean} after
 * {@code System.gc()} (three rounds, SerialGC in the test JVM) before and after the start: the difference over
 * the versions stored is the heap an adapter costs; resident memory (VmRSS) the same way includes RocksDB's
 * native memory. Then it reads {@code bench.lookups} (2 000) random tasks' latest versions from the store and
 * decodes them through an {@link AdapterTableCache} of serving's default bound: what a batch row costs.
 */
@ExtendWith(LocalPlatformExtension.class)
class AdapterScaleBenchmark {

    private static final int VIRTUAL_TOKENS = 10;
    private static final int HIDDEN = 256;
    private static final AdapterCheck.Decoder DECODER = new AdapterCheck.Decoder(4, 8, 32);
    private static final ServingModelInfo MODEL = new ServingModelInfo("bench-demo-gpt2-sha256", HIDDEN, 256,
            Optional.of(DECODER));
    private static final int KEEP = 5;

    private final int tasks = Integer.getInteger("bench.tasks", 10_000);
    private final int deepEvery = Integer.getInteger("bench.deepEvery", 50);
    private final int versionedEvery = Integer.getInteger("bench.versionedEvery", 10);
    private final int versions = Integer.getInteger("bench.versions", 6);
    private final int lookups = Integer.getInteger("bench.lookups", 2_000);

    @Test
    void measure(PlatformEndpoints platform) throws Exception {
        try (var fixture = new ServingFixture(platform, 1)) {
            long published = 0;
            long kept = 0;
            long tableBytes = 0;
            long start = System.nanoTime();
            var random = new Random(42);
            List<Future<?>> sends = new ArrayList<>();
            for (int t = 0; t < tasks; t++) {
                int taskVersions = t % versionedEvery == 0 ? versions : 1;
                boolean deep = t % deepEvery == 0;
                for (int v = 1; v <= taskVersions; v++) {
                    AdapterVersion adapter = adapter("task-" + t, v, deep, random);
                    sends.add(fixture.publishAsync(adapter));
                    published++;
                    if (v > taskVersions - KEEP) {
                        kept++;
                        tableBytes += adapter.getTable().getData().remaining();
                    }
                }
                if (sends.size() >= 1000) {
                    for (Future<?> send : sends) {
                        send.get(2, TimeUnit.MINUTES);
                    }
                    sends.clear();
                }
            }
            fixture.flush();
            for (Future<?> send : sends) {
                send.get(2, TimeUnit.MINUTES);
            }
            double publishSeconds = (System.nanoTime() - start) / 1e9;
            System.out.printf("published %d versions of %d tasks (%d deep prompts, %d tasks with %d versions) in"
                            + " %.1f s; serving keeps %d versions, %.1f MB of tables; load average %.1f%n", published,
                    tasks, (tasks + deepEvery - 1) / deepEvery, (tasks + versionedEvery - 1) / versionedEvery, versions,
                    publishSeconds, kept, tableBytes / 1e6, loadAverage());

            perRecord();
            var config = fixture.config(8, 20);
            Memory before = Memory.now();
            long coldStartNanos = System.nanoTime();
            // Kafka Streams' start returns once the global stores are restored; then the stream thread gets going
            ServingApp app = fixture.startApp(config, new StandInModel());
            double coldRestore = (System.nanoTime() - coldStartNanos) / 1e9;
            double coldStart = waitRunning(app, coldStartNanos);
            Memory after = Memory.now();
            ReadOnlyKeyValueStore<String, AdapterVersion> store = app.adapters();
            long stored = count(store);
            System.out.printf("cold start (empty state directory): global stores restored (the app's start returned)"
                            + " after %.1f s, %d versions stored (%.0f records read a second), RUNNING after %.1f s; load average"
                            + " %.1f%n", coldRestore, stored, published / coldRestore, coldStart, loadAverage());
            System.out.printf("heap after GC: %.1f MB before, %.1f MB after: %d bytes an adapter version (tables"
                            + " average %d bytes); resident (VmRSS): %+.1f MB (%d bytes a version, RocksDB's native"
                            + " memory included); state directory %.1f MB on disk%n", before.heap / 1e6,
                    after.heap / 1e6, (after.heap - before.heap) / Math.max(stored, 1), tableBytes / Math.max(kept, 1),
                    (after.rss - before.rss) / 1e6, (after.rss - before.rss) / Math.max(stored, 1),
                    directoryBytes(fixture.stateDir) / 1e6);

            lookups(store);
            app.close();

            long warmStartNanos = System.nanoTime();
            ServingApp again = fixture.startApp(config, new StandInModel());
            double warmRestore = (System.nanoTime() - warmStartNanos) / 1e9;
            double warmStart = waitRunning(again, warmStartNanos);
            System.out.printf("restart on the same state directory: global stores restored after %.1f s, RUNNING"
                            + " after %.1f s (the stream thread rejoins its group), %d versions stored; load average"
                            + " %.1f%n", warmRestore, warmStart, count(again.adapters()), loadAverage());
            again.close();
        }
    }

    /**
     * What the store's updater does for each record, timed apart on 1 000 demo-gpt2 tables in this JVM: the
     * signature check (Ed25519 over the canonical bytes) and the model check (shape, finite values).
     */
    private void perRecord() {
        var keys = io.tunestream.schemas.adapters.AdapterKeys.generate();
        var signer = new io.tunestream.schemas.adapters.AdapterSigner("bench", keys.getPrivate());
        var verifier = io.tunestream.schemas.adapters.AdapterVerifier.trusting(java.util.Map.of("bench",
                keys.getPublic()));
        var check = new AdapterCheck(MODEL.fingerprint(), HIDDEN, DECODER);
        var random = new Random(3);
        List<AdapterVersion> signed = new ArrayList<>();
        for (int i = 0; i < 1000; i++) {
            signed.add(signer.sign(adapter("check-" + i, 1, false, random)));
        }
        for (int pass = 0; pass < 2; pass++) { // the first pass warms the JIT up
            long t0 = System.nanoTime();
            signed.forEach(a -> verifier.refusal(a).ifPresent(r -> {
                throw new IllegalStateException(r.message());
            }));
            long t1 = System.nanoTime();
            signed.forEach(a -> check.refusal(a).ifPresent(r -> {
                throw new IllegalStateException(r.message());
            }));
            long t2 = System.nanoTime();
            if (pass == 1) {
                System.out.printf("per record: signature verified in %.0f µs, model check %.0f µs%n",
                        (t1 - t0) / 1e3 / signed.size(), (t2 - t1) / 1e3 / signed.size());
            }
        }
    }

    /** What a batch row pays for its adapter: the store read (Avro) and the table from the decoded-table cache. */
    private void lookups(ReadOnlyKeyValueStore<String, AdapterVersion> store) {
        var cache = new AdapterTableCache(io.tunestream.serving.ServingConfig.DEFAULT_ADAPTER_CACHE_BYTES);
        long readNanos = 0;
        long decodeNanos = 0;
        for (int pass = 0; pass < 2; pass++) {
            var random = new Random(7); // the same tasks again: the second pass finds the tables decoded
            readNanos = 0;
            decodeNanos = 0;
            for (int i = 0; i < lookups; i++) {
                String task = "task-" + random.nextInt(tasks);
                long t0 = System.nanoTime();
                AdapterVersion adapter = AdapterStore.latest(store, task).orElseThrow();
                long t1 = System.nanoTime();
                cache.tables(adapter);
                readNanos += t1 - t0;
                decodeNanos += System.nanoTime() - t1;
            }
            var stats = cache.stats();
            System.out.printf("%s pass over %d random tasks: store read %.1f µs a row, table %.1f µs a row;"
                            + " decoded-table cache %d entries, %.1f MB (bound %d MB), %d hits, %d misses%n",
                    pass == 0 ? "first" : "second", lookups, readNanos / 1e3 / lookups, decodeNanos / 1e3 / lookups,
                    stats.entries(), stats.bytes() / 1e6, cache.maxBytes() >> 20, stats.hits(), stats.misses());
        }
    }

    private static AdapterVersion adapter(String task, int version, boolean deep, Random random) {
        var builder = AdapterVersion.newBuilder()
                .setTask(task)
                .setVersion(version)
                .setModelFingerprint(MODEL.fingerprint())
                .setHiddenSize(HIDDEN)
                .setVirtualTokenSplits(List.of(VIRTUAL_TOKENS));
        if (deep) {
            int width = 2 * DECODER.layers() * DECODER.kvHeads() * DECODER.headDim();
            return builder.setTable(TensorCodec.encodeMatrix("prefix", gaussian(random, VIRTUAL_TOKENS * width),
                            VIRTUAL_TOKENS, width, DType.FLOAT32))
                    .setDeepPrompt(new DeepPromptShape(DECODER.layers(), DECODER.kvHeads(), DECODER.headDim()))
                    .setVirtualPromptStyle(VirtualPromptStyle.PREFIX_TUNING)
                    .build();
        }
        return builder.setTable(TensorCodec.encodeMatrix("virtual_tokens", gaussian(random, VIRTUAL_TOKENS * HIDDEN),
                VIRTUAL_TOKENS, HIDDEN, DType.FLOAT32)).build();
    }

    private static float[] gaussian(Random random, int n) {
        float[] values = new float[n];
        for (int i = 0; i < n; i++) {
            values[i] = (float) (random.nextGaussian() * 0.02);
        }
        return values;
    }

    private static long count(ReadOnlyKeyValueStore<String, AdapterVersion> store) {
        long n = 0;
        try (KeyValueIterator<String, AdapterVersion> it = store.all()) {
            while (it.hasNext()) {
                it.next();
                n++;
            }
        }
        return n;
    }

    /** Seconds from {@code start} until the app is RUNNING (Kafka Streams restores the global stores before). */
    private static double waitRunning(ServingApp app, long start) throws InterruptedException {
        long deadline = start + Duration.ofMinutes(20).toNanos();
        while (app.state() != KafkaStreams.State.RUNNING) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("serving not RUNNING after 20 minutes: " + app.state());
            }
            Thread.sleep(20);
        }
        return (System.nanoTime() - start) / 1e9;
    }

    private static long directoryBytes(Path dir) throws IOException {
        try (Stream<Path> files = Files.walk(dir)) {
            return files.filter(Files::isRegularFile).mapToLong(p -> p.toFile().length()).sum();
        }
    }

    private static double loadAverage() {
        return ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage();
    }

    /** Heap used after full collections, and the process's resident set. */
    private record Memory(long heap, long rss) {

        static Memory now() throws IOException, InterruptedException {
            for (int i = 0; i < 3; i++) {
                System.gc();
                Thread.sleep(100);
            }
            long heap = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
            long rss = Files.readAllLines(Path.of("/proc/self/status")).stream()
                    .filter(l -> l.startsWith("VmRSS:"))
                    .mapToLong(l -> Long.parseLong(l.replaceAll("[^0-9]", "")) * 1024).findFirst().orElse(-1);
            return new Memory(heap, rss);
        }
    }

    /** Answers nothing that matters here: the benchmark sends no requests. */
    private static final class StandInModel implements BatchAnswerer {

        @Override
        public ServingModelInfo model() {
            return MODEL;
        }

        @Override
        public List<BatchOutcome> answer(List<BatchItem> items) {
            return items.stream().<BatchOutcome>map(i -> new BatchOutcome.Failed(
                    io.tunestream.schemas.ErrorKind.INTERNAL, "stand-in model")).toList();
        }
    }
}

package io.tunestream.serving.it;

import static io.tunestream.serving.testing.Fixtures.assistant;
import static io.tunestream.serving.testing.Fixtures.request;
import static org.awaitility.Awaitility.await;

import io.tunestream.devkit.LocalPlatform;
import io.tunestream.schemas.ErrorKind;
import io.tunestream.schemas.FinishReason;
import io.tunestream.serving.ServingApp;
import io.tunestream.serving.batch.BatchAnswerer;
import io.tunestream.serving.batch.BatchCancellation;
import io.tunestream.serving.batch.BatchItem;
import io.tunestream.serving.batch.BatchOutcome;
import io.tunestream.serving.batch.ServingModelInfo;
import io.tunestream.serving.testing.EchoAnswerer;
import io.tunestream.serving.testing.Fixtures;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntPredicate;
import org.apache.kafka.streams.KafkaStreams;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The serving fault scenarios, each run on its own topics of a {@link LocalPlatform} this class may stop
 * and restart, with a {@link Ledger} that checks every request id. {@link ServingFaultsIT} runs them at
 * {@link Scale#test} and asserts; {@link FaultBenchmark} runs them at {@link Scale#benchmark} and prints
 * the table.
 *
 * <p>Every scenario: several tasks (assistant template, base model allowed), an echo model (a test double
 * behind {@link BatchAnswerer}), requests sent at a fixed rate before, during and after the fault, and
 * adapters republished for every task meanwhile.
 */
final class FaultScenarios {

    /** The serving setting of the per-batch deadline (a batch still running then is cancelled, its rows TIMEOUT). */
    static final String BATCH_DEADLINE_KEY = "batch.timeout.ms";
    /** The oversized scenario's answers topic {@code max.message.bytes}: serving fits every answer to it. */
    static final int ANSWERS_TOPIC_MAX_BYTES = 256 * 1024;
    /** Longer than {@link #ANSWERS_TOPIC_MAX_BYTES}: an answer (or error message) this long cannot be written. */
    static final int OVERSIZED_ANSWER_CHARS = 300 * 1024;
    /** Longer than serving's default {@code request.max.prompt.chars} (65536), within the request size limits. */
    static final int OVERSIZED_REQUEST_CHARS = 70_000;
    /** Longer than {@code RequestLimits.MAX_REQUEST_ID_CHARS} (256): no answer can be keyed by such an id. */
    static final int OVERSIZED_ID_CHARS = 300;
    /** What serving's dead letter of a request with an id too long says. */
    static final String UNANSWERABLE_REASON = "an answer cannot be keyed by it";

    private static final Logger LOG = LoggerFactory.getLogger(FaultScenarios.class);
    private static final int VIRTUAL_TOKENS = 4;
    private static final Duration START_TIMEOUT = Duration.ofSeconds(90);

    /**
     * How big a run is.
     *
     * @param rate            requests per second the load sends
     * @param before          load before the fault
     * @param after           load after the fault ends
     * @param tasks           tasks the load spreads over
     * @param brokerOutage    how long the broker stays stopped
     * @param registryOutage  how long the registry stays stopped
     * @param adapterEvery    how often every task gets a new adapter version
     * @param poison          poison records of each kind sent to {@code requests}
     * @param oversized       oversized records of each kind (prompt, id, answer, error message)
     * @param settleTimeout   how long to wait for the last answers
     * @param quiet           how long to keep reading once every request is settled, so a late duplicate counts
     */
    record Scale(double rate, Duration before, Duration after, int tasks, Duration brokerOutage, Duration registryOutage,
                 Duration adapterEvery, int poison, int oversized, Duration settleTimeout, Duration quiet) {

        /**
         * Hundreds of requests a scenario, each well under half a minute (the suite's budget): outages of a
         * few seconds, the registry's as long as serving's longest registry backoff (5 s).
         */
        static Scale test() {
            return new Scale(40, Duration.ofSeconds(2), Duration.ofSeconds(2), 3, Duration.ofSeconds(3),
                    Duration.ofSeconds(5), Duration.ofMillis(500), 10, 2, Duration.ofSeconds(45), Duration.ofSeconds(1));
        }

        /** Thousands of requests a scenario; the registry stays down 60 s. */
        static Scale benchmark() {
            return new Scale(100, Duration.ofSeconds(5), Duration.ofSeconds(15), 4, Duration.ofSeconds(15),
                    Duration.ofSeconds(60), Duration.ofSeconds(1), 100, 5, Duration.ofMinutes(3), Duration.ofSeconds(2));
        }
    }

    private final LocalPlatform platform;
    private final Scale scale;

    FaultScenarios(LocalPlatform platform, Scale scale) {
        this.platform = platform;
        this.scale = scale;
    }

    private List<String> tasks() {
        return java.util.stream.IntStream.range(0, scale.tasks()).mapToObj(i -> "task" + i).toList();
    }

    /**
     * Two serving instances (child JVMs) share two request partitions; one is SIGKILLed in the middle of a
     * batch, the survivor takes its partition over, then the killed one is started again. Recovery is
     * measured on the killed instance's partition.
     */
    FaultReport servingKilledMidBatch() throws Exception {
        try (var deployment = new Deployment("kill")) {
            Map<String, String> settings = deployment.fixture.config(8, 20);
            settings.put("kafka.consumer.session.timeout.ms", "6000");
            settings.put("kafka.consumer.heartbeat.interval.ms", "1000");
            // the victim stalls in the middle of the load: roughly half its batches are behind it
            int stallAt = Math.max(4, (int) (scale.rate() * scale.before().toSeconds() / 4));
            try (var victim = new ServingProcess("victim", deployment.configFile("victim", settings), stallAt);
                 var survivor = new ServingProcess("survivor", deployment.configFile("survivor", settings), 0)) {
                victim.await("RUNNING", START_TIMEOUT);
                survivor.await("RUNNING", START_TIMEOUT);
                deployment.warmUp();
                deployment.startLoad();
                String stalled = victim.await("STALLED", scale.before().plus(scale.settleTimeout()));
                long killedAt = System.nanoTime();
                victim.kill();
                Set<Integer> victimPartitions = new HashSet<>();
                for (String id : stalled.substring(stalled.indexOf('[') + 1, stalled.indexOf(']')).split(", ")) {
                    deployment.ledger.partitionOf(id.strip()).ifPresent(victimPartitions::add);
                }
                LOG.info("killed the victim in a batch of {} (partitions {})", stalled, victimPartitions);
                IntPredicate hit = victimPartitions::contains;
                await().atMost(scale.settleTimeout()).until(() -> deployment.ledger.answeredSince(killedAt, hit));
                try (var restarted = new ServingProcess("restarted", deployment.configFile("restarted", settings), 0)) {
                    restarted.await("RUNNING", START_TIMEOUT);
                    Thread.sleep(scale.after().toMillis()); // load keeps flowing while the group rebalances
                    return deployment.finish("serving SIGKILLed mid-batch, survivor takes over, restarted",
                            Optional.of(killedAt), hit);
                }
            }
        }
    }

    /** The broker stopped under load and restarted on the same port and data. */
    FaultReport brokerRestart() throws Exception {
        try (var deployment = new Deployment("broker")) {
            deployment.startApp(deployment.fixture.config(8, 20), new EchoAnswerer());
            deployment.warmUp();
            deployment.startLoad();
            Thread.sleep(scale.before().toMillis());
            platform.kafka().stop();
            Thread.sleep(scale.brokerOutage().toMillis()); // the fault's length, not a wait for a condition
            platform.kafka().restart();
            long restartedAt = System.nanoTime();
            Thread.sleep(scale.after().toMillis());
            return deployment.finish("broker stopped " + scale.brokerOutage().toSeconds() + " s and restarted",
                    Optional.of(restartedAt), p -> true);
        }
    }

    /** The registry stopped under load (serving's caches warm) and restarted on its persistent storage. */
    FaultReport registryOutage() throws Exception {
        try (var deployment = new Deployment("registry")) {
            deployment.startApp(deployment.fixture.config(8, 20), new EchoAnswerer());
            deployment.warmUp();
            deployment.startLoad();
            Thread.sleep(scale.before().toMillis());
            platform.registry().stop();
            Thread.sleep(scale.registryOutage().toMillis());
            platform.registry().restart();
            long restartedAt = System.nanoTime();
            Thread.sleep(scale.after().toMillis());
            return deployment.finish("registry stopped " + scale.registryOutage().toSeconds() + " s and restarted",
                    Optional.of(restartedAt), p -> true);
        }
    }

    /**
     * The registry stops; serving is restarted while it is down, so it starts with cold caches (templates,
     * adapters and requests it cannot decode yet); then the registry comes back. No valid request may be
     * dead-lettered or refused: an unreachable registry is transient.
     */
    FaultReport servingRestartWhileRegistryDown() throws Exception {
        try (var deployment = new Deployment("cold")) {
            Map<String, String> config = deployment.fixture.config(8, 20);
            ServingApp first = deployment.startApp(config, new EchoAnswerer());
            deployment.warmUp();
            deployment.startLoad();
            Thread.sleep(scale.before().toMillis());
            platform.registry().stop();
            long stoppedAt = System.nanoTime();
            first.close();
            // a start during an outage waits for the registry (the global stores restore through it), so it
            // runs on another thread until the registry is back
            CompletableFuture<ServingApp> starting = CompletableFuture.supplyAsync(
                    () -> deployment.startApp(config, new EchoAnswerer(), false));
            long remaining = scale.registryOutage().toNanos() - (System.nanoTime() - stoppedAt);
            Thread.sleep(Math.max(0, TimeUnit.NANOSECONDS.toMillis(remaining)));
            if (starting.isDone()) {
                throw new AssertionError("serving started with the registry down finished its start (or failed: "
                        + starting.handle((app, e) -> String.valueOf(e)).join() + ") instead of waiting for it");
            }
            platform.registry().restart();
            long restartedAt = System.nanoTime();
            starting.get(START_TIMEOUT.toSeconds(), TimeUnit.SECONDS);
            Thread.sleep(scale.after().toMillis());
            return deployment.finish("serving restarted while the registry is down (cold caches)",
                    Optional.of(restartedAt), p -> true);
        }
    }

    /**
     * Poison under load: undecodable records in {@code requests} (garbage, and the wire format with a
     * schema id the registry never gave), in {@code adapters} and in {@code task-templates}. Poison requests
     * must be dead-lettered; every valid request answered as if nothing happened.
     */
    FaultReport poisonRecords() throws Exception {
        try (var deployment = new Deployment("poison")) {
            deployment.startApp(deployment.fixture.config(8, 20), new EchoAnswerer());
            deployment.warmUp();
            deployment.startLoad();
            Thread.sleep(scale.before().toMillis());
            byte[] unknownSchemaId = {0, 0x7f, (byte) 0xff, (byte) 0xff, (byte) 0xf0, 0, 0, 0, 1, 2, 3, 4};
            for (String task : tasks()) {
                deployment.ledger.sendRaw(deployment.fixture.topics.adapters(), task, garbage("adapter " + task));
                deployment.ledger.sendRaw(deployment.fixture.topics.adapters(), task, unknownSchemaId);
                deployment.ledger.sendRaw(deployment.fixture.topics.templates(), task, garbage("template " + task));
                deployment.ledger.sendRaw(deployment.fixture.topics.templates(), task, unknownSchemaId);
            }
            for (int i = 0; i < scale.poison(); i++) {
                deployment.ledger.sendPoisonRequest("poison-garbage-" + i, garbage("request " + i));
                deployment.ledger.sendPoisonRequest("poison-unknown-id-" + i, unknownSchemaId);
            }
            long poisonedAt = System.nanoTime();
            Thread.sleep(scale.after().toMillis());
            return deployment.finish("poison in requests, adapters and task-templates", Optional.of(poisonedAt),
                    p -> true);
        }
    }

    /**
     * Oversized records under load, on an answers topic whose {@code max.message.bytes} is
     * {@value #ANSWERS_TOPIC_MAX_BYTES}: prompts longer than serving's limit (a PROMPT_TOO_LONG answer), request
     * ids too long to key an answer (a dead letter with the reason), generated answers longer than the topic
     * takes (an INTERNAL error answer) and row failures with a message longer than the topic takes (the
     * GENERATION_FAILED answer, its message truncated). Nothing is stuck: the requests after them are answered.
     */
    FaultReport oversizedRecords() throws Exception {
        try (var deployment = new Deployment("oversized",
                Map.of("max.message.bytes", Integer.toString(ANSWERS_TOPIC_MAX_BYTES)))) {
            deployment.startApp(deployment.fixture.config(8, 20), new OversizingAnswerer());
            deployment.warmUp();
            deployment.startLoad();
            Thread.sleep(scale.before().toMillis());
            for (int i = 0; i < scale.oversized(); i++) {
                String task = tasks().get(i % scale.tasks());
                deployment.ledger.send(request("long-prompt-" + i, task,
                        Map.of("utterance", "x".repeat(OVERSIZED_REQUEST_CHARS))), Ledger.errorOf("PROMPT_TOO_LONG"));
                String longId = "long-id-" + i + "-";
                deployment.ledger.sendUnanswerable(request(longId + "i".repeat(OVERSIZED_ID_CHARS - longId.length()),
                        task, Map.of("utterance", "set an alarm")), UNANSWERABLE_REASON);
                deployment.ledger.send(request("huge-answer-" + i, task, Map.of("utterance", OversizingAnswerer.HUGE)),
                        Ledger.errorOf("INTERNAL"));
                deployment.ledger.send(request("huge-error-" + i, task,
                        Map.of("utterance", OversizingAnswerer.HUGE_ERROR)), Ledger.errorOf("GENERATION_FAILED"));
            }
            long sentAt = System.nanoTime();
            Thread.sleep(scale.after().toMillis());
            return deployment.finish("oversized prompts, ids, answers and error messages", Optional.of(sentAt),
                    p -> true);
        }
    }

    /**
     * A model call that hangs: with {@value #BATCH_DEADLINE_KEY} set, the rows of that batch get TIMEOUT
     * answers and the requests after it are answered.
     */
    FaultReport hungModel() throws Exception {
        try (var deployment = new Deployment("hung")) {
            Map<String, String> config = deployment.fixture.config(8, 20);
            config.put(BATCH_DEADLINE_KEY, "2000");
            var model = new HangingAnswerer();
            deployment.startApp(config, model);
            deployment.warmUp();
            deployment.startLoad();
            Thread.sleep(scale.before().toMillis());
            deployment.ledger.send(request("hang-0", tasks().get(0), Map.of("utterance", HangingAnswerer.HANG)),
                    Ledger.errorOf("TIMEOUT"));
            deployment.ledger.flush();
            if (!model.entered.await(scale.settleTimeout().toMillis(), TimeUnit.MILLISECONDS)) {
                throw new AssertionError("the hanging request never reached the model");
            }
            long hungAt = System.nanoTime();
            for (String id : model.hungBatch) {
                deployment.ledger.expect(id, Ledger.errorOf("TIMEOUT"));
            }
            if (!model.cancelled.await(scale.settleTimeout().toMillis(), TimeUnit.MILLISECONDS)) {
                throw new AssertionError("serving never cancelled the hung batch " + model.hungBatch);
            }
            Thread.sleep(scale.after().toMillis());
            return deployment.finish("a model call that hangs (deadline 2 s)", Optional.of(hungAt), p -> true);
        }
    }

    private static byte[] garbage(String what) {
        return ("not an Avro record: " + what).getBytes(StandardCharsets.UTF_8);
    }

    /**
     * The echo model, except that a request whose utterance is {@link #HUGE} gets an answer of
     * {@value #OVERSIZED_ANSWER_CHARS} characters and one whose utterance is {@link #HUGE_ERROR} fails with a
     * message that long.
     */
    static final class OversizingAnswerer implements BatchAnswerer {
        static final String HUGE = "answer at length";
        static final String HUGE_ERROR = "fail at length";
        private final EchoAnswerer echo = new EchoAnswerer();

        @Override
        public ServingModelInfo model() {
            return echo.model();
        }

        @Override
        public List<BatchOutcome> answer(List<BatchItem> items) {
            List<BatchOutcome> echoed = echo.answer(items);
            var outcomes = new ArrayList<BatchOutcome>(items.size());
            for (int i = 0; i < items.size(); i++) {
                Object utterance = items.get(i).request().getFields().get("utterance");
                if (HUGE.equals(utterance)) {
                    outcomes.add(new BatchOutcome.Generated("y".repeat(OVERSIZED_ANSWER_CHARS), 10,
                            OVERSIZED_ANSWER_CHARS, FinishReason.LENGTH));
                } else if (HUGE_ERROR.equals(utterance)) {
                    outcomes.add(new BatchOutcome.Failed(ErrorKind.GENERATION_FAILED,
                            "row failed: " + "z".repeat(OVERSIZED_ANSWER_CHARS)));
                } else {
                    outcomes.add(echoed.get(i));
                }
            }
            return outcomes;
        }
    }

    /**
     * The echo model, except that a batch holding a request whose utterance is {@link #HANG} does not return
     * until serving cancels it (its deadline, {@value #BATCH_DEADLINE_KEY}): it then returns at once, as the
     * real model does when ONNX Runtime's terminate flag stops the native call, and serving drops what it
     * returned. Remembers that batch's request ids.
     */
    static final class HangingAnswerer implements BatchAnswerer {
        static final String HANG = "hang";
        /** Longer than any scenario; a hang serving never cancels fails the scenario, not the JVM. */
        private static final Duration LONGEST_HANG = Duration.ofMinutes(10);
        private final EchoAnswerer echo = new EchoAnswerer();
        final CountDownLatch entered = new CountDownLatch(1);
        final CountDownLatch cancelled = new CountDownLatch(1);
        final List<String> hungBatch = new CopyOnWriteArrayList<>();

        @Override
        public ServingModelInfo model() {
            return echo.model();
        }

        @Override
        public List<BatchOutcome> answer(List<BatchItem> items) {
            return answer(items, new BatchCancellation());
        }

        @Override
        public List<BatchOutcome> answer(List<BatchItem> items, BatchCancellation cancellation) {
            if (items.stream().anyMatch(item -> HANG.equals(item.request().getFields().get("utterance")))) {
                hungBatch.addAll(items.stream().map(BatchItem::requestId).toList());
                entered.countDown();
                try {
                    if (!cancellation.await(LONGEST_HANG)) {
                        throw new IllegalStateException("the hung batch " + hungBatch + " was never cancelled");
                    }
                    cancelled.countDown();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException("hung model call interrupted", e);
                }
            }
            return echo.answer(items);
        }
    }

    /**
     * One scenario's deployment: topics (two request partitions), templates and first adapters of every task,
     * the ledger, the load and the adapter republisher.
     */
    private final class Deployment implements AutoCloseable {
        final ServingFixture fixture;
        final Ledger ledger;
        private final String name;
        /** Apps started, also from another thread (a start that waits for the registry). */
        private final List<AutoCloseable> apps = new CopyOnWriteArrayList<>();
        private final ScheduledExecutorService load = Executors.newSingleThreadScheduledExecutor();
        private final ScheduledExecutorService republisher = Executors.newSingleThreadScheduledExecutor();
        private final AtomicInteger sentByLoad = new AtomicInteger();
        private final Map<String, AtomicInteger> adapterVersions = new ConcurrentHashMap<>();
        private final AtomicInteger republishFailures = new AtomicInteger();

        Deployment(String name) throws Exception {
            this(name, Map.of());
        }

        /** @param answersTopicConfigs topic configs of the answers topic on top of the catalogue's */
        Deployment(String name, Map<String, String> answersTopicConfigs) throws Exception {
            this.name = name;
            this.fixture = new ServingFixture(platform.endpoints(), 2, answersTopicConfigs);
            for (String task : tasks()) {
                fixture.publish(assistant(task, VIRTUAL_TOKENS));
                publishNextAdapter(task);
            }
            this.ledger = new Ledger(fixture);
        }

        private void publishNextAdapter(String task) throws Exception {
            int version = adapterVersions.computeIfAbsent(task, t -> new AtomicInteger()).incrementAndGet();
            fixture.publish(Fixtures.adapter(task, version, EchoAnswerer.MODEL.fingerprint(),
                    EchoAnswerer.MODEL.hiddenSize(), VIRTUAL_TOKENS));
        }

        Path configFile(String instance, Map<String, String> settings) throws Exception {
            var copy = new java.util.HashMap<>(settings);
            copy.put("state.dir", fixture.stateDir.resolve(instance).toString());
            Path file = fixture.stateDir.resolve(instance + ".properties");
            var properties = new Properties();
            properties.putAll(copy);
            try (var out = Files.newBufferedWriter(file)) {
                properties.store(out, "fault scenario " + name + ", instance " + instance);
            }
            return file;
        }

        ServingApp startApp(Map<String, String> config, BatchAnswerer answerer) {
            return startApp(config, answerer, true);
        }

        /** Starts an in-process app; {@code awaitRunning}: until Kafka Streams runs. */
        ServingApp startApp(Map<String, String> config, BatchAnswerer answerer, boolean awaitRunning) {
            ServingApp app = fixture.startApp(config, answerer);
            apps.add(app);
            if (awaitRunning) {
                await().atMost(START_TIMEOUT).until(() -> app.state() == KafkaStreams.State.RUNNING);
            }
            return app;
        }

        /** One request per task, answered before the load starts: the apps run and their caches are warm. */
        void warmUp() throws InterruptedException {
            for (String task : tasks()) {
                ledger.send(Fixtures.assistantRequest(name + "-warm-" + task, task), Ledger.ANSWERED);
            }
            ledger.awaitSettled(START_TIMEOUT, Duration.ZERO);
            if (!ledger.settled()) {
                throw new AssertionError("scenario " + name + ": the warm-up requests were not answered within "
                        + START_TIMEOUT);
            }
        }

        /** Sends requests at the scale's rate, round robin over the tasks, and republishes adapters, until {@link #finish}. */
        void startLoad() {
            List<String> tasks = tasks();
            long period = (long) (1e9 / scale.rate());
            long start = System.nanoTime();
            // open loop: request i is due at start + i periods; a send that blocks (broker down) delays the
            // sends after it, and their latency still counts from when they were due
            load.scheduleAtFixedRate(() -> {
                int i = sentByLoad.getAndIncrement();
                String task = tasks.get(i % tasks.size());
                ledger.send(request(name + "-" + i, task, Map.of("utterance", "set an alarm for " + i)), Ledger.ANSWERED,
                        start + i * period);
            }, 0, period, TimeUnit.NANOSECONDS);
            republisher.scheduleWithFixedDelay(() -> {
                for (String task : tasks) {
                    try {
                        publishNextAdapter(task);
                    } catch (Exception e) {
                        republishFailures.incrementAndGet();
                        LOG.info("adapter republish for {} failed (expected while the broker is down): {}", task,
                                e.toString());
                    }
                }
            }, scale.adapterEvery().toMillis(), scale.adapterEvery().toMillis(), TimeUnit.MILLISECONDS);
        }

        /** Stops the load, waits for the last answers and returns the books. */
        FaultReport finish(String scenario, Optional<Long> faultEnd, IntPredicate partitions) throws InterruptedException {
            load.shutdown();
            republisher.shutdown();
            load.awaitTermination(30, TimeUnit.SECONDS);
            republisher.awaitTermination(60, TimeUnit.SECONDS);
            ledger.awaitSettled(scale.settleTimeout(), scale.quiet());
            FaultReport report = ledger.report(scenario, faultEnd, partitions);
            LOG.info("scenario {}: {} adapter versions a task published, {} republish failures\n{}", name,
                    adapterVersions.values().stream().mapToInt(AtomicInteger::get).max().orElse(0),
                    republishFailures.get(), report.details());
            return report;
        }

        /** Also brings a platform component a failed scenario left stopped back, for the next scenario. */
        @Override
        public void close() throws Exception {
            load.shutdownNow();
            republisher.shutdownNow();
            if (!platform.kafka().isRunning()) {
                platform.kafka().restart();
            }
            if (!platform.registry().isRunning()) {
                platform.registry().restart();
            }
            ledger.close();
            for (int i = apps.size() - 1; i >= 0; i--) {
                apps.get(i).close();
            }
            fixture.close();
        }
    }
}

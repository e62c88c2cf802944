package io.tunestream.trainer.it;

import static io.tunestream.trainer.testing.Fixtures.yes;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.tunestream.devkit.PlatformEndpoints;
import io.tunestream.devkit.junit.LocalPlatformExtension;
import io.tunestream.schemas.AdapterVersion;
import io.tunestream.schemas.DatasetSplit;
import io.tunestream.schemas.ExampleKey;
import io.tunestream.schemas.LabelledExample;
import io.tunestream.schemas.RunStatus;
import io.tunestream.schemas.Topics;
import io.tunestream.schemas.TrainingRun;
import io.tunestream.schemas.kafka.KafkaClientConfig;
import io.tunestream.schemas.kafka.TaskPartitioner;
import io.tunestream.trainer.loop.LoopSettings;
import io.tunestream.trainer.loop.RunPhase;
import io.tunestream.trainer.loop.TrainerLoop;
import io.tunestream.trainer.loop.TrainerMetrics;
import io.tunestream.trainer.loop.TrainerTopics;
import io.tunestream.trainer.state.TaskSnapshot;
import io.tunestream.trainer.testing.Fixtures;
import io.tunestream.trainer.testing.StandInRunner;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.MemberDescription;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Several trainer replicas in one consumer group: each task is trained and published by the replica
 * owning its {@code examples} partition only, every task gets its version once, and when the replica
 * running a task dies (a child JVM halted mid-run, as by SIGKILL) its tasks go to the others, which
 * publish them from every example.
 */
@ExtendWith(LocalPlatformExtension.class)
class TrainerReplicasIT {

    private static final Duration SESSION = Duration.ofSeconds(6);
    private static final Duration TRANSACTION = Duration.ofSeconds(10);
    /** The killed replica's: the broker aborts its open transaction at most ~10 s (its check interval) later. */
    private static final Duration KILLED_TRANSACTION = Duration.ofSeconds(5);
    private static final int EXAMPLES_PER_TASK = 3;
    /** TRAIN examples of a task per round of the SIGKILL case (and one VALIDATION example). */
    private static final int ROUND_EXAMPLES = 4;
    /** Epochs of every run of the SIGKILL case: long enough to be killed in the middle of one. */
    private static final int LONG_RUN_EPOCHS = 300;

    private final List<TrainerLoop> loops = new ArrayList<>();
    private final List<Process> children = new ArrayList<>();
    private KafkaClientConfig kafka;
    private TrainerTopics topics;
    private String group;

    @AfterEach
    void stop() {
        loops.forEach(TrainerLoop::close);
        for (Process child : children) {
            child.destroyForcibly();
        }
    }

    /** Topics for this case, {@code examples} with {@code examplesPartitions} partitions, the others as catalogued. */
    private void topics(PlatformEndpoints platform, String name, int examplesPartitions) {
        CaseTopics created = CaseTopics.create(platform, name, examplesPartitions);
        kafka = created.kafka();
        topics = created.topics();
        group = created.group();
    }

    /**
     * Replica {@code replicaId} in a child JVM ({@link TrainerChild}) dying at {@code dieAt}, its output in {@code log};
     * {@code more}: the child's optional arguments after the timings (a model to train on).
     */
    private Process child(PlatformEndpoints platform, String replicaId, String dieAt, Path log, List<String> more)
            throws IOException {
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-XX:TieredStopAtLevel=1", "-cp", System.getProperty("java.class.path"), TrainerChild.class.getName(),
                platform.bootstrapServers(), platform.registryUrl(), topics.prefix(), group, dieAt,
                replicaId, Long.toString(SESSION.toMillis()), Long.toString(KILLED_TRANSACTION.toMillis())));
        command.addAll(more);
        Process child = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        children.add(child);
        return child;
    }

    private LoopSettings replica(String id) {
        return new LoopSettings(group, Duration.ofMillis(100), 100, Duration.ofMillis(100), Duration.ofMillis(500))
                .asReplica(id, SESSION, TRANSACTION);
    }

    private TrainerLoop inProcess(String replicaId, StandInRunner runner) {
        TrainerLoop loop = new TrainerLoop(kafka, replica(replicaId), topics, () -> runner,
                new TrainerMetrics(new SimpleMeterRegistry()), Clock.systemUTC(), RunPhase.Listener.NONE).start();
        loops.add(loop);
        return loop;
    }

    /** One task name per examples partition, each landing on its own partition. */
    private static List<String> taskPerPartition(int partitions) {
        Map<Integer, String> tasks = new LinkedHashMap<>();
        for (int i = 0; tasks.size() < partitions && i < 10_000; i++) {
            String task = "t" + i;
            tasks.putIfAbsent(TaskPartitioner.partitionOf(task, partitions), task);
        }
        assertThat(tasks).hasSize(partitions);
        return List.copyOf(tasks.values());
    }

    private void sendTasks(List<String> tasks) {
        try (KafkaProducer<String, SpecificRecord> producer = new KafkaProducer<>(kafka.producerProperties(group))) {
            for (String task : tasks) {
                producer.send(new ProducerRecord<>(topics.templates(), task,
                        Fixtures.template(task).setRetraining(Fixtures.retraining(EXAMPLES_PER_TASK).build()).build()));
            }
            producer.flush();
        }
        sendExamples(tasks, 0, EXAMPLES_PER_TASK);
    }

    private void sendExamples(List<String> tasks, int from, int to) {
        try (KafkaProducer<String, SpecificRecord> producer = new KafkaProducer<>(kafka.producerProperties(group))) {
            for (String task : tasks) {
                for (int i = from; i < to; i++) {
                    LabelledExample example = yes(task, i, DatasetSplit.TRAIN);
                    producer.send(new ProducerRecord<>(topics.examples(), ExampleKey.of(example).toString(), example));
                }
            }
            producer.flush();
        }
    }

    private <T extends SpecificRecord> List<T> read(String topic, Class<T> type) {
        return RawTopic.values(kafka, topic, type);
    }

    /** Committed adapter versions by task. */
    private Map<String, List<Integer>> versions() {
        return read(topics.adapters(), AdapterVersion.class).stream().collect(Collectors.groupingBy(
                AdapterVersion::getTask, Collectors.mapping(AdapterVersion::getVersion, Collectors.toList())));
    }

    @Test
    void shouldTrainEachTaskOnTheReplicaOwningItsPartitionOnly(PlatformEndpoints platform) {
        topics(platform, "replicas", 6);
        StandInRunner a = new StandInRunner();
        StandInRunner b = new StandInRunner();
        TrainerLoop first = inProcess("trainer-0", a);
        TrainerLoop second = inProcess("trainer-1", b);
        await().atMost(Duration.ofSeconds(30)).until(() -> first.ownedPartitions().size()
                + second.ownedPartitions().size() == 6 && !first.ownedPartitions().isEmpty()
                && !second.ownedPartitions().isEmpty());
        List<String> tasks = taskPerPartition(6);

        sendTasks(tasks);

        await().atMost(Duration.ofSeconds(40)).until(() -> versions().keySet().containsAll(tasks));
        Map<String, List<Integer>> versions = versions();
        tasks.forEach(task -> assertThat(versions.get(task)).as("versions of %s", task).containsExactly(1));
        Set<String> byFirst = a.runs().stream().map(TaskSnapshot::task).collect(Collectors.toSet());
        Set<String> bySecond = b.runs().stream().map(TaskSnapshot::task).collect(Collectors.toSet());
        assertThat(byFirst).as("tasks run by trainer-0").doesNotContainAnyElementsOf(bySecond);
        Set<String> all = new HashSet<>(byFirst);
        all.addAll(bySecond);
        assertThat(all).containsExactlyInAnyOrderElementsOf(tasks);
        for (String task : byFirst) {
            assertThat(first.ownedPartitions()).contains(TaskPartitioner.partitionOf(task, 6));
        }
        assertThat(read(topics.runs(), TrainingRun.class)).noneMatch(r -> r.getStatus() == RunStatus.FAILED);
        assertThat(first.isAlive()).isTrue();
        assertThat(second.isAlive()).isTrue();
    }

    @Test
    void shouldPublishEveryTaskOnceWhenTheReplicaRunningATaskIsKilledMidRun(PlatformEndpoints platform)
            throws IOException, InterruptedException {
        killOneOfThreeReplicasAt(platform, RunPhase.RUN_STARTED);
    }

    @Test
    void shouldPublishEveryTaskOnceWhenAReplicaIsKilledWithItsPublishTransactionOpenAndNeverComesBack(
            PlatformEndpoints platform) throws IOException, InterruptedException {
        // the new owner waits until the broker aborts the dead replica's transaction (its offsets are pending)
        killOneOfThreeReplicasAt(platform, RunPhase.PUBLISH_SENT);
    }

    private void killOneOfThreeReplicasAt(PlatformEndpoints platform, RunPhase phase)
            throws IOException, InterruptedException {
        // 9 examples partitions and 3 feedback partitions over three replicas: each replica owns an examples partition
        topics(platform, "replica-kill", 9);
        StandInRunner a = new StandInRunner();
        StandInRunner b = new StandInRunner();
        TrainerLoop first = inProcess("trainer-1", a);
        TrainerLoop second = inProcess("trainer-2", b);
        Path log = Files.createTempFile(Path.of("target"), "trainer-replica-child", ".log");
        Process child = child(platform, "trainer-0", phase.name(), log, List.of());
        // the child has joined when the in-process replicas own 9 partitions minus the child's share
        await().atMost(Duration.ofSeconds(40)).until(() -> {
            int inProcess = first.ownedPartitions().size() + second.ownedPartitions().size();
            return !first.ownedPartitions().isEmpty() && !second.ownedPartitions().isEmpty() && inProcess < 9;
        });
        Set<Integer> childOwns = new HashSet<>(Set.of(0, 1, 2, 3, 4, 5, 6, 7, 8));
        childOwns.removeAll(first.ownedPartitions());
        childOwns.removeAll(second.ownedPartitions());
        List<String> tasks = taskPerPartition(9);

        sendTasks(tasks);

        assertThat(child.waitFor(30, TimeUnit.SECONDS)).as("the child starts a run of its tasks %s and dies; log: %s",
                childOwns, log).isTrue();
        assertThat(child.exitValue()).as("child halted mid-run; log:%n%s", Files.readString(log))
                .isEqualTo(TrainerChild.HALTED);
        await().atMost(Duration.ofSeconds(50)).until(() -> versions().keySet().containsAll(tasks));

        Map<String, List<Integer>> versions = versions();
        tasks.forEach(task -> assertThat(versions.get(task)).as("versions of %s", task).containsExactly(1));
        List<TrainingRun> runs = read(topics.runs(), TrainingRun.class);
        List<TrainingRun> published = runs.stream().filter(r -> r.getStatus() == RunStatus.PUBLISHED).toList();
        assertThat(published).extracting(TrainingRun::getTask).containsExactlyInAnyOrderElementsOf(tasks);
        assertThat(published).as("no example lost: every run trained on all of its task's examples")
                .allSatisfy(r -> assertThat(r.getTrainingExamples() + r.getValidationExamples())
                        .isEqualTo(EXAMPLES_PER_TASK));
        assertThat(runs).as("the killed replica started a run it never finished")
                .anyMatch(r -> r.getStatus() == RunStatus.STARTED && r.getMessage().contains("replica trainer-0"));
        Set<String> taken = new HashSet<>();
        a.runs().forEach(s -> taken.add(s.task()));
        b.runs().forEach(s -> taken.add(s.task()));
        assertThat(taken).as("the survivors ran the killed replica's tasks too").containsExactlyInAnyOrderElementsOf(tasks);
        assertThat(first.isAlive()).isTrue();
        assertThat(second.isAlive()).isTrue();
    }

    /**
     * Issue 13's three replicas: each of three child JVMs, training on tiny-gpt2, owns a task; in the second round
     * the replica running a task is SIGKILLed in the middle of its run (after its first epoch's RUNNING record).
     * Every task still gets its two versions, each published once, and the last run of each task trained on
     * every example sent.
     */
    @Test
    void shouldGiveEveryTaskEachVersionOnceFromEveryExampleWhenTheReplicaRunningATaskIsSigkilledMidRun(
            PlatformEndpoints platform) throws Exception {
        // 9 examples partitions and 3 feedback partitions over three replicas: each replica owns an examples partition
        topics(platform, "replica-sigkill", 9);
        Map<String, Process> replicas = new LinkedHashMap<>();
        Map<String, Path> logs = new LinkedHashMap<>();
        for (String id : List.of("trainer-0", "trainer-1", "trainer-2")) {
            logs.put(id, Files.createTempFile(Path.of("target"), "trainer-sigkill-" + id + "-", ".log"));
            replicas.put(id, child(platform, id, TrainerChild.NEVER, logs.get(id),
                    List.of(Fixtures.tinyGpt2().toString())));
        }
        Map<String, Set<Integer>> owned;
        try (Admin admin = Admin.create(kafka.adminProperties())) {
            owned = await("each of the three replicas owns examples partitions; logs " + logs.values())
                    .atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(200))
                    .until(() -> examplesPartitionsByReplica(admin), o -> o.size() == 3
                            && o.values().stream().noneMatch(Set::isEmpty)
                            && o.values().stream().mapToInt(Set::size).sum() == 9);
        }
        // one task per replica, on a partition it owns
        List<String> byPartition = taskPerPartition(9);
        List<String> tasks = owned.values().stream().map(p -> byPartition.get(p.iterator().next())).toList();
        try (KafkaProducer<String, SpecificRecord> producer = new KafkaProducer<>(kafka.producerProperties(group))) {
            for (String task : tasks) {
                producer.send(new ProducerRecord<>(topics.templates(), task, Fixtures.template(task)
                        .setTuning(Fixtures.smallTuning().setMaxEpochs(LONG_RUN_EPOCHS).setPatience(LONG_RUN_EPOCHS).build())
                        .setRetraining(Fixtures.retraining(ROUND_EXAMPLES + 1).build()).build()));
            }
        }

        sendRound(tasks, 1, "a number", " yes");
        await("v1 of every task; logs " + logs.values()).atMost(Duration.ofSeconds(90))
                .until(() -> versions().keySet().containsAll(tasks));
        Set<String> firstRound = read(topics.runs(), TrainingRun.class).stream().map(TrainingRun::getRunId)
                .collect(Collectors.toSet());
        // the second round's answers differ from the first's: v2 beats v1 on the validation examples of both
        sendRound(tasks, 2, "a letter", " no");
        TrainingRun running = await("a run of the second round in progress").atMost(Duration.ofSeconds(60))
                .pollInterval(Duration.ofMillis(50))
                .until(() -> read(topics.runs(), TrainingRun.class).stream().filter(r -> r.getStatus() == RunStatus.RUNNING
                        && !firstRound.contains(r.getRunId())).findFirst(), java.util.Optional::isPresent).orElseThrow();
        String victim = replicaOf(running.getRunId());
        Process killed = replicas.get(victim);

        killed.destroyForcibly();

        assertThat(killed.waitFor(10, TimeUnit.SECONDS)).as("%s killed", victim).isTrue();
        assertThat(killed.exitValue()).as("%s died of SIGKILL", victim).isEqualTo(128 + 9);
        List<TrainingRun> ofKilledRun = read(topics.runs(), TrainingRun.class).stream()
                .filter(r -> r.getRunId().equals(running.getRunId())).toList();
        assertThat(ofKilledRun).as("the killed run %s never ended", running.getRunId())
                .noneMatch(r -> r.getStatus() == RunStatus.PUBLISHED || r.getStatus() == RunStatus.NOT_PUBLISHED
                        || r.getStatus() == RunStatus.FAILED);
        System.out.printf("SIGKILLed %s running %s: epoch %d of %d recorded, %d ms into the run%n", victim,
                running.getTask(), ofKilledRun.stream().mapToInt(TrainingRun::getEpoch).max().orElse(0), LONG_RUN_EPOCHS,
                System.currentTimeMillis() - running.getStartedAtMillis());
        await("v2 of every task after the kill; logs " + logs.values()).atMost(Duration.ofSeconds(90))
                .until(() -> tasks.stream().allMatch(t -> versions().getOrDefault(t, List.of()).size() >= 2));

        Map<String, List<Integer>> versions = versions();
        tasks.forEach(task -> assertThat(versions.get(task)).as("versions of %s, each published once", task)
                .containsExactly(1, 2));
        List<TrainingRun> runs = read(topics.runs(), TrainingRun.class);
        for (String task : tasks) {
            List<TrainingRun> published = runs.stream().filter(r -> r.getTask().equals(task)
                    && r.getStatus() == RunStatus.PUBLISHED).toList();
            assertThat(published).extracting(TrainingRun::getPublishedVersion).as("published runs of %s", task)
                    .containsExactly(1, 2);
            TrainingRun last = published.get(1);
            assertThat(last.getTrainingExamples() + last.getValidationExamples())
                    .as("no example of %s lost: v2 trained on both rounds", task).isEqualTo(2 * (ROUND_EXAMPLES + 1));
            assertThat(last.getWarmStartVersion()).as("%s's v2 warm-started from v1", task).isEqualTo(1);
            System.out.printf("%s: v1 in %d ms, v2 in %d ms by %s (validation loss %.4f against v1's %.4f)%n", task,
                    published.get(0).getUpdatedAtMillis() - published.get(0).getStartedAtMillis(),
                    last.getUpdatedAtMillis() - last.getStartedAtMillis(), replicaOf(last.getRunId()),
                    last.getValidationLoss(), last.getServingValidationLoss());
        }
        TrainingRun taken = runs.stream().filter(r -> r.getTask().equals(running.getTask())
                && r.getStatus() == RunStatus.PUBLISHED && r.getPublishedVersion() == 2).findFirst().orElseThrow();
        assertThat(replicaOf(taken.getRunId())).as("%s's v2 published by a survivor", running.getTask())
                .isNotEqualTo(victim);
        replicas.forEach((id, process) -> {
            if (!id.equals(victim)) {
                assertThat(process.isAlive()).as("survivor %s alive; log %s", id, logs.get(id)).isTrue();
            }
        });
    }

    /** A round of examples of every task in one transaction: TRAIN ones and one VALIDATION one, all answered alike. */
    private void sendRound(List<String> tasks, int round, String what, String answer) {
        try (KafkaProducer<String, SpecificRecord> producer = new KafkaProducer<>(kafka.transactionalProducerProperties(
                group + "-round", group + "-round-" + round))) {
            producer.initTransactions();
            producer.beginTransaction();
            for (String task : tasks) {
                List<LabelledExample> examples = new ArrayList<>();
                for (int i = 0; i < ROUND_EXAMPLES; i++) {
                    examples.add(Fixtures.example(task, task + "-" + round + "-" + i, "is " + i + " " + what + "?", answer,
                            DatasetSplit.TRAIN));
                }
                examples.add(Fixtures.example(task, task + "-" + round + "-validation", "is 99 " + what + "?", answer,
                        DatasetSplit.VALIDATION));
                examples.forEach(e -> producer.send(new ProducerRecord<>(topics.examples(), ExampleKey.of(e).toString(), e)));
            }
            producer.commitTransaction();
        }
    }

    /** The replica a run started on, as its STARTED record says. */
    private String replicaOf(String runId) {
        TrainingRun started = read(topics.runs(), TrainingRun.class).stream().filter(r -> r.getRunId().equals(runId)
                && r.getStatus() == RunStatus.STARTED).findFirst().orElseThrow();
        java.util.regex.Matcher replica = java.util.regex.Pattern.compile("started on replica ([^:]+):")
                .matcher(started.getMessage());
        assertThat(replica.find()).as("replica named in %s", started.getMessage()).isTrue();
        return replica.group(1);
    }

    /**
     * The {@code examples} partitions of each member of the group, by replica id (its group.instance.id); empty
     * before the first member joined.
     */
    private Map<String, Set<Integer>> examplesPartitionsByReplica(Admin admin) throws Exception {
        ConsumerGroupDescription description;
        try {
            description = admin.describeConsumerGroups(List.of(group)).describedGroups().get(group)
                    .get(10, TimeUnit.SECONDS);
        } catch (java.util.concurrent.ExecutionException e) {
            if (e.getCause() instanceof org.apache.kafka.common.errors.GroupIdNotFoundException) {
                return Map.of();
            }
            throw e;
        }
        Map<String, Set<Integer>> owned = new java.util.TreeMap<>();
        for (MemberDescription member : description.members()) {
            owned.put(member.groupInstanceId().orElse(member.consumerId()), member.assignment().topicPartitions().stream()
                    .filter(p -> p.topic().equals(topics.examples())).map(TopicPartition::partition)
                    .collect(Collectors.toCollection(java.util.TreeSet::new)));
        }
        return owned;
    }

    @Test
    void shouldStopAReplicaWhenAnotherProcessTakesItsReplicaIdMidRun(PlatformEndpoints platform) {
        // the reported failure: two processes with one transactional id, the fenced one still live
        topics(platform, "replica-fenced", 3);
        java.util.concurrent.CountDownLatch never = new java.util.concurrent.CountDownLatch(1);
        StandInRunner held = new StandInRunner(never);
        TrainerLoop first = inProcess("trainer-0", held);
        await().atMost(Duration.ofSeconds(30)).until(() -> first.ownedPartitions().size() == 3);
        String task = taskPerPartition(3).get(0);
        sendTasks(List.of(task));
        await().atMost(Duration.ofSeconds(30)).until(() -> first.runningTask().isPresent());

        StandInRunner taking = new StandInRunner();
        TrainerLoop second = inProcess("trainer-0", taking);

        await().atMost(Duration.ofSeconds(40)).until(() -> !first.isAlive());
        assertThat(first.failure()).as("why the fenced replica stopped (liveness DOWN)").isPresent();
        never.countDown();
        await().atMost(Duration.ofSeconds(40)).until(() -> versions().containsKey(task));
        assertThat(versions().get(task)).containsExactly(1);
        assertThat(taking.runs()).extracting(TaskSnapshot::task).containsExactly(task);
        assertThat(second.isAlive()).isTrue();
    }

    @Test
    void shouldRunTasksOfOneReplicaInParallelUpToParallelRuns(PlatformEndpoints platform) {
        topics(platform, "replica-parallel", 3);
        java.util.concurrent.CountDownLatch gate = new java.util.concurrent.CountDownLatch(1);
        StandInRunner held = new StandInRunner(gate);
        TrainerLoop loop = new TrainerLoop(kafka, replica("trainer-0").withParallelRuns(2), topics, () -> held,
                new TrainerMetrics(new SimpleMeterRegistry()), Clock.systemUTC(), RunPhase.Listener.NONE).start();
        loops.add(loop);
        await().atMost(Duration.ofSeconds(30)).until(() -> loop.ownedPartitions().size() == 3);
        List<String> tasks = taskPerPartition(3);

        sendTasks(tasks);

        // two runs in progress at once, the third task waits for a free slot
        await().atMost(Duration.ofSeconds(30)).until(() -> held.runs().size() == 2);
        assertThat(loop.runningTasks()).hasSize(2);
        gate.countDown();
        await().atMost(Duration.ofSeconds(30)).until(() -> versions().keySet().containsAll(tasks));
        Map<String, List<Integer>> versions = versions();
        tasks.forEach(task -> assertThat(versions.get(task)).as("versions of %s", task).containsExactly(1));
        assertThat(held.runs()).hasSize(3);
    }

    @Test
    void shouldNumberATaskThatMovedToAnotherReplicaAboveItsLastVersionFromAllItsExamples(PlatformEndpoints platform) {
        topics(platform, "replica-move", 4);
        StandInRunner a = new StandInRunner();
        StandInRunner b = new StandInRunner();
        TrainerLoop leaving = inProcess("trainer-0", a);
        TrainerLoop staying = inProcess("trainer-1", b);
        await().atMost(Duration.ofSeconds(30)).until(() -> leaving.ownedPartitions().size()
                + staying.ownedPartitions().size() == 4 && !leaving.ownedPartitions().isEmpty()
                && !staying.ownedPartitions().isEmpty());
        List<String> tasks = taskPerPartition(4);
        sendTasks(tasks);
        await().atMost(Duration.ofSeconds(30)).until(() -> versions().values().stream().filter(v -> v.equals(List.of(1)))
                .count() == 4);
        Set<String> moved = a.runs().stream().map(TaskSnapshot::task).collect(Collectors.toSet());
        assertThat(moved).isNotEmpty();

        leaving.close();
        loops.remove(leaving);
        sendExamples(tasks, EXAMPLES_PER_TASK, 2 * EXAMPLES_PER_TASK);

        // the leaving replica's tasks move once its session times out
        await().atMost(Duration.ofSeconds(40)).until(() -> versions().values().stream()
                .filter(v -> v.equals(List.of(1, 2))).count() == 4);
        for (String task : moved) {
            TaskSnapshot second = b.runs().stream().filter(s -> s.task().equals(task)).findFirst().orElseThrow();
            assertThat(second.nextVersion()).as("%s numbered above v1 by the new owner", task).isEqualTo(2);
            assertThat(second.train().size() + second.validation().size()).as("%s rebuilt from every example", task)
                    .isEqualTo(2 * EXAMPLES_PER_TASK);
            assertThat(second.checkpoint()).as("%s starts from the checkpoint of v1", task).get()
                    .extracting(c -> c.getVersion()).isEqualTo(1);
        }
    }

    @Test
    void shouldConvertEachFeedbackOnceOnTheReplicaOwningItsPartitionForTheTasksOwner(PlatformEndpoints platform) {
        topics(platform, "replica-feedback", 3);
        StandInRunner a = new StandInRunner();
        StandInRunner b = new StandInRunner();
        TrainerLoop first = inProcess("trainer-0", a);
        TrainerLoop second = inProcess("trainer-1", b);
        await().atMost(Duration.ofSeconds(30)).until(() -> first.ownedPartitions().size()
                + second.ownedPartitions().size() == 3 && first.isCaughtUp() && second.isCaughtUp());
        String task = "fb";
        int feedbacks = 6;
        try (KafkaProducer<String, SpecificRecord> producer = new KafkaProducer<>(kafka.producerProperties(group))) {
            producer.send(new ProducerRecord<>(topics.templates(), task,
                    Fixtures.template(task).setRetraining(Fixtures.retraining(feedbacks).build()).build()));
            producer.flush();
            for (int i = 0; i < feedbacks; i++) {
                // request ids with '/': keyed by request id, spread over the feedback partitions (not on "squad")
                String requestId = "squad/req-" + i;
                producer.send(new ProducerRecord<>(topics.feedback(), requestId, io.tunestream.schemas.Feedback.newBuilder()
                        .setRequestId(requestId).setTask(task).setVerdict(io.tunestream.schemas.Verdict.CORRECTED)
                        .setAnswerText(" no").setCorrection(" yes").setFields(Map.of("question", "q" + i)).build()));
            }
        }

        await().atMost(Duration.ofSeconds(40)).until(() -> versions().containsKey(task));
        var examples = RawTopic.read(kafka, topics.examples(), true);
        assertThat(examples).as("each feedback converted once, by one replica").hasSize(feedbacks);
        assertThat(examples).extracting(r -> r.partition()).as("on the task's partition")
                .containsOnly(TaskPartitioner.partitionOf(task, 3));
        Set<Integer> feedbackPartitions = RawTopic.read(kafka, topics.feedback(), true).stream().map(r -> r.partition())
                .collect(Collectors.toSet());
        assertThat(feedbackPartitions).as("request ids hashed whole, not on their prefix").hasSizeGreaterThan(1);
        StandInRunner owner = first.ownedPartitions().contains(TaskPartitioner.partitionOf(task, 3)) ? a : b;
        assertThat(owner.runs()).hasSize(1);
        assertThat(owner.runs().get(0).train().size() + owner.runs().get(0).validation().size()).isEqualTo(feedbacks);
        assertThat(versions().get(task)).containsExactly(1);
    }
}

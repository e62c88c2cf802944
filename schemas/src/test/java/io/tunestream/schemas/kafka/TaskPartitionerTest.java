package io.tunestream.schemas.kafka;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.apache.kafka.common.Cluster;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.utils.Utils;
import org.junit.jupiter.api.Test;

class TaskPartitionerTest {

    private static final Node NODE = new Node(0, "localhost", 9092);
    private final TaskPartitioner partitioner = new TaskPartitioner();

    private static Cluster cluster(String topic, int partitions) {
        List<PartitionInfo> infos = new ArrayList<>();
        for (int p = 0; p < partitions; p++) {
            infos.add(new PartitionInfo(topic, p, NODE, new Node[] {NODE}, new Node[] {NODE}));
        }
        return new Cluster("c", List.of(NODE), infos, Set.of(), Set.of());
    }

    private int partition(String key, Cluster cluster) {
        return partition("examples", key, cluster);
    }

    private int partition(String topic, String key, Cluster cluster) {
        return partitioner.partition(topic, key, key.getBytes(StandardCharsets.UTF_8), null, null, cluster);
    }

    /** Kafka's documented key partitioning, written out: murmur2 of the key bytes, made positive, modulo partitions. */
    private static int kafkaDefault(String key, int partitions) {
        return Utils.toPositive(Utils.murmur2(key.getBytes(StandardCharsets.UTF_8))) % partitions;
    }

    private static String randomText(Random random) {
        int length = 1 + random.nextInt(24);
        StringBuilder text = new StringBuilder();
        for (int i = 0; i < length; i++) {
            char c = (char) ('!' + random.nextInt(94));
            text.append(c == '/' ? 'x' : c);
        }
        return text.toString();
    }

    @Test
    void shouldPutAKeyWithoutSlashWhereKafkasDefaultPartitionerPutsIt() {
        Random random = new Random(42);
        for (int partitions : new int[] {1, 2, 3, 6, 7, 64}) {
            Cluster cluster = cluster("examples", partitions);
            for (int i = 0; i < 2_000; i++) {
                String key = randomText(random);
                assertThat(partition(key, cluster)).as("key %s, %d partitions", key, partitions)
                        .isEqualTo(kafkaDefault(key, partitions));
            }
        }
    }

    @Test
    void shouldPutTaskSlashExampleWhereTheTaskAloneWouldGo() {
        Random random = new Random(7);
        for (int partitions : new int[] {1, 3, 6, 64}) {
            Cluster cluster = cluster("examples", partitions);
            for (int i = 0; i < 2_000; i++) {
                String task = randomText(random);
                String exampleId = randomText(random) + "/" + randomText(random);
                assertThat(partition(task + "/" + exampleId, cluster)).as("task %s, %d partitions", task, partitions)
                        .isEqualTo(kafkaDefault(task, partitions));
            }
        }
    }

    @Test
    void shouldSpreadTasksOverThePartitions() {
        Cluster cluster = cluster("examples", 3);
        Set<Integer> used = new HashSet<>();
        for (int i = 0; i < 50; i++) {
            used.add(partition("task-" + i + "/e", cluster));
        }
        assertThat(used).containsExactlyInAnyOrder(0, 1, 2);
    }

    @Test
    void shouldPutKeylessRecordsOnAnAvailablePartition() {
        Cluster cluster = cluster("examples", 4);
        for (int i = 0; i < 100; i++) {
            assertThat(partitioner.partition("examples", null, null, null, null, cluster)).isBetween(0, 3);
        }
    }

    @Test
    void shouldBeThePartitionerOfEveryProducerOfKafkaClientConfig() {
        var kafka = new KafkaClientConfig("localhost:9092",
                io.tunestream.schemas.registry.RegistryConfig.forRegistry("http://localhost:8080"));
        assertThat(kafka.producerProperties("p")).containsEntry("partitioner.class", TaskPartitioner.class.getName());
        assertThat(kafka.transactionalProducerProperties("p", "tx"))
                .containsEntry("partitioner.class", TaskPartitioner.class.getName());
    }

    @Test
    void shouldHashARequestIdWithASlashWholeOnTopicsThatAreNotTaskKeyed() {
        // "squad/req-17" is a request id, not a task key: its prefix must not pick the partition
        for (String topic : new String[] {"requests", "answers", "feedback", "it-7-feedback"}) {
            Cluster cluster = cluster(topic, 64);
            for (int i = 0; i < 200; i++) {
                String requestId = "squad/req-" + i;
                assertThat(partition(topic, requestId, cluster)).as("%s on %s", requestId, topic)
                        .isEqualTo(kafkaDefault(requestId, 64));
            }
        }
        // with 64 partitions, 200 ids sharing the prefix "squad" cannot all land where "squad" does
        Cluster requests = cluster("requests", 64);
        Set<Integer> used = new HashSet<>();
        for (int i = 0; i < 200; i++) {
            used.add(partition("requests", "squad/req-" + i, requests));
        }
        assertThat(used.size()).isGreaterThan(30);
    }

    @Test
    void shouldPartitionOnTheTaskPartOnAPrefixedExamplesTopic() {
        Cluster cluster = cluster("it-7-examples", 64);
        assertThat(partition("it-7-examples", "squad/e-1", cluster)).isEqualTo(kafkaDefault("squad", 64));
    }

    @Test
    void shouldApplyTheTaskRuleToExactlyTheConfiguredTopicsWhenListed() {
        TaskPartitioner configured = new TaskPartitioner();
        configured.configure(java.util.Map.of(TaskPartitioner.TASK_KEYED_TOPICS_CONFIG, "ex-a, ex-b"));
        assertThat(configured.isTaskKeyed("ex-a")).isTrue();
        assertThat(configured.isTaskKeyed("ex-b")).isTrue();
        assertThat(configured.isTaskKeyed("examples")).isFalse();
        Cluster cluster = cluster("examples", 64);
        assertThat(configured.partition("examples", "squad/e-1", "squad/e-1".getBytes(StandardCharsets.UTF_8), null,
                null, cluster)).isEqualTo(kafkaDefault("squad/e-1", 64));
    }

    @Test
    void shouldRefuseAnEmptyListOfTaskKeyedTopics() {
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> new TaskPartitioner()
                        .configure(java.util.Map.of(TaskPartitioner.TASK_KEYED_TOPICS_CONFIG, " , ")))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(TaskPartitioner.TASK_KEYED_TOPICS_CONFIG);
    }
}

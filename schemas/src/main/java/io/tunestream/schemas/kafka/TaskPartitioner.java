package io.tunestream.schemas.kafka;

import io.tunestream.schemas.ExampleKey;
import io.tunestream.schemas.Topics;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import org.apache.kafka.clients.producer.Partitioner;
import org.apache.kafka.clients.producer.internals.BuiltInPartitioner;
import org.apache.kafka.common.Cluster;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.utils.Utils;

/**
 * Partitions a string key {@code <task>/<rest>} of a task-keyed topic on its task part, with Kafka's own key hash
 * ({@code murmur2}, as the default partitioner hashes a whole key): every record of a task lands on
 * one partition, whatever follows the '/', so one consumer owns a task and reads its examples in the
 * order they were written. A key without '/' hashes whole, exactly as the default partitioner does,
 * so task-keyed records (adapters, templates, the examples written before example keys) land where
 * they always did.
 *
 * <p>Only task-keyed topics get the task-part rule: the partitioner is set on every producer, and
 * on any other topic a key is whole (a request id containing '/' on {@code requests}, {@code answers}
 * or {@code feedback} hashes whole, as the default partitioner would). The task-keyed topics are the
 * catalogue's {@link Topics#TASK_KEYED} names under any deployment prefix (a topic whose name ends
 * with one of them), or exactly the names listed in {@link #TASK_KEYED_TOPICS_CONFIG} when it is set.
 *
 * <p>Records without a key go to a random available partition (the default partitioner would stick
 * to one per batch; with a custom partitioner the producer leaves keyless records to it). Other key
 * types hash their serialized bytes whole.
 */
public final class TaskPartitioner implements Partitioner {

    /**
     * Producer property: comma-separated exact names of the topics whose keys are partitioned on their
     * task part; when absent, every topic whose name ends with a name of {@link Topics#TASK_KEYED}.
     */
    public static final String TASK_KEYED_TOPICS_CONFIG = "tunestream.partitioner.task.keyed.topics";

    private List<String> exactTopics = List.of();

    @Override
    public int partition(String topic, Object key, byte[] keyBytes, Object value, byte[] valueBytes, Cluster cluster) {
        int partitions = cluster.partitionsForTopic(topic).size();
        if (keyBytes == null) {
            return keyless(topic, cluster, partitions);
        }
        boolean onTask = key instanceof String && isTaskKeyed(topic);
        return partition(onTask ? taskPart((String) key).getBytes(StandardCharsets.UTF_8) : keyBytes, partitions);
    }

    /** Whether keys of {@code topic} are partitioned on their task part. */
    public boolean isTaskKeyed(String topic) {
        if (!exactTopics.isEmpty()) {
            return exactTopics.contains(topic);
        }
        return Topics.TASK_KEYED.stream().anyMatch(spec -> topic.endsWith(spec.name()));
    }

    /**
     * The partition of a task-keyed topic with {@code partitions} partitions that holds {@code task}'s records:
     * the consumer owning it owns the task.
     */
    public static int partitionOf(String task, int partitions) {
        return partition(taskPart(task).getBytes(StandardCharsets.UTF_8), partitions);
    }

    /** The partition of a key whose hashed part is {@code hashedBytes}: Kafka's key-partitioning formula. */
    static int partition(byte[] hashedBytes, int partitions) {
        return BuiltInPartitioner.partitionForKey(hashedBytes, partitions);
    }

    /** The part of a key that picks its partition: up to the first '/', or the whole key. */
    static String taskPart(String key) {
        int at = key.indexOf(ExampleKey.SEPARATOR);
        return at < 0 ? key : key.substring(0, at);
    }

    private static int keyless(String topic, Cluster cluster, int partitions) {
        var available = cluster.availablePartitionsForTopic(topic);
        int random = Utils.toPositive(ThreadLocalRandom.current().nextInt());
        if (available.isEmpty()) {
            return random % partitions;
        }
        PartitionInfo chosen = available.get(random % available.size());
        return chosen.partition();
    }

    @Override
    public void configure(Map<String, ?> configs) {
        Object listed = configs.get(TASK_KEYED_TOPICS_CONFIG);
        if (listed == null) {
            return;
        }
        List<String> names = listed instanceof List<?> list ? list.stream().map(String::valueOf).toList()
                : Arrays.asList(String.valueOf(listed).split(","));
        exactTopics = names.stream().map(String::trim).filter(n -> !n.isEmpty()).toList();
        if (exactTopics.isEmpty()) {
            throw new IllegalArgumentException(TASK_KEYED_TOPICS_CONFIG + " must name at least one topic when set, got '"
                    + listed + "'");
        }
    }

    @Override
    public void close() {
        // nothing held
    }
}

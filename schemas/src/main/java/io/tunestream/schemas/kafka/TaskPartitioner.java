package io.tunestream.schemas.kafka;

import io.tunestream.schemas.ExampleKey;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import org.apache.kafka.clients.producer.Partitioner;
import org.apache.kafka.clients.producer.internals.BuiltInPartitioner;
import org.apache.kafka.common.Cluster;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.utils.Utils;

/**
 * Partitions a string key {@code <task>/<rest>} on its task part, with Kafka's own key hash
 * ({@code murmur2}, as the default partitioner hashes a whole key): every record of a task lands on
 * one partition, whatever follows the '/', so one consumer owns a task and reads its examples in the
 * order they were written. A key without '/' hashes whole, exactly as the default partitioner does,
 * so task-keyed records (adapters, templates, the examples written before example keys) land where
 * they always did.
 *
 * <p>Records without a key go to a random available partition (the default partitioner would stick
 * to one per batch; with a custom partitioner the producer leaves keyless records to it). Other key
 * types hash their serialized bytes whole.
 */
public final class TaskPartitioner implements Partitioner {

    @Override
    public int partition(String topic, Object key, byte[] keyBytes, Object value, byte[] valueBytes, Cluster cluster) {
        int partitions = cluster.partitionsForTopic(topic).size();
        if (keyBytes == null) {
            return keyless(topic, cluster, partitions);
        }
        return partition(key instanceof String text ? taskPart(text).getBytes(StandardCharsets.UTF_8) : keyBytes,
                partitions);
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
        // nothing to configure
    }

    @Override
    public void close() {
        // nothing held
    }
}

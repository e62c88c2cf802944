package io.tunestream.schemas;

import java.util.Map;
import java.util.Objects;
import org.apache.avro.Schema;
import org.apache.kafka.common.config.TopicConfig;

/**
 * One Kafka topic of Tunestream: its name, what its key is, the Avro schema of its values,
 * and how it is created.
 *
 * @param name          topic name
 * @param keyDoc        what the (string) key holds
 * @param valueSchema   Avro schema of the values; {@code null} for topics whose values are raw bytes
 * @param compacted     {@code cleanup.policy=compact} (latest value per key kept) instead of delete
 * @param partitions    default partition count
 * @param extraConfigs  further topic configs, e.g. a larger {@code max.message.bytes}
 */
public record TopicSpec(String name, String keyDoc, Schema valueSchema, boolean compacted, int partitions,
                        Map<String, String> extraConfigs) {

    public TopicSpec {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(keyDoc, "keyDoc");
        if (partitions < 1) {
            throw new IllegalArgumentException("topic " + name + ": partitions must be >= 1, was " + partitions);
        }
        extraConfigs = Map.copyOf(extraConfigs);
    }

    /** Topic configs to create it with: cleanup policy plus the extra configs. */
    public Map<String, String> configs() {
        var configs = new java.util.HashMap<>(extraConfigs);
        configs.put(TopicConfig.CLEANUP_POLICY_CONFIG,
                compacted ? TopicConfig.CLEANUP_POLICY_COMPACT : TopicConfig.CLEANUP_POLICY_DELETE);
        return Map.copyOf(configs);
    }

    /** This topic under another name (a prefixed or per-test copy), with the same schema and configs. */
    public TopicSpec withName(String newName) {
        return new TopicSpec(newName, keyDoc, valueSchema, compacted, partitions, extraConfigs);
    }
}

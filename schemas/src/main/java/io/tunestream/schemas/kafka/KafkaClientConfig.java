package io.tunestream.schemas.kafka;

import io.apicurio.registry.serde.avro.AvroKafkaDeserializer;
import io.apicurio.registry.serde.avro.AvroKafkaSerializer;
import io.tunestream.schemas.Topics;
import io.tunestream.schemas.registry.RegistryConfig;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;
import org.apache.kafka.clients.CommonClientConfigs;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.IsolationLevel;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * Properties of Tunestream's Kafka clients: string keys, Apicurio Avro values (see {@link
 * RegistryConfig}), idempotent producers that can send adapters up to {@link
 * Topics#LARGE_MESSAGE_BYTES}, and consumers that only see committed transactions.
 *
 * <p>Every map also carries the shared {@link KafkaClientSettings} (security protocol, SASL,
 * TLS and any other client key), so admin clients, producers, consumers and Kafka Streams of
 * every module connect the same way. Those maps hold secrets: never log them.
 *
 * <p>Callers add what is theirs (client id, group id) and may override any property.
 *
 * @param bootstrapServers Kafka bootstrap servers, {@code host:port[,host:port…]}
 * @param registry         registry the value serdes use
 * @param client           security and other client settings shared by every client
 */
public record KafkaClientConfig(String bootstrapServers, RegistryConfig registry, KafkaClientSettings client) {

    public KafkaClientConfig {
        Objects.requireNonNull(bootstrapServers, "bootstrapServers");
        Objects.requireNonNull(registry, "registry");
        Objects.requireNonNull(client, "client");
        if (bootstrapServers.isBlank()) {
            throw new IllegalArgumentException("bootstrap servers must not be blank (e.g. localhost:9092)");
        }
    }

    /** A PLAINTEXT client config, without further client settings. */
    public KafkaClientConfig(String bootstrapServers, RegistryConfig registry) {
        this(bootstrapServers, registry, KafkaClientSettings.none());
    }

    /** For start-up logs: where, over which protocol, as whom (never a secret). */
    public String describe() {
        return bootstrapServers + " over " + client.describe();
    }

    /** Properties of an Admin client. */
    public Map<String, Object> adminProperties() {
        Map<String, Object> properties = new HashMap<>(client.properties());
        properties.put(CommonClientConfigs.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        return properties;
    }

    /** An idempotent producer with string keys and Avro values. */
    public Map<String, Object> producerProperties(String clientId) {
        Map<String, Object> properties = new HashMap<>(registry.serdeProperties());
        properties.putAll(client.properties());
        properties.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        properties.put(ProducerConfig.CLIENT_ID_CONFIG, clientId);
        properties.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        properties.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, AvroKafkaSerializer.class.getName());
        properties.put(ProducerConfig.ACKS_CONFIG, "all");
        properties.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        // adapters and checkpoints exceed the 1 MiB default; their topics allow the same size
        properties.put(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, Topics.LARGE_MESSAGE_BYTES);
        // examples are keyed <task>/<exampleId>: a task's records share a partition (task-only keys land as before)
        properties.put(ProducerConfig.PARTITIONER_CLASS_CONFIG, TaskPartitioner.class.getName());
        return properties;
    }

    /** A transactional producer: records sent between begin and commit are seen all or none. */
    public Map<String, Object> transactionalProducerProperties(String clientId, String transactionalId) {
        Map<String, Object> properties = producerProperties(clientId);
        properties.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, Objects.requireNonNull(transactionalId));
        return properties;
    }

    /**
     * A consumer with string keys and values of the generated classes, reading committed records
     * only, from the earliest offset when the group has none; {@code groupId} may be null for
     * consumers that assign partitions themselves.
     */
    public Map<String, Object> consumerProperties(String clientId, String groupId) {
        Map<String, Object> properties = new HashMap<>(registry.serdeProperties());
        properties.putAll(client.properties());
        properties.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        properties.put(ConsumerConfig.CLIENT_ID_CONFIG, clientId);
        if (groupId != null) {
            properties.put(ConsumerConfig.GROUP_ID_CONFIG, groupId);
        }
        properties.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        properties.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, AvroKafkaDeserializer.class.getName());
        properties.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, IsolationLevel.READ_COMMITTED.toString());
        properties.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        properties.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        return properties;
    }

    /**
     * Common Kafka Streams properties: application id, bootstrap servers, exactly-once, string
     * keys, large producer requests and the registry settings (which the serdes built by {@code
     * AvroSerdes} do not need, but serdes configured by class name do).
     */
    public Map<String, Object> streamsProperties(String applicationId) {
        Map<String, Object> properties = new HashMap<>(registry.serdeProperties());
        // Kafka Streams hands unprefixed client keys to its producers, consumers and admin client
        properties.putAll(client.properties());
        properties.put("application.id", Objects.requireNonNull(applicationId, "applicationId"));
        properties.put("bootstrap.servers", bootstrapServers);
        properties.put("processing.guarantee", "exactly_once_v2");
        properties.put("default.key.serde", "org.apache.kafka.common.serialization.Serdes$StringSerde");
        properties.put("producer." + ProducerConfig.MAX_REQUEST_SIZE_CONFIG, Topics.LARGE_MESSAGE_BYTES);
        return properties;
    }
}

package io.tunestream.schemas;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.KafkaFuture;
import org.apache.kafka.common.errors.TopicExistsException;

/**
 * Creates the catalogue's topics that do not exist yet, with their cleanup policy and configs.
 * Idempotent: existing topics are left as they are.
 *
 * <p>Partition count and replication factor come from the {@link TopicSpec} and the broker's
 * {@code default.replication.factor} unless overridden, e.g. for a single local broker.
 */
public final class TopicsAdmin {

    /**
     * Overrides of the catalogue's layout.
     *
     * @param partitions        partitions of every topic instead of the spec's; empty: the spec's
     * @param replicationFactor replication factor; empty: the broker's default
     */
    public record Layout(Optional<Integer> partitions, Optional<Short> replicationFactor) {
        public Layout {
            Objects.requireNonNull(partitions, "partitions");
            Objects.requireNonNull(replicationFactor, "replicationFactor");
            partitions.ifPresent(p -> {
                if (p < 1) {
                    throw new IllegalArgumentException("partitions must be >= 1, was " + p);
                }
            });
            replicationFactor.ifPresent(r -> {
                if (r < 1) {
                    throw new IllegalArgumentException("replication factor must be >= 1, was " + r);
                }
            });
        }

        /** The catalogue's partitions, the broker's replication factor. */
        public static Layout catalogue() {
            return new Layout(Optional.empty(), Optional.empty());
        }
    }

    private final Admin admin;
    private final Layout layout;
    private final long timeoutMillis;

    public TopicsAdmin(Admin admin, Layout layout, java.time.Duration timeout) {
        this.admin = Objects.requireNonNull(admin, "admin");
        this.layout = Objects.requireNonNull(layout, "layout");
        this.timeoutMillis = timeout.toMillis();
    }

    /** The {@link NewTopic} this admin creates for {@code spec}. */
    public NewTopic newTopic(TopicSpec spec) {
        return new NewTopic(spec.name(), Optional.of(layout.partitions().orElse(spec.partitions())),
                layout.replicationFactor()).configs(spec.configs());
    }

    /**
     * Creates the topics of {@code specs} that are missing.
     *
     * @return names of the topics created by this call (empty when all existed)
     * @throws IllegalStateException naming the topic when the broker refuses one or does not answer in time
     */
    public List<String> ensure(Collection<TopicSpec> specs) {
        List<NewTopic> topics = specs.stream().map(this::newTopic).toList();
        Map<String, KafkaFuture<Void>> results = admin.createTopics(topics).values();
        List<String> created = new ArrayList<>();
        for (NewTopic topic : topics) {
            try {
                results.get(topic.name()).get(timeoutMillis, TimeUnit.MILLISECONDS);
                created.add(topic.name());
            } catch (ExecutionException e) {
                if (!(e.getCause() instanceof TopicExistsException)) {
                    throw new IllegalStateException("topic " + topic.name() + ": could not be created with "
                            + topic + ": " + e.getCause(), e.getCause());
                }
            } catch (TimeoutException e) {
                throw new IllegalStateException("topic " + topic.name() + ": broker did not confirm its creation within "
                        + timeoutMillis + " ms", e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("topic " + topic.name() + ": interrupted while creating it", e);
            }
        }
        return List.copyOf(created);
    }
}

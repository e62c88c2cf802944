package io.tunestream.trainer.it;

import static org.awaitility.Awaitility.await;

import io.tunestream.devkit.PlatformEndpoints;
import io.tunestream.schemas.TopicSpec;
import io.tunestream.schemas.Topics;
import io.tunestream.schemas.TopicsAdmin;
import io.tunestream.schemas.kafka.KafkaClientConfig;
import io.tunestream.schemas.registry.RegistryConfig;
import io.tunestream.schemas.registry.SchemaRegistration;
import io.tunestream.trainer.loop.TrainerTopics;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;

/**
 * A test case's own trainer topics on the shared platform (prefixed by the case's name and a random id, so cases
 * never see each other's records), their schemas registered, and the group id of its replicas.
 *
 * @param kafka  clients of the platform
 * @param topics the case's topics
 * @param group  the replicas' consumer group (and transactional-id prefix)
 */
record CaseTopics(KafkaClientConfig kafka, TrainerTopics topics, String group) {

    /** {@code examples} with {@code examplesPartitions} partitions (task ownership spreads over them), the others as catalogued. */
    static CaseTopics create(PlatformEndpoints platform, String name, int examplesPartitions) {
        String id = name + "-" + UUID.randomUUID().toString().substring(0, 8);
        KafkaClientConfig kafka = new KafkaClientConfig(platform.bootstrapServers(),
                RegistryConfig.forRegistry(platform.registryUrl()));
        TrainerTopics topics = new TrainerTopics(id + "-");
        try (Admin admin = Admin.create(kafka.adminProperties())) {
            TopicsAdmin catalogue = new TopicsAdmin(admin, TopicsAdmin.Layout.catalogue(), Duration.ofSeconds(30));
            NewTopic examples = catalogue.newTopic(Topics.EXAMPLES.withName(topics.examples()));
            admin.createTopics(List.of(new NewTopic(examples.name(), examplesPartitions, (short) 1)
                    .configs(examples.configs()))).all().get(30, TimeUnit.SECONDS);
            catalogue.ensure(topics.specs());
            // the replicas' preflight lists the topics: wait until the broker's metadata shows every one
            List<String> names = topics.specs().stream().map(TopicSpec::name).toList();
            await().atMost(Duration.ofSeconds(10)).until(() -> admin.listTopics().names().get().containsAll(names));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted creating the topics of " + id, e);
        } catch (Exception e) {
            throw new AssertionError("creating the topics of " + id, e);
        }
        new SchemaRegistration(kafka.registry()).registerAll(topics.specs());
        return new CaseTopics(kafka, topics, id);
    }
}

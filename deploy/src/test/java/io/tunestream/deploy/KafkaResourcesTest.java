package io.tunestream.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import io.strimzi.api.kafka.model.user.KafkaUser;
import io.strimzi.api.kafka.model.user.KafkaUserAuthorizationSimple;
import io.tunestream.schemas.AccessTable;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.resource.PatternType;
import org.apache.kafka.common.resource.ResourceType;
import org.junit.jupiter.api.Test;

/** The Kafka resources of k8s/base against the topic catalogue, AccessTable and the code's Kafka version. */
class KafkaResourcesTest {

    private final Bundle base = Bundle.of(ManifestFiles.k8s().resolve("base"));

    @Test
    void shouldHaveAKafkaTopicPerCatalogueEntryWithItsPartitionsAndConfigs() {
        assertThat(KafkaChecks.topics(base)).isEmpty();
    }

    @Test
    void shouldGiveEachPrincipalExactlyTheAclsOfItsAccessTableRole() {
        assertThat(KafkaChecks.users(base)).isEmpty();
    }

    @Test
    void shouldNoticeAnAclTheTableDoesNotHave() {
        KafkaUser keda = base.get(KafkaUser.class, "keda");
        var rules = ((KafkaUserAuthorizationSimple) keda.getSpec().getAuthorization()).getAcls();
        rules.get(0).setOperations(List.of(io.strimzi.api.kafka.model.user.acl.AclOperation.DESCRIBE,
                io.strimzi.api.kafka.model.user.acl.AclOperation.READ));

        assertThat(KafkaChecks.users(base)).containsExactly("KafkaUser/keda and AccessTable role KEDA differ: missing [],"
                + " not in the table [READ TOPIC *]");
    }

    @Test
    void shouldReadTheStrimziRulesAsTheTablesPermissions() {
        Set<KafkaChecks.Permission> serving = KafkaChecks.granted(base.get(KafkaUser.class, "serving"), new ArrayList<>());

        assertThat(serving).contains(
                new KafkaChecks.Permission(ResourceType.TOPIC, "requests", PatternType.LITERAL, AclOperation.READ),
                new KafkaChecks.Permission(ResourceType.TRANSACTIONAL_ID, "tunestream-serving", PatternType.PREFIXED, AclOperation.WRITE))
                .hasSize(KafkaChecks.expected(AccessTable.Role.SERVING).size());
    }

    @Test
    void shouldWriteWhatIsCommitted() throws Exception {
        // the generator's output is what k8s/base/kafka holds (run -Pwrite-k8s after changing Topics or AccessTable)
        assertThat(Files.readString(ManifestFiles.k8s().resolve("base/kafka/topics.yaml")))
                .isEqualTo(KafkaResources.topicsYaml());
        assertThat(Files.readString(ManifestFiles.k8s().resolve("base/kafka/users.yaml")))
                .isEqualTo(KafkaResources.usersYaml());
    }

    @Test
    void shouldGiveTheRegistryOnlyWhatKafkasqlUses() {
        assertThat(KafkaChecks.registryUser(base)).isEmpty();
    }

    @Test
    void shouldConnectTheRegistryToTheTlsListenerWithItsOwnUser() {
        assertThat(KafkaChecks.registryClient(base)).isEmpty();
    }

    @Test
    void shouldRunTheCodesKafkaVersionInKraftWithNoPlaintextListener() {
        assertThat(KafkaChecks.cluster(base)).isEmpty();
    }

    @Test
    void shouldConnectServingAndTheTrainerAsTheirOwnUsersOverTls() {
        assertThat(KafkaChecks.clients(base)).isEmpty();
    }

    @Test
    void shouldScaleServingOnTheRequestsLagUpToItsPartitions() {
        assertThat(KafkaChecks.autoscaling(base)).isEmpty();
    }
}

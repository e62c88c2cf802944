package io.tunestream.schemas;

import static org.assertj.core.api.Assertions.assertThat;

import io.tunestream.schemas.AccessTable.Names;
import io.tunestream.schemas.AccessTable.Role;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.resource.PatternType;
import org.apache.kafka.common.resource.ResourceType;
import org.junit.jupiter.api.Test;

class AccessTableTest {

    private static List<String> allowed(Role role, ResourceType type, AclOperation operation) {
        return AccessTable.bindings(role, "User:x", Names.defaults()).stream()
                .filter(b -> b.pattern().resourceType() == type && b.entry().operation() == operation)
                .map(b -> b.pattern().name() + (b.pattern().patternType() == PatternType.PREFIXED ? "*" : ""))
                .sorted().toList();
    }

    @Test
    void ingestShouldWriteItsFourTopicsAndReadAnswersAndTemplatesButNeverTouchAdapters() {
        assertThat(allowed(Role.INGEST, ResourceType.TOPIC, AclOperation.WRITE))
                .containsExactly("examples", "feedback", "requests", "task-templates");
        assertThat(allowed(Role.INGEST, ResourceType.TOPIC, AclOperation.READ))
                .containsExactly("answers", "task-templates");
        assertThat(allowed(Role.INGEST, ResourceType.TRANSACTIONAL_ID, AclOperation.WRITE))
                .containsExactly("tunestream-ingest*");
    }

    @Test
    void servingShouldReadItsInputsWriteAnswersAndDeadLettersAndOwnItsPrefixes() {
        assertThat(allowed(Role.SERVING, ResourceType.TOPIC, AclOperation.READ))
                .containsExactly("adapters", "requests", "task-templates");
        assertThat(allowed(Role.SERVING, ResourceType.TOPIC, AclOperation.WRITE))
                .containsExactly("answers", "requests-dlq");
        assertThat(allowed(Role.SERVING, ResourceType.TOPIC, AclOperation.DESCRIBE_CONFIGS)).containsExactly("answers");
        assertThat(allowed(Role.SERVING, ResourceType.TOPIC, AclOperation.ALL)).containsExactly("tunestream-serving-*");
        assertThat(allowed(Role.SERVING, ResourceType.GROUP, AclOperation.READ)).containsExactly("tunestream-serving*");
        assertThat(allowed(Role.SERVING, ResourceType.TRANSACTIONAL_ID, AclOperation.WRITE))
                .containsExactly("tunestream-serving*");
    }

    @Test
    void trainerShouldReadSevenTopicsAndWriteFiveWithItsDeadLetters() {
        assertThat(allowed(Role.TRAINER, ResourceType.TOPIC, AclOperation.READ)).containsExactly(
                "adapter-checkpoints", "adapter-history", "adapters", "examples", "feedback", "task-controls",
                "task-templates", "trainer-dlq", "training-runs");
        assertThat(allowed(Role.TRAINER, ResourceType.TOPIC, AclOperation.WRITE)).containsExactly(
                "adapter-checkpoints", "adapter-history", "adapters", "examples", "task-controls", "trainer-dlq",
                "training-runs");
        assertThat(allowed(Role.TRAINER, ResourceType.GROUP, AclOperation.READ)).containsExactly("tunestream-trainer*");
    }

    @Test
    void kedaShouldOnlyDescribe() {
        assertThat(AccessTable.bindings(Role.KEDA, "User:keda", Names.defaults())).extracting(b -> b.entry().operation())
                .containsOnly(AclOperation.DESCRIBE);
        assertThat(allowed(Role.KEDA, ResourceType.TOPIC, AclOperation.DESCRIBE)).containsExactly("*");
    }

    @Test
    void shouldPrefixTopicNamesAndKeepThePrincipal() {
        Names names = new Names("prod.", "app", "tr", "in");
        List<AclBinding> bindings = AccessTable.bindings(Role.INGEST, "User:ingest", names);
        assertThat(bindings).allMatch(b -> b.entry().principal().equals("User:ingest") && b.entry().host().equals("*"));
        assertThat(bindings).filteredOn(b -> b.pattern().resourceType() == ResourceType.TOPIC)
                .allMatch(b -> b.pattern().name().startsWith("prod."));
    }

    @Test
    void preflightOperationsShouldCoverOnlyTheGivenTopicsWithReadAndWrite() {
        Map<String, Set<AclOperation>> operations = AccessTable.topicOperations(Role.SERVING, Names.defaults(),
                List.of("requests", "answers", "examples"));
        assertThat(operations).isEqualTo(Map.of("requests", Set.of(AclOperation.READ),
                "answers", Set.of(AclOperation.WRITE)));
    }
}
